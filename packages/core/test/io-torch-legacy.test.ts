// Legacy torch.save containers (before torch 1.6): the stream format (torch 0.4 - 1.5, also what
// `_use_new_zipfile_serialization=False` writes today, e.g. torch-fidelity's published Inception weights)
// and the tar format (torch <= 0.3). Files are written by the builders in @fae/testing from the layout
// of torch/serialization.py; the same value in the zip format must load identically.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { weightsBuilders } from '@fae/testing';
import { TorchTensor, UnsafePickleError, WeightsFormatError, floatToHalf, loadTorchCheckpoint, readTarMembers, torchTensors } from '@fae/core';

const { buildTorchCheckpoint, buildLegacyTorchCheckpoint, buildLegacyTarCheckpoint, encodeTar, tensorSpec, tupleSpec, PickleWriter, OP } = weightsBuilders;

const le = (a: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array) => new Uint8Array(a.buffer.slice(0));
const base = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
const storages = {
  w: { type: 'FloatStorage', bytes: le(base) },
  h: { type: 'HalfStorage', bytes: le(Uint16Array.from([0.5, -2, 7], floatToHalf)) },
  l: { type: 'LongStorage', bytes: le(BigInt64Array.of(-3n, 2n ** 40n)) },
  b: { type: 'ByteStorage', bytes: Uint8Array.of(9, 250) },
};
const value = {
  state_dict: {
    'conv.weight': tensorSpec('w', [2, 3, 2, 2]),
    'fc.weight': tensorSpec('w', [4, 6], { stride: [1, 4] }), // a transposed view of the same storage
    'fc.bias': tensorSpec('w', [3], { offset: 5, stride: [2] }),
    half: tensorSpec('h', [3]),
    steps: tensorSpec('l', [2]),
    bytes: tensorSpec('b', [2]),
  },
  epoch: 12,
  name: 'inception',
  lr: tupleSpec(0.1, 0.01),
};

function plain(ck: unknown): Record<string, { dtype: string; shape: number[]; data: number[] }> {
  const out: Record<string, { dtype: string; shape: number[]; data: number[] }> = {};
  for (const [k, t] of torchTensors(ck)) out[k] = { dtype: t.dtype, shape: t.shape, data: Array.from(t.data as ArrayLike<number | bigint>, Number) };
  return out;
}

describe('legacy torch.save formats load like the zip format', () => {
  const zip = buildTorchCheckpoint(value, storages);

  it('stream format (magic, protocol 1001, sys info, object, storage keys, raw storages): same tensors and values as zip', async () => {
    const legacy = buildLegacyTorchCheckpoint(value, storages);
    expect(legacy[0]).toBe(0x80); // a pickle, not 'PK'
    const a = (await loadTorchCheckpoint(zip)) as Record<string, any>;
    const b = (await loadTorchCheckpoint(legacy)) as Record<string, any>;
    expect(plain(b)).toEqual(plain(a));
    expect(b.epoch).toBe(12);
    expect(b.name).toBe('inception');
    expect(b.lr).toEqual([0.1, 0.01]);
    expect(b.state_dict['fc.weight'].data[1]).toBe(base[4]); // transposed view: [0][1] = storage[4]
    expect(Array.from(b.state_dict.half.data)).toEqual([0.5, -2, 7]);
    expect(b.state_dict.steps.data[1]).toBe(2n ** 40n);
  });

  it('tar format (sys_info, pickle, storages, tensors members): same tensors and values as zip', async () => {
    const legacy = buildLegacyTarCheckpoint(value, storages);
    expect(String.fromCharCode(...legacy.subarray(257, 262))).toBe('ustar');
    expect([...readTarMembers(legacy, 't').keys()]).toEqual(['sys_info', 'pickle', 'storages', 'tensors']);
    const b = (await loadTorchCheckpoint(legacy)) as Record<string, any>;
    expect(plain(b)).toEqual(plain(await loadTorchCheckpoint(zip)));
    expect(b.state_dict['conv.weight']).toBeInstanceOf(TorchTensor);
    expect(b.epoch).toBe(12);
  });

  it('legacy storage views (view metadata / storage_views) materialise at their offset, in both formats', async () => {
    const st = {
      root: { type: 'FloatStorage', bytes: le(base) },
      v: { type: 'FloatStorage', bytes: new Uint8Array(0), numel: 6, viewOf: { root: 'root', offset: 10 } },
    };
    const val = { a: tensorSpec('v', [2, 3]), b: tensorSpec('v', [2], { offset: 4 }), whole: tensorSpec('root', [24]) };
    for (const file of [buildLegacyTorchCheckpoint(val, st), buildLegacyTarCheckpoint(val, st)]) {
      const ck = (await loadTorchCheckpoint(file)) as Record<string, TorchTensor>;
      expect(Array.from(ck.a.data as Float32Array)).toEqual(Array.from(base.subarray(10, 16)));
      expect(Array.from(ck.b.data as Float32Array)).toEqual(Array.from(base.subarray(14, 16)));
      expect(ck.whole.data.length).toBe(24);
    }
  });

  it('loads from a path too (the container is detected from the first bytes)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fae-legacy-'));
    for (const [n, f] of [['stream.pth', buildLegacyTorchCheckpoint(value, storages)], ['tar.pth', buildLegacyTarCheckpoint(value, storages)]] as const) {
      writeFileSync(join(dir, n), f);
      expect(plain(await loadTorchCheckpoint(join(dir, n)))).toEqual(plain(await loadTorchCheckpoint(zip)));
    }
  });
});

