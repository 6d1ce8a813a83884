// Malformed weights files: each case gives a WeightsFormatError (or subclass) naming the file and the
// problem, never a crash, a hang or an allocation larger than the file; plus a seeded fuzz test.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { weightsBuilders } from '@fae/testing';
import {
  WeightsFormatError, encodeSafetensors, encodeZip, loadTorchCheckpoint, openSafetensorsFile, openZip, parseSafetensors, readNpz,
  shapeSize, torchTensors, writeNpz, crc32,
} from '@fae/core';

const { PickleWriter, OP, buildTorchCheckpoint, tensorSpec, torchZip, seededRandom } = weightsBuilders;
const tmp = mkdtempSync(join(tmpdir(), 'fae-io-bad-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A safetensors file from a raw header (object or text) and data bytes. */
function rawSafetensors(header: unknown, data = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Asserts the same problem is reported from bytes and from a file, naming the file. */
async function expectBad(bytes: Uint8Array, problem: RegExp): Promise<void> {
  let err: unknown;
  try {
    parseSafetensors(bytes, 'mem.safetensors');
  } catch (e) {
    err = e;
  }
  expect(err, 'bytes').toBeInstanceOf(WeightsFormatError);
  expect((err as Error).message).toMatch(/^mem\.safetensors: /);
  expect((err as Error).message).toMatch(problem);
  const path = join(tmp, `bad-${Math.random().toString(36).slice(2)}.safetensors`);
  writeFileSync(path, bytes);
  const e2 = await openSafetensorsFile(path).catch((e) => e);
  expect(e2, 'file').toBeInstanceOf(WeightsFormatError);
  expect(e2.message).toContain(path);
  expect(e2.message).toMatch(problem);
}

const f32 = (n: number) => new Uint8Array(new Float32Array(n).fill(1).buffer);

describe('malformed safetensors', () => {
  it('truncated file (shorter than the 8-byte length)', () => expectBad(new Uint8Array(5), /too short/));
  it('truncated data section', async () => {
    const good = encodeSafetensors({ a: { shape: [4], data: new Float32Array(4) } });
    await expectBad(good.subarray(0, good.length - 3), /past the 13-byte data section/);
  });
  it('header length beyond the file', () => expectBad(rawSafetensors({}, new Uint8Array(0), 1000n), /header length 1000 runs past the end/));
  it('absurd header length (2^63) is refused before allocating', () => expectBad(rawSafetensors({}, new Uint8Array(0), 2n ** 63n), /exceeds the 100000000-byte limit/));
  it('bad JSON', () => expectBad(rawSafetensors('{"a": {"dtype": "F32",'), /not valid UTF-8 JSON/));
  it('invalid UTF-8 in the header', () => expectBad(rawSafetensors('{"\xff": 1}'.replace('\xff', '\uFFFF')).map((b, i) => (i === 10 ? 0xff : b)), /not valid UTF-8 JSON/));
  it('header that is not an object', () => expectBad(rawSafetensors([1, 2]), /not an object/));
  it('offsets out of bounds', () => expectBad(rawSafetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, f32(2)), /end 16 is past the 8-byte data section/));
  it('offsets reversed / negative / not integers', async () => {
    await expectBad(rawSafetensors({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, f32(1)), /data_offsets \[4,0\]/);
    await expectBad(rawSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, f32(1)), /data_offsets/);
    await expectBad(rawSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4.5] } }, f32(2)), /data_offsets/);
  });
  it('overlapping tensors', () => expectBad(rawSafetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)), /'a' and 'b' overlap/));
  it('dtype x shape not matching the byte count', () => expectBad(rawSafetensors({ a: { dtype: 'F64', shape: [2], data_offsets: [0, 8] } }, f32(2)), /F64\[2\] needs 16 bytes but data_offsets span 8/));
  it('unknown dtype', () => expectBad(rawSafetensors({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /unknown dtype "F8_E4M3"/));
  it('bad shape', () => expectBad(rawSafetensors({ a: { dtype: 'U8', shape: [-1], data_offsets: [0, 1] } }, new Uint8Array(1)), /shape \[-1\]/));
  it('huge shape with a small byte range', () => expectBad(rawSafetensors({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, f32(1)), /needs .* bytes/));
});

const torchFile = () => buildTorchCheckpoint({ w: tensorSpec('0', [2, 2]), n: 3 }, { 0: { type: 'FloatStorage', bytes: f32(4) } });

/** Rewrites the zip with data.pkl replaced (CRC recomputed) or a storage replaced. */
function torchWith(pickle: Uint8Array, storage = f32(4)): Uint8Array {
  return torchZip(pickle, { 0: { type: 'FloatStorage', bytes: storage } });
}

async function expectTorchBad(bytes: Uint8Array, problem: RegExp): Promise<void> {
  const err = await loadTorchCheckpoint(bytes).catch((e) => e);
  expect(err).toBeInstanceOf(WeightsFormatError);
  expect(err.message).toMatch(/^checkpoint bytes/);
  expect(err.message).toMatch(problem);
  const path = join(tmp, `bad-${Math.random().toString(36).slice(2)}.pt`);
  writeFileSync(path, bytes);
  const e2 = await loadTorchCheckpoint(path).catch((e) => e);
  expect(e2).toBeInstanceOf(WeightsFormatError);
  expect(e2.message).toContain(path);
}

describe('malformed zip and PyTorch checkpoints', () => {
  it('bad zip: not a zip at all', () => expectTorchBad(new TextEncoder().encode('hello, this is not a checkpoint at all......'), /bad zip/));
  it('bad zip: PK signature but no end-of-central-directory', () => expectTorchBad(torchFile().subarray(0, 200), /bad zip/));
  it('bad zip: central directory offset beyond the file', async () => {
    const b = torchFile().slice();
    new DataView(b.buffer).setUint32(b.length - 6, 0x7fffffff, true);
    await expectTorchBad(b, /central directory .* runs past the end/);
  });
  it('bad zip: CRC mismatch in a storage', async () => {
    const b = torchFile();
    const zip = await openZip(b);
    const at = zip.entries.get('archive/data/0')!.localOffset;
    const c = b.slice();
    // data starts after the (aligned) local header; flip a byte of the stored storage
    const start = at + 30 + (c[at + 26] | (c[at + 27] << 8)) + (c[at + 28] | (c[at + 29] << 8));
    c[start + 1] ^= 0xff;
    await expectTorchBad(c, /CRC-32 mismatch in entry 'archive\/data\/0'/);
  });
  it('bad zip: unsupported compression method, and a deflate size bomb claim', async () => {
    const b = encodeZip([{ name: 'a/data.pkl', data: new Uint8Array(100), deflate: true }]);
    const cd = b.length - 22 - (46 + 10);
    const m = b.slice();
    new DataView(m.buffer).setUint16(cd + 10, 12, true);
    await expect(openZip(m, 'm.zip')).rejects.toThrow(/m\.zip: .*compression method 12/);
    const bomb = b.slice();
    new DataView(bomb.buffer).setUint32(cd + 24, 0xfffffff0, true);
    await expect(openZip(bomb, 'bomb.zip')).rejects.toThrow(/claims 4294967280 bytes/);
  });
  it('bad zip: overlapping entries', async () => {
    const b = encodeZip([{ name: 'x', data: new Uint8Array(50) }, { name: 'y', data: new Uint8Array(50) }]);
    const cd2 = b.length - 22 - 47;
    const o = b.slice();
    new DataView(o.buffer).setUint32(cd2 + 42, 10, true);
    await expect(openZip(o, 'o.zip')).rejects.toThrow(/overlap/);
  });
  it('a truncated legacy (non-zip) torch.save file', () => expectTorchBad(Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46), /bad pickle: truncated/));
  it('zip without data.pkl', () => expectTorchBad(encodeZip([{ name: 'x/other.txt', data: new Uint8Array(3) }]), /no <archive>\/data\.pkl/));
  it('bad pickle opcode', async () => {
    const p = new PickleWriter().proto(2).op(OP.EMPTY_DICT, 0xff).stop().bytes();
    await expectTorchBad(torchWith(p), /bad pickle: unknown opcode 0xff \(opcode at byte 3\)/);
  });
  it('truncated pickle / string length past the end / LONG4 length past the end', async () => {
    await expectTorchBad(torchWith(new PickleWriter().proto(2).op(OP.EMPTY_DICT).bytes()), /no STOP/);
    await expectTorchBad(torchWith(new PickleWriter().proto(2).op(OP.BINUNICODE).u32(0xffffffff).raw([0x61]).bytes()), /truncated: needs 4294967295 more bytes/);
    await expectTorchBad(torchWith(new PickleWriter().proto(2).op(OP.LONG4).u32(0x7fffffff).bytes()), /truncated/);
    await expectTorchBad(torchWith(new PickleWriter().proto(4).op(OP.BINBYTES8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f).bytes()), /larger than the pickle/);
  });
  it('oversized integers are refused at once (big-integer parsing is superlinear)', async () => {
    const long4 = new PickleWriter().proto(2).op(OP.LONG4).u32(1 << 20).raw(new Uint8Array(1 << 20).fill(0x11)).stop().bytes();
    const t0 = Date.now();
    await expectTorchBad(torchWith(long4), /integer of 1048576 bytes/);
    const digits = new PickleWriter().proto(2).op(OP.INT).raw(new TextEncoder().encode(`${'9'.repeat(1 << 20)}\n`)).stop().bytes();
    await expectTorchBad(torchWith(digits), /bad integer literal/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
  it('a deeply nested argument is reported without recursing through it', async () => {
    const w = new PickleWriter().proto(2).global('torch._utils', '_rebuild_tensor_v2').op(OP.MARK);
    w.op(OP.MARK).str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(4).op(OP.TUPLE, OP.BINPERSID).int(0);
    for (let i = 0; i < 50_000; i++) w.op(OP.EMPTY_LIST);
    for (let i = 1; i < 50_000; i++) w.op(OP.APPEND);
    w.op(OP.EMPTY_TUPLE, OP.NEWFALSE, OP.NONE, OP.TUPLE, OP.REDUCE).stop();
    await expectTorchBad(torchWith(w.bytes()), /tensor size \(\(\(\(…\)/);
  });
  it('stack underflow, missing MARK, undefined memo, APPEND to a tuple', async () => {
    await expectTorchBad(torchWith(new PickleWriter().proto(2).op(OP.REDUCE).stop().bytes()), /stack underflow/);
    await expectTorchBad(torchWith(new PickleWriter().proto(2).op(OP.TUPLE).stop().bytes()), /MARK missing/);
    await expectTorchBad(torchWith(new PickleWriter().proto(2).op(OP.BINGET, 7).stop().bytes()), /memo key 7/);
    await expectTorchBad(torchWith(new PickleWriter().proto(2).op(OP.EMPTY_TUPLE, OP.NONE, OP.APPEND).stop().bytes()), /not a list/);
  });
  it('storage missing, storage smaller than declared, view outside its storage', async () => {
    const file = buildTorchCheckpoint({ w: tensorSpec('0', [2, 2]) }, { 0: { type: 'FloatStorage', bytes: f32(4) } });
    const p = (await (await openZip(file)).read('archive/data.pkl')).slice();
    await expectTorchBad(torchZip(p, {}), /storage '0' is missing/);
    await expectTorchBad(torchZip(p, { 0: { type: 'FloatStorage', bytes: f32(3) } }), /the zip entry holds 12 bytes but the pickle declares 16/);
    const off = buildTorchCheckpoint({ w: tensorSpec('0', [2, 2], { offset: 1 }) }, { 0: { type: 'FloatStorage', bytes: f32(4) } });
    await expectTorchBad(off, /reaches element 4 of a 4-element storage/);
  });
  it('unsupported storage types are named', async () => {
    const file = buildTorchCheckpoint({ w: tensorSpec('0', [1]) }, { 0: { type: 'ComplexFloatStorage', bytes: new Uint8Array(8), numel: 1 } });
    await expectTorchBad(file, /storage type torch\.ComplexFloatStorage is allowlisted by torch but not supported/);
  });
  it('absurdly deep nesting is a typed error, not a stack overflow', async () => {
    const w = new PickleWriter().proto(2);
    const depth = 100_000;
    for (let i = 0; i < depth; i++) w.op(OP.EMPTY_LIST);
    for (let i = 1; i < depth; i++) w.op(OP.APPEND);
    const ck = await loadTorchCheckpoint(torchWith(w.stop().bytes()));
    expect(() => torchTensors(ck)).toThrow(WeightsFormatError);
  });
});

/** Fuzzing: mutations of valid files give only typed errors or well-formed results. */
describe('fuzz (seeded): mutated safetensors, zip/.pt, pickle and npz files', () => {
  const rnd = seededRandom(20250101);
  const ri = (n: number) => Math.floor(rnd() * n);

  function mutate(src: Uint8Array): Uint8Array {
    const kind = ri(5);
    if (kind === 0) return src.subarray(0, ri(src.length)); // truncate
    const b = src.slice();
    if (kind === 1) { for (let k = 1 + ri(4); k > 0; k--) b[ri(b.length)] ^= 1 << ri(8); return b; } // bit flips
    if (kind === 2) { for (let k = 1 + ri(4); k > 0; k--) b[ri(b.length)] = ri(256); return b; } // byte replacements
    if (kind === 3) { const at = ri(b.length - 4); new DataView(b.buffer).setUint32(at, [0xffffffff, 0x7fffffff, 0x80000000, ri(2 ** 32)][ri(4)], true); return b; } // big length fields
    const at = ri(b.length); // insert or delete a run of bytes
    return ri(2) ? Uint8Array.from([...b.subarray(0, at), ...Array.from({ length: 1 + ri(8) }, () => ri(256)), ...b.subarray(at)]) : Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1 + ri(8))]);
  }

  async function check(name: string, run: () => Promise<void>, stats: Record<string, number>): Promise<void> {
    try {
      await run();
      stats.ok++;
    } catch (e) {
      if (!(e instanceof WeightsFormatError)) throw new Error(`${name}: untyped ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`, { cause: e });
      stats.typed++;
    }
  }

  const sf = encodeSafetensors({
    'a.weight': { shape: [3, 4], data: new Float32Array(12).fill(0.5) }, 'a.bias': { dtype: 'F16', shape: [4], data: new Float32Array(4) },
    ids: { shape: [2], data: BigInt64Array.of(1n, 2n) }, m: { dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) },
  }, { format: 'pt' });
  const pt = buildTorchCheckpoint(
    { model: { w: tensorSpec('0', [3, 2], { stride: [1, 3] }), b: tensorSpec('1', [2]), l: [tensorSpec('0', [2], { offset: 4 })] }, step: 10, lr: 0.5, name: 'x' },
    { 0: { type: 'FloatStorage', bytes: f32(6) }, 1: { type: 'HalfStorage', bytes: new Uint8Array(4) } },
  );
  const npz = writeNpz({ mu: { shape: [3], data: Float64Array.of(1, 2, 3) }, sigma: { shape: [2, 2], data: new Float32Array(4) } }, { compress: true });

  it('300+ mutations per format: only WeightsFormatError or well-formed results, in bounded time', async () => {
    const t0 = Date.now();
    const stats = { ok: 0, typed: 0 };
    for (let i = 0; i < 320; i++) {
      const bad = mutate(sf);
      await check(`safetensors #${i}`, async () => {
        const st = parseSafetensors(bad, 'fuzz.safetensors');
        for (const k of st.keys()) expect((await st.read(k)).length).toBe(shapeSize(st.info(k)!.shape));
      }, stats);
    }
    for (let i = 0; i < 320; i++) {
      const bad = mutate(pt);
      const verifyCrc = i % 2 === 0; // without CRC checks, mutated pickles and storages reach the VM
      await check(`pt #${i}`, async () => {
        const ck = await loadTorchCheckpoint(bad, { verifyCrc });
        for (const [, t] of torchTensors(ck)) expect(t.data.length).toBe(shapeSize(t.shape));
      }, stats);
    }
    const pkl = await (await openZip(pt)).read('archive/data.pkl');
    for (let i = 0; i < 320; i++) {
      const bad = torchWith(mutate(pkl), f32(6));
      await check(`pickle #${i}`, async () => {
        const ck = await loadTorchCheckpoint(bad);
        for (const [, t] of torchTensors(ck)) expect(t.data.length).toBe(shapeSize(t.shape));
      }, stats);
    }
    for (let i = 0; i < 320; i++) {
      const bad = mutate(npz);
      await check(`npz #${i}`, async () => {
        for (const [, a] of await readNpz(bad, 'fuzz.npz')) expect(a.data.length).toBe(shapeSize(a.shape));
      }, stats);
    }
    expect(stats.ok + stats.typed).toBe(1280);
    expect(stats.typed).toBeGreaterThan(300); // most mutations are caught
    expect(Date.now() - t0).toBeLessThan(60_000);
    void crc32;
  });
});
