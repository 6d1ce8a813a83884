import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, requireNumpy, weightsBuilders } from '@fae/testing';
import {
  BytesSource, HubError, Linear, WeightsFormatError, bf16ToFloat, encodeSafetensors, floatToBf16, floatToHalf, halfToFloat,
  openSafetensors, openSafetensorsFile, openSafetensorsUrl, openShardedSafetensors, parseSafetensors, writeFileAtomic,
  writeSafetensorsFile, type ByteSource, type TensorToWrite,
} from '@fae/core';

const tmp = mkdtempSync(join(tmpdir(), 'fae-io-st-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** One tensor of every dtype, with values that exercise each conversion. */
function allDtypes(): Record<string, TensorToWrite> {
  return {
    f64: { dtype: 'F64', shape: [2, 2], data: Float64Array.of(1 / 3, -1e300, 5e-324, Math.PI) },
    f32: { dtype: 'F32', shape: [3], data: Float32Array.of(1.5, -0, 3.4e38) },
    f16: { dtype: 'F16', shape: [4], data: Float32Array.of(1 / 3, 65504, 6e-8, -2.5) },
    bf16: { dtype: 'BF16', shape: [2, 1], data: Float32Array.of(1 / 3, -1e30) },
    i64: { dtype: 'I64', shape: [3], data: BigInt64Array.of(-(2n ** 62n), 2n ** 53n + 1n, -1n) },
    i32: { dtype: 'I32', shape: [2], data: Int32Array.of(-(2 ** 31), 2 ** 31 - 1) },
    i16: { dtype: 'I16', shape: [2], data: Int16Array.of(-32768, 32767) },
    i8: { dtype: 'I8', shape: [2], data: Int8Array.of(-128, 127) },
    u8: { dtype: 'U8', shape: [2], data: Uint8Array.of(0, 255) },
    bool: { dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) },
    empty: { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
    scalar: { dtype: 'F32', shape: [], data: Float32Array.of(7) },
  };
}

/** What reading each tensor back must give: the value rounded to its dtype. */
function expectedValues(name: string, t: TensorToWrite): ArrayLike<number | bigint> {
  if (t.dtype === 'F16') return Array.from(t.data as Float32Array, (v) => halfToFloat(floatToHalf(v)));
  if (t.dtype === 'BF16') return Array.from(t.data as Float32Array, (v) => bf16ToFloat(floatToBf16(v)));
  if (t.dtype === 'F32') return Float32Array.from(t.data as Float32Array);
  void name;
  return t.data;
}

/** Counts the bytes read through a ByteSource. */
function counting(src: ByteSource): ByteSource & { readBytes: number } {
  const c = {
    name: src.name, size: src.size, readBytes: 0,
    async read(o: number, n: number) {
      c.readBytes += n;
      return src.read(o, n);
    },
    close: () => src.close?.(),
  };
  return c;
}

describe('safetensors: bytes', () => {
  it('writes the reference layout: sorted keys, padded header, little-endian data', () => {
    const bytes = encodeSafetensors({ b: { shape: [2], data: Float32Array.of(1, 2) }, a: { dtype: 'I8', shape: [1], data: Int8Array.of(-1) } }, { format: 'pt' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const json = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(json.trimEnd()).toBe('{"__metadata__":{"format":"pt"},"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}}');
    expect(Array.from(bytes.subarray(8 + n))).toEqual([0xff, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]);
  });

  it('round-trips every dtype (F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL), empty and scalar tensors', async () => {
    const src = allDtypes();
    const st = parseSafetensors(encodeSafetensors(src, { note: 'x' }));
    expect(st.metadata).toEqual({ note: 'x' });
    expect(st.keys().sort()).toEqual(Object.keys(src).sort());
    for (const [k, t] of Object.entries(src)) {
      expect(st.info(k)).toEqual({ dtype: t.dtype, shape: t.shape });
      const got = await st.read(k);
      expect(Array.from(got as ArrayLike<number>), k).toEqual(Array.from(expectedValues(k, t) as ArrayLike<number>));
    }
    expect((await st.read('f16'))[2]).toBeCloseTo(5.96e-8, 9); // subnormal half
    expect((await st.read('i64'))[1]).toBe(2n ** 53n + 1n);
  });

  it('rejects a tensor whose data does not fill its shape, and non-string metadata', () => {
    expect(() => encodeSafetensors({ x: { shape: [3], data: new Float32Array(2) } })).toThrow(WeightsFormatError);
    expect(() => encodeSafetensors({ x: { shape: [1], data: new Float32Array(1) } }, { n: 1 as unknown as string })).toThrow(/string/);
  });
});

describe('safetensors: files (Node)', () => {
  it('writes atomically and reads the header first, then only the tensors asked for', async () => {
    const path = join(tmp, 'model.safetensors');
    const big = new Float32Array(1 << 16).map((_, i) => i * 0.5);
    const written = await writeSafetensorsFile(path, { big: { shape: [256, 256], data: big }, ...allDtypes() }, { format: 'pt' });
    expect(written).toBe(readFileSync(path).length);
    expect(readdirSync(tmp).filter((n) => n.endsWith('.tmp'))).toEqual([]);

    const store = await openSafetensorsFile(path);
    expect(store.info('big')).toEqual({ dtype: 'F32', shape: [256, 256] });
    expect(Array.from((await store.read('i32')) as ArrayLike<unknown>)).toEqual([-(2 ** 31), 2 ** 31 - 1]);
    expect((await store.read('big'))[1001]).toBe(500.5);
    await store.close();
    await store.close(); // idempotent

    const src = counting(await (await import('@fae/core')).openFileSource(path));
    const lazy = await openSafetensors(src);
    const headerBytes = src.readBytes;
    expect(headerBytes).toBeLessThan(2048);
    await lazy.read('u8');
    expect(src.readBytes).toBe(headerBytes + 2);
    await lazy.close();
  });

  it('an atomic write that fails leaves the old file and no temp file behind', async () => {
    const path = join(tmp, 'keep.bin');
    writeFileSync(path, 'old');
    async function* chunks() {
      yield new Uint8Array([1, 2, 3]);
      throw new Error('disk full');
    }
    await expect(writeFileAtomic(path, chunks())).rejects.toThrow(/disk full/);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(tmp).filter((n) => n.startsWith('keep.bin.'))).toEqual([]);
  });

  it('a missing file is a WeightsFormatError naming the path', async () => {
    const p = join(tmp, 'nope.safetensors');
    await expect(openSafetensorsFile(p)).rejects.toThrow(WeightsFormatError);
    await expect(openSafetensorsFile(p)).rejects.toThrow(p);
  });

  it('PyTorch-side readers accept what we write (Python + NumPy reimplementation of the reference checks)', async (ctx) => {
    requireNumpy(ctx, 'the Python-side reader check');
    const path = join(tmp, 'py.safetensors');
    const src = allDtypes();
    delete (src as Record<string, unknown>).bf16; // NumPy has no bfloat16
    await writeSafetensorsFile(path, src);
    // The checks of safetensors' Rust `validate`: offsets contiguous from 0 to the end of the buffer, sizes match.
    const script = `
import json, struct, sys, numpy as np
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n]); data = b[8 + n:]
h.pop('__metadata__', None)
end = 0
dt = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2', 'I8': 'i1', 'U8': 'u1', 'BOOL': '?'}
out = {}
for k, v in sorted(h.items(), key=lambda kv: kv[1]['data_offsets'][0]):
    s, e = v['data_offsets']; assert s == end, (k, s, end); end = e
    a = np.frombuffer(data[s:e], dtype=dt[v['dtype']]).reshape(v['shape'])
    out[k] = [str(x) for x in a.reshape(-1).tolist()]
assert end == len(data)
print(json.dumps(out))`;
    const r = spawnSync('python3', ['-c', script, path], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as Record<string, string[]>;
    expect(got.i64).toEqual([String(-(2n ** 62n)), String(2n ** 53n + 1n), '-1']);
    expect(got.bool).toEqual(['True', 'False', 'True']);
    expect(got.f16.map(Number)).toEqual(Array.from(expectedValues('f16', src.f16) as number[]));
    expect(got.f64.map(Number)).toEqual(Array.from(src.f64.data as Float64Array));
    expect(got.empty).toEqual([]);
  });
});

describe('safetensors over HTTP Range requests', () => {
  const file = encodeSafetensors({ a: { shape: [1000], data: new Float32Array(1000).fill(2) }, b: { dtype: 'I16', shape: [3], data: Int16Array.of(1, -2, 3) } });

  it('fetches the header first, then one range per tensor', async () => {
    const server = await weightsBuilders.startRangeServer(new Map([['m.safetensors', file]]));
    try {
      const st = await openSafetensorsUrl(`${server.url}m.safetensors`, { prefetch: 64 });
      expect(st.keys().sort()).toEqual(['a', 'b']);
      expect(Array.from((await st.read('b')) as ArrayLike<unknown>)).toEqual([1, -2, 3]);
      expect((await st.read('a'))[999]).toBe(2);
      expect(server.requests.every((r) => r.range)).toBe(true);
      expect(server.bytesSent()).toBeLessThanOrEqual(64 + file.length - 8); // never the whole file at once
      expect(server.requests.length).toBeGreaterThanOrEqual(3);
    } finally {
      await server.close();
    }
  });

  it('works with a server that ignores Range, and gives HubError for HTTP errors', async () => {
    const server = await weightsBuilders.startRangeServer(new Map([['m.safetensors', file]]), { ignoreRange: true });
    try {
      const st = await openSafetensorsUrl(`${server.url}m.safetensors`);
      expect(Array.from((await st.read('b')) as ArrayLike<unknown>)).toEqual([1, -2, 3]);
      const err = await openSafetensorsUrl(`${server.url}missing.safetensors`).catch((e) => e);
      expect(err).toBeInstanceOf(HubError);
      expect(String(err.message)).toMatch(/404/);
    } finally {
      await server.close();
    }
  });

  it('a truncated remote file is a WeightsFormatError', async () => {
    const server = await weightsBuilders.startRangeServer(new Map([['t.safetensors', file.subarray(0, file.length - 10)]]));
    try {
      await expect(openSafetensorsUrl(`${server.url}t.safetensors`)).rejects.toThrow(WeightsFormatError);
    } finally {
      await server.close();
    }
  });
});

describe('sharded safetensors', () => {
  const shard1 = encodeSafetensors({ 'layer.0.weight': { shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) } });
  const shard2 = encodeSafetensors({ 'layer.1.weight': { shape: [2], data: Float32Array.of(5, 6) }, 'layer.1.bias': { shape: [1], data: Float32Array.of(7) } });
  const index = (map: Record<string, string>) => new TextEncoder().encode(JSON.stringify({ metadata: { total_size: 28 }, weight_map: map }));
  const good = { 'layer.0.weight': 'model-00001-of-00002.safetensors', 'layer.1.weight': 'model-00002-of-00002.safetensors', 'layer.1.bias': 'model-00002-of-00002.safetensors' };

  it('presents one store over all shards (local files and URLs)', async () => {
    const dir = mkdtempSync(join(tmp, 'sharded-'));
    writeFileSync(join(dir, 'model-00001-of-00002.safetensors'), shard1);
    writeFileSync(join(dir, 'model-00002-of-00002.safetensors'), shard2);
    writeFileSync(join(dir, 'model.safetensors.index.json'), index(good));
    const local = await openShardedSafetensors(join(dir, 'model.safetensors.index.json'));
    expect(local.keys().sort()).toEqual(Object.keys(good).sort());
    expect(Array.from((await local.read('layer.1.bias')) as ArrayLike<unknown>)).toEqual([7]);
    expect(local.info('layer.0.weight')).toEqual({ dtype: 'F32', shape: [2, 2] });
    await local.close();

    const server = await weightsBuilders.startRangeServer(new Map([
      ['repo/model-00001-of-00002.safetensors', shard1], ['repo/model-00002-of-00002.safetensors', shard2], ['repo/model.safetensors.index.json', index(good)],
    ]));
    try {
      const remote = await openShardedSafetensors(`${server.url}repo/model.safetensors.index.json`);
      expect(Array.from((await remote.read('layer.0.weight')) as ArrayLike<unknown>)).toEqual([1, 2, 3, 4]);
    } finally {
      await server.close();
    }
  });

  it('refuses a weight_map that points outside the folder or at the wrong shard', async () => {
    const dir = mkdtempSync(join(tmp, 'sharded-bad-'));
    writeFileSync(join(dir, 'a.safetensors'), shard1);
    writeFileSync(join(dir, 'evil.json'), index({ 'layer.0.weight': '../a.safetensors' }));
    await expect(openShardedSafetensors(join(dir, 'evil.json'))).rejects.toThrow(/relative shard/);
    writeFileSync(join(dir, 'wrong.json'), index({ 'layer.1.bias': 'a.safetensors' }));
    await expect(openShardedSafetensors(join(dir, 'wrong.json'))).rejects.toThrow(/no such tensor/);
    writeFileSync(join(dir, 'nomap.json'), '{"metadata": {}}');
    await expect(openShardedSafetensors(join(dir, 'nomap.json'))).rejects.toThrow(/weight_map/);
  });
});

describeBackends('safetensors file -> Module.loadStateDict', () => {
  it('loads a Linear from a file opened lazily, matching a float64 reference', async () => {
    const w = ref64.randomNd([3, 4], 21);
    const b = ref64.randomNd([3], 22);
    const path = join(tmp, `linear-${tf.getBackend()}.safetensors`);
    await writeSafetensorsFile(path, { 'fc.weight': { shape: [3, 4], data: Float32Array.from(w.data) }, 'fc.bias': { dtype: 'F16', shape: [3], data: Float32Array.from(b.data) } });
    const store = await openSafetensorsFile(path);
    const lin = new Linear(4, 3);
    await lin.loadStateDict(store, { prefix: 'fc.' });
    await store.close();
    const x = ref64.randomNd([2, 4], 23);
    const xt = ref64.toTensor(x);
    const y = await expectNoLeaks(() => lin.forward(xt));
    const bHalf = ref64.nd([3], Array.from(b.data, (v) => halfToFloat(floatToHalf(v))));
    await expectClose(y, ref64.linearTorch(x, w, bHalf).data, 1e-5);
    tf.dispose([xt, y]);
    lin.dispose();
  });

  it('BytesSource reads are bounds-checked', async () => {
    const s = new BytesSource(new Uint8Array(4), 'four');
    await expect(s.read(2, 3)).rejects.toThrow(/four/);
  });
});
