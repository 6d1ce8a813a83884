// Hostile weights files (issue 21): each is refused with a WeightsFormatError naming the problem, within
// the stated memory budget (process arrayBuffers grow by far less than what the file asks for) and time.
import { deflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { weightsBuilders } from '@fae/testing';
import {
  WeightsFormatError, defaultTorchLoadBudget, encodeSafetensors, encodeZip, loadTorchCheckpoint, parseSafetensors, readNpy, readNpz,
  writeNpz, type TorchTensor,
} from '@fae/core';

const { PickleWriter, OP, buildTorchCheckpoint, tensorSpec, torchZip } = weightsBuilders;
const MB = 2 ** 20;

/** Runs `fn`, expecting a WeightsFormatError matching `re`; returns the growth of ArrayBuffer memory and the time. */
async function refused(fn: () => unknown, re: RegExp): Promise<{ grewBytes: number; ms: number }> {
  const before = process.memoryUsage().arrayBuffers;
  const t0 = Date.now();
  let err: unknown = null;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  const grewBytes = process.memoryUsage().arrayBuffers - before;
  expect(err, 'should be refused').toBeInstanceOf(WeightsFormatError);
  expect((err as Error).message).toMatch(re);
  return { grewBytes, ms: Date.now() - t0 };
}

function rawSafetensors(headerText: string, data: Uint8Array, n = new TextEncoder().encode(headerText).length): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors: the tensors must tile the data section exactly (as the reference implementation)', () => {
  const good = encodeSafetensors({ a: { shape: [3], data: Float32Array.of(1, 2, 3) }, b: { dtype: 'BOOL', shape: [2], data: Uint8Array.of(1, 0) } }, { k: 'v' });
  const n = Number(new DataView(good.buffer).getBigUint64(0, true));

  it('a header length one byte short (or long) is refused, not read as shifted values', async () => {
    await refused(() => parseSafetensors(Uint8Array.from([...new Uint8Array(new BigUint64Array([BigInt(n - 1)]).buffer), ...good.subarray(8)])), /trailing bytes|not valid UTF-8 JSON/);
    await refused(() => parseSafetensors(Uint8Array.from([...new Uint8Array(new BigUint64Array([BigInt(n + 1)]).buffer), ...good.subarray(8)])), /data section|not valid UTF-8 JSON/);
  });
  it('bytes inserted before the data, trailing bytes, and a {} header followed by data are refused', async () => {
    await refused(() => parseSafetensors(Uint8Array.from([...good.subarray(0, 8 + n), 0, 0, 0, 0, ...good.subarray(8 + n)])), /4 trailing bytes/);
    await refused(() => parseSafetensors(Uint8Array.from([...good, 7])), /1 trailing bytes/);
    await refused(() => parseSafetensors(rawSafetensors('{}', new Uint8Array(16))), /cover 0 bytes but the data section holds 16/);
  });
  it('a gap between tensors is refused', async () => {
    await refused(() => parseSafetensors(rawSafetensors('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}}', new Uint8Array(5))), /'b' starts at 3 but 'a' ends at 2/);
    await refused(() => parseSafetensors(rawSafetensors('{"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', new Uint8Array(3))), /1-byte gap/);
  });
  it('__metadata__ values must be strings; deep nesting there is a typed error, not a RangeError', async () => {
    await refused(() => parseSafetensors(rawSafetensors('{"__metadata__":{"x":{"y":1}}}', new Uint8Array(0))), /__metadata__ 'x' is an object, not a string/);
    await refused(() => parseSafetensors(rawSafetensors('{"__metadata__":{"x":3}}', new Uint8Array(0))), /'x' is 3, not a string/);
    const deep = `{"__metadata__":{"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`;
    await refused(() => parseSafetensors(rawSafetensors(deep, new Uint8Array(0))), /__metadata__|not valid UTF-8 JSON/);
    const deepShape = `{"a":{"dtype":"U8","shape":${'['.repeat(200_000)}${']'.repeat(200_000)},"data_offsets":[0,0]}}`;
    await refused(() => parseSafetensors(rawSafetensors(deepShape, new Uint8Array(0))), /shape an array of 1|not valid UTF-8 JSON/);
  });
  it('leading whitespace before the JSON object is refused (the header must start with "{")', async () => {
    await refused(() => parseSafetensors(rawSafetensors(' {}', new Uint8Array(0))), /must start with/);
  });
});