describe('legacy files written by CPython (tools/testing/py/legacy_torch_save.py: pickle + tarfile, torch layout)', () => {
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'tools', 'testing', 'py', 'legacy_torch_save.py');
  const hasPython = spawnSync('python3', ['--version']).status === 0;
  it('the stream and tar files load with the values the script expects', async (ctx) => {
    if (!hasPython) {
      if (process.env.CI === 'true') throw new Error('python3 is required under CI for the legacy torch.save cross-check');
      ctx.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'fae-pylegacy-'));
    const r = spawnSync('python3', [script, dir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
    for (const file of ['stream.pt', 'tar.pt']) {
      const ck = (await loadTorchCheckpoint(join(dir, file))) as Record<string, any>;
      const got = plain(ck);
      expect(Object.keys(got).sort(), file).toEqual(Object.keys(expected.tensors).sort());
      for (const [k, t] of Object.entries(expected.tensors as Record<string, { shape: number[]; data: number[] }>)) {
        expect(got[k].shape, `${file} ${k}`).toEqual(t.shape);
        expect(got[k].data, `${file} ${k}`).toEqual(t.data);
      }
      expect(ck.epoch).toBe(7);
      expect(ck.name).toBe('inception');
    }
  });
});

describe('legacy torch.save: corrupt and hostile files are typed errors', () => {
  const stream = buildLegacyTorchCheckpoint(value, storages);
  const tar = buildLegacyTarCheckpoint(value, storages);
  const bad = async (bytes: Uint8Array, re: RegExp) => {
    const err = await loadTorchCheckpoint(bytes).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(WeightsFormatError);
    expect((err as Error).message).toMatch(re);
  };

  it('stream: wrong magic, wrong protocol version, truncated storages, trailing bytes, a storage count that disagrees', async () => {
    const wrongMagic = stream.slice();
    wrongMagic[5] ^= 1;
    await bad(wrongMagic, /invalid magic number/);
    const w = new PickleWriter().proto(2).int(0x1950a86a20f9469cfc6cn).stop().bytes();
    const v = new PickleWriter().proto(2).int(1000).stop().bytes();
    await bad(Uint8Array.from([...w, ...v, ...stream.subarray(w.length + v.length)]), /protocol version 1000/);
    await bad(stream.subarray(0, stream.length - 3), /truncated|needs/);
    await bad(Uint8Array.from([...stream, 0]), /1 bytes follow the last storage/);
    // the int64 element count before the first storage's bytes
    const counted = stream.slice();
    const at = stream.length - (2 + 8) - (16 + 8) - (6 + 8) - (96 + 8);
    expect(new DataView(counted.buffer).getBigInt64(at, true)).toBe(24n);
    new DataView(counted.buffer).setBigInt64(at, 2n ** 40n, true);
    await bad(counted, /holds 1099511627776 elements but the object declares 24/);
  });

  it('tar: checksum mismatch, missing member, bytes after the records, a tensor on a missing storage', async () => {
    const flipped = tar.slice();
    flipped[3] ^= 1; // inside the first header's name
    await bad(flipped, /checksum mismatch/);
    const members = readTarMembers(tar, 't');
    const part = (n: string) => tar.subarray(members.get(n)!.offset, members.get(n)!.offset + members.get(n)!.size);
    await bad(encodeTar([{ name: 'sys_info', data: part('sys_info') }, { name: 'pickle', data: part('pickle') }, { name: 'storages', data: part('storages') }]), /no 'tensors' member/);
    await bad(encodeTar([{ name: 'pickle', data: part('pickle') }, { name: 'storages', data: part('storages') }, { name: 'tensors', data: Uint8Array.from([...part('tensors'), 1, 2]) }]), /2 bytes follow the last tensor/);
    await bad(encodeTar([{ name: 'pickle', data: part('pickle') }, { name: 'storages', data: new PickleWriter().proto(2).int(0).stop().op(OP.PROTO, 2, OP.EMPTY_LIST, OP.STOP).bytes() }, { name: 'tensors', data: part('tensors') }]), /refers to storage '\d+', which the file does not hold/);
  });

  it('a module container or a non-allowlisted global is refused, never run', async () => {
    const w = new PickleWriter().proto(2);
    w.global('torch.nn.modules.linear', 'Linear').op(OP.EMPTY_TUPLE, OP.NEWOBJ).stop();
    const magic = new PickleWriter().proto(2).int(0x1950a86a20f9469cfc6cn).stop().bytes();
    const rest = [new PickleWriter().proto(2).int(1001).stop().bytes(), new PickleWriter().proto(2).op(OP.EMPTY_DICT).stop().bytes(), w.bytes()];
    const err = await loadTorchCheckpoint(Uint8Array.from([...magic, ...rest.flatMap((b) => [...b])])).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(UnsafePickleError);
  });
});