describe('npy / npz', () => {
  it('an npy header with thousands of nested parentheses is a typed error', async () => {
    const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${'('.repeat(9000)}${')'.repeat(9000)}, }`;
    const header = new TextEncoder().encode(dict.padEnd(dict.length + ((64 - ((dict.length + 11) % 64)) % 64)) + '\n');
    const bytes = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, ...new Uint8Array(Uint32Array.of(header.length).buffer), ...header]);
    await refused(() => readNpy(bytes, 'deep.npy'), /nested more than 8 deep/);
  });
  const npz = writeNpz({ mu: { shape: [3], data: Float64Array.of(1, 2, 3) }, sigma: { shape: [1], data: Float32Array.of(4) } });
  const eocd = npz.length - 22;
  it('a central directory whose entry count is lowered (0 entries) is refused, not an empty result', async () => {
    const b = npz.slice();
    new DataView(b.buffer).setUint16(eocd + 8, 0, true);
    new DataView(b.buffer).setUint16(eocd + 10, 0, true);
    await refused(() => readNpz(b, 'x.npz'), /holds \d+ bytes but its 0 entries take 0/);
  });
  it('an entry renamed in the central directory only (mu.npy -> mu.np_) is refused', async () => {
    const b = npz.slice();
    const cd = new DataView(b.buffer).getUint32(eocd + 16, true);
    expect(new TextDecoder().decode(b.subarray(cd + 46, cd + 52))).toBe('mu.npy');
    b[cd + 51] = 0x5f;
    await refused(() => readNpz(b, 'x.npz'), /local header of 'mu\.np_' disagrees with the central directory \(its name is 'mu\.npy'\)/);
  });
  it('local header sizes or CRC that disagree with the directory are refused', async () => {
    const b = npz.slice();
    new DataView(b.buffer).setUint32(14, 0x12345678, true); // first local header's CRC
    await refused(() => readNpz(b, 'x.npz'), /disagrees with the central directory \(CRC-32/);
  });
});

describe('.pt memory amplification is refused before allocating (budget: 4 x file size + 64 MiB)', () => {
  const f32bytes = (n: number) => new Uint8Array(new Float32Array(n).fill(0.25).buffer);

  it('1,500 distinct views of one 1 MB storage: refused past the budget (was +1.47 GB)', async () => {
    const views = Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`v${i}`, tensorSpec('0', [250_000 - 1500], { offset: i })]));
    const file = buildTorchCheckpoint(views, { 0: { type: 'FloatStorage', bytes: f32bytes(250_000) } });
    const r = await refused(() => loadTorchCheckpoint(file), /past the load's \d+-byte budget/);
    expect(r.grewBytes).toBeLessThan(defaultTorchLoadBudget(file.length) + 8 * MB);
  });
  it('identical views of one storage share one array and count once (a legitimate tied-weights file loads)', async () => {
    const views = Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`v${i}`, tensorSpec('0', [250_000])]));
    const file = buildTorchCheckpoint(views, { 0: { type: 'FloatStorage', bytes: f32bytes(250_000) } });
    const ck = (await loadTorchCheckpoint(file)) as Record<string, TorchTensor>;
    expect(ck.v0.data).toBe(ck.v1499.data);
    expect(ck.v7.data.length).toBe(250_000);
    // and with an explicit budget smaller than one copy, even that is refused
    await refused(() => loadTorchCheckpoint(file, { maxBytes: 1.5 * MB }), /budget/);
  });
  it('a storage entry that would inflate to 1 GiB is refused before inflating (size checked against the pickle and the budget)', async () => {
    const noise = new Uint8Array(1.1 * MB);
    const rnd = weightsBuilders.seededRandom(3);
    for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(rnd() * 256); // incompressible
    const bomb = (declaredNumel: number) => {
      const pkl = weightsBuilders.pickleTorchValue({ w: tensorSpec('0', [declaredNumel]) }, { 0: { type: 'FloatStorage', bytes: new Uint8Array(0), numel: declaredNumel } });
      const zip = encodeZip([{ name: 'archive/data.pkl', data: pkl }, { name: 'archive/data/0', data: noise, deflate: true }]);
      // claim 1 GiB uncompressed in both headers (deflate can expand ~1032:1, so the claim is not absurd)
      const dv = new DataView(zip.buffer);
      const eocd = zip.length - 22;
      const cd = dv.getUint32(eocd + 16, true);
      const cd2 = cd + 46 + 'archive/data.pkl'.length;
      dv.setUint32(cd2 + 24, 2 ** 30, true);
      dv.setUint32(dv.getUint32(cd2 + 42, true) + 22, 2 ** 30, true);
      return zip;
    };
    let r = await refused(() => loadTorchCheckpoint(bomb(2 ** 28)), /storage '0' would take 1073741824 bytes, past the load's/);
    expect(r.grewBytes).toBeLessThan(64 * MB);
    r = await refused(() => loadTorchCheckpoint(bomb(1000)), /the zip entry holds 1073741824 bytes but the pickle declares 4000/);
    expect(r.grewBytes).toBeLessThan(64 * MB);
  });
  it('400 bytearray() copies of a 1 MB bytes object are refused (was +350 MB)', async () => {
    const w = new PickleWriter().proto(2).op(OP.BINBYTES).u32(MB).raw(new Uint8Array(MB)).op(OP.BINPUT, 0, OP.POP, OP.EMPTY_LIST, OP.MARK);
    for (let i = 0; i < 400; i++) w.global('builtins', 'bytearray').op(OP.BINGET, 0, OP.TUPLE1, OP.REDUCE);
    const file = torchZip(w.op(OP.APPENDS).stop().bytes(), {});
    const r = await refused(() => loadTorchCheckpoint(file), /bytearray would take 1048576 bytes, past the load's/);
    expect(r.grewBytes).toBeLessThan(defaultTorchLoadBudget(file.length) + 8 * MB);
  });
  it('OrderedDict(a 100k-entry dict) called 100 times is refused in well under a second (was 12 s)', async () => {
    const w = new PickleWriter().proto(2).op(OP.EMPTY_DICT, OP.MARK);
    for (let i = 0; i < 100_000; i++) w.int(i).op(OP.NONE);
    w.op(OP.SETITEMS, OP.BINPUT, 0, OP.POP, OP.EMPTY_LIST, OP.MARK);
    for (let i = 0; i < 100; i++) w.global('collections', 'OrderedDict').op(OP.BINGET, 0, OP.TUPLE1, OP.REDUCE);
    const r = await refused(() => loadTorchCheckpoint(torchZip(w.op(OP.APPENDS).stop().bytes(), {})), /OrderedDict copying 100000 items/);
    expect(r.ms).toBeLessThan(3000);
  });
  it('a 20,000-deep _rebuild_from_type_v2 chain is a WeightsFormatError, not a RangeError', async () => {
    const w = new PickleWriter().proto(2);
    w.global('torch._tensor', '_rebuild_from_type_v2').op(OP.BINPUT, 0);
    w.global('torch', 'Tensor').op(OP.BINPUT, 1, OP.POP);
    const depth = 20_000;
    for (let i = 0; i < depth; i++) w.op(OP.MARK, OP.BINGET, 0, OP.BINGET, 1);
    w.op(OP.EMPTY_TUPLE);
    for (let i = 0; i < depth; i++) w.op(OP.EMPTY_DICT, OP.TUPLE);
    w.op(OP.REDUCE).stop();
    await refused(() => loadTorchCheckpoint(torchZip(w.bytes(), {})), /rebuild calls nested more than 16 deep/);
  });
});
