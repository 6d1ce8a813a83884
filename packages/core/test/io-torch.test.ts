import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, describeFixture, expectClose, expectNoLeaks, ref64, weightsBuilders } from '@fae/testing';
import {
  Linear, LayerNorm, Module, TorchTensor, UnsafePickleError, WeightsFormatError, bf16ToFloat, floatToBf16, floatToHalf, halfToFloat,
  loadTorchCheckpoint, openSafetensorsFile, torchStateDictStore, torchTensors, unpickle, TORCH_WEIGHTS_ONLY_GLOBALS,
} from '@fae/core';

const { PickleWriter, OP, buildTorchCheckpoint, pickleTorchValue, torchZip, tensorSpec, tupleSpec } = weightsBuilders;

const le = (arr: Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array) => new Uint8Array(arr.buffer.slice(0));
const f16 = (vals: number[]) => le(Uint16Array.from(vals, floatToHalf) as unknown as Int16Array);
const bf16 = (vals: number[]) => le(Uint16Array.from(vals, floatToBf16) as unknown as Int16Array);

describeFixture('torch_checkpoint fixture (torch.save of torch 2.11)', ['generators', 'torch_checkpoint'], (dir) => {
  it('loads every tensor exactly as expected.safetensors, with plain values and dtypes as meta.json', async () => {
    const ckpt = (await loadTorchCheckpoint(join(dir, 'checkpoint.pt'))) as Record<string, any>;
    const expected = await openSafetensorsFile(join(dir, 'expected.safetensors'));
    const tensors = torchTensors(ckpt);
    expect([...tensors.keys()].sort()).toEqual(expected.keys().sort());
    for (const key of expected.keys()) {
      expect(tensors.get(key)!.shape, key).toEqual(expected.info(key)!.shape);
      expect(Array.from(tensors.get(key)!.data as ArrayLike<number>, Number), key).toEqual(Array.from(await expected.read(key) as ArrayLike<number>, Number));
    }
    await expected.close();
    const meta = (await import(join(dir, 'meta.json'), { with: { type: 'json' } })).default;
    expect(ckpt.step).toBe(meta.step);
    expect(ckpt.args).toEqual(meta.args);
    for (const [k, d] of Object.entries(meta.dtypes as Record<string, string>)) expect(ckpt.model[k].torchDtype, k).toBe(d);
    // the transposed view and the slice share one storage: both materialised from it
    expect(ckpt.model.view_t.shape).toEqual([5, 6]);
    expect(ckpt.model.view_slice.data[0]).toBe(ckpt.model.view_t.data[2]);
  });
});

describe('torch checkpoints: synthetic (every dtype, views, nesting)', () => {
  const base = Float32Array.from({ length: 24 }, (_, i) => i - 7.5);
  const storages = {
    s32: { type: 'FloatStorage', bytes: le(base) },
    s64: { type: 'DoubleStorage', bytes: le(Float64Array.of(1 / 3, -2)) },
    s16: { type: 'HalfStorage', bytes: f16([0.1, -3]) },
    sbf: { type: 'BFloat16Storage', bytes: bf16([0.1, 1e20]) },
    sl: { type: 'LongStorage', bytes: le(BigInt64Array.of(-(2n ** 60n), 5n)) },
    si: { type: 'IntStorage', bytes: le(Int32Array.of(-7, 8)) },
    ssh: { type: 'ShortStorage', bytes: le(Int16Array.of(-300, 300)) },
    sc: { type: 'CharStorage', bytes: le(Int8Array.of(-5, 6)) },
    sb: { type: 'ByteStorage', bytes: Uint8Array.of(200, 7) },
    sbool: { type: 'BoolStorage', bytes: Uint8Array.of(1, 0, 1) },
  };
  const value = {
    state_dict: {
      full: tensorSpec('s32', [2, 3, 4]),
      transposed: tensorSpec('s32', [4, 6], { stride: [1, 4] }), // .t() of a [6, 4]
      sliced: tensorSpec('s32', [2, 2], { offset: 5, stride: [4, 1] }),
      strided: tensorSpec('s32', [3], { offset: 1, stride: [8] }),
      expanded: tensorSpec('s32', [3, 2], { offset: 2, stride: [0, 1] }),
      param: tensorSpec('s32', [4], { parameter: true, offset: 20 }),
      f64: tensorSpec('s64', [2]), f16: tensorSpec('s16', [2]), bf16: tensorSpec('sbf', [2]), i64: tensorSpec('sl', [2]),
      i32: tensorSpec('si', [2]), i16: tensorSpec('ssh', [2]), i8: tensorSpec('sc', [2]), u8: tensorSpec('sb', [2]), bool: tensorSpec('sbool', [3]),
      empty: tensorSpec('s32', [0, 3]),
    },
    layers: [{ w: tensorSpec('s32', [2], { offset: 10 }) }, { w: tensorSpec('s32', [1]) }],
    shape: tupleSpec(1, 2, 3),
    misc: { big: 2n ** 70n, neg: -123456789, f: 0.25, t: true, none: null, s: 'héllo' },
  };
  const bytes = buildTorchCheckpoint(value, storages);

  it('materialises views from (storage, offset, size, stride) exactly', async () => {
    const ck = (await loadTorchCheckpoint(bytes)) as any;
    const sd = ck.state_dict;
    expect(Array.from(sd.full.data)).toEqual(Array.from(base));
    const t6x4 = ref64.nd([6, 4], base);
    expect(Array.from(sd.transposed.data)).toEqual(Array.from(ref64.transpose(t6x4, [1, 0]).data));
    expect(Array.from(sd.sliced.data)).toEqual([base[5], base[6], base[9], base[10]]);
    expect(Array.from(sd.strided.data)).toEqual([base[1], base[9], base[17]]);
    expect(Array.from(sd.expanded.data)).toEqual([base[2], base[3], base[2], base[3], base[2], base[3]]);
    expect(sd.param).toBeInstanceOf(TorchTensor);
    expect(sd.param.isParameter).toBe(true);
    expect(Array.from(sd.param.data)).toEqual(Array.from(base.subarray(20, 24)));
    expect(sd.empty.shape).toEqual([0, 3]);
    expect(sd.empty.data.length).toBe(0);
  });

  it('decodes every storage dtype', async () => {
    const sd = ((await loadTorchCheckpoint(bytes)) as any).state_dict;
    expect(Array.from(sd.f64.data)).toEqual([1 / 3, -2]);
    expect(Array.from(sd.f16.data)).toEqual([halfToFloat(floatToHalf(0.1)), -3]);
    expect(Array.from(sd.bf16.data)).toEqual([bf16ToFloat(floatToBf16(0.1)), bf16ToFloat(floatToBf16(1e20))]);
    expect(Array.from(sd.i64.data)).toEqual([-(2n ** 60n), 5n]);
    expect(Array.from(sd.i32.data)).toEqual([-7, 8]);
    expect(Array.from(sd.i16.data)).toEqual([-300, 300]);
    expect(Array.from(sd.i8.data)).toEqual([-5, 6]);
    expect(Array.from(sd.u8.data)).toEqual([200, 7]);
    expect(Array.from(sd.bool.data)).toEqual([1, 0, 1]);
    expect(sd.f16.dtype).toBe('F16');
    expect(sd.bool.torchDtype).toBe('torch.bool');
  });

  it('returns nested plain values: lists, tuples, big ints, floats, strings', async () => {
    const ck = (await loadTorchCheckpoint(bytes)) as any;
    expect(ck.shape).toEqual([1, 2, 3]);
    expect(ck.misc).toEqual({ big: 2n ** 70n, neg: -123456789, f: 0.25, t: true, none: null, s: 'héllo' });
    expect(ck.layers.length).toBe(2);
    expect([...torchTensors(ck).keys()]).toContain('layers.1.w');
  });

  it('reads big-endian checkpoints', async () => {
    const be = (b: Uint8Array, size: number) => {
      const out = b.slice();
      for (let o = 0; o < out.length; o += size) out.subarray(o, o + size).reverse();
      return out;
    };
    const st = { a: { type: 'FloatStorage', bytes: be(le(Float32Array.of(1.5, -2, 3)), 4) }, b: { type: 'LongStorage', bytes: be(le(BigInt64Array.of(-3n)), 8) } };
    const ck = (await loadTorchCheckpoint(buildTorchCheckpoint({ a: tensorSpec('a', [3], { stride: [1] }), t: tensorSpec('a', [2], { offset: 1, stride: [1] }), b: tensorSpec('b', [1]) }, st, { byteorder: 'big' }))) as any;
    expect(Array.from(ck.a.data)).toEqual([1.5, -2, 3]);
    expect(Array.from(ck.t.data)).toEqual([-2, 3]);
    expect(Array.from(ck.b.data)).toEqual([-3n]);
  });

  it('understands _rebuild_tensor_v3 with an UntypedStorage, OrderedDict with _metadata, torch.Size, device, bytes, set', async () => {
    const w = new PickleWriter().proto(2);
    w.global('collections', 'OrderedDict').op(OP.EMPTY_TUPLE, OP.REDUCE, OP.MARK);
    w.str('x');
    w.global('torch._utils', '_rebuild_tensor_v3').op(OP.MARK);
    w.op(OP.MARK).str('storage').global('torch', 'UntypedStorage').str('0').str('cpu').int(8).op(OP.TUPLE, OP.BINPERSID);
    w.int(0);
    w.global('torch', 'Size').op(OP.MARK).int(2).op(OP.TUPLE, OP.TUPLE1, OP.REDUCE);
    w.op(OP.MARK).int(1).op(OP.TUPLE);
    w.op(OP.NEWFALSE).global('collections', 'OrderedDict').op(OP.EMPTY_TUPLE, OP.REDUCE);
    w.global('torch', 'float32');
    w.op(OP.TUPLE, OP.REDUCE);
    w.str('dev').global('torch', 'device').str('cuda').int(1).op(OP.TUPLE2, OP.REDUCE);
    w.str('blob').global('_codecs', 'encode').str('\u00ff\u0001').str('latin1').op(OP.TUPLE2, OP.REDUCE);
    w.str('tags').global('builtins', 'set').op(OP.EMPTY_LIST, OP.MARK).str('a').str('b').op(OP.APPENDS, OP.TUPLE1, OP.REDUCE);
    w.op(OP.SETITEMS);
    // state_dict()._metadata arrives through BUILD
    w.op(OP.EMPTY_DICT).str('_metadata').op(OP.EMPTY_DICT, OP.SETITEM, OP.BUILD).stop();
    const ck = (await loadTorchCheckpoint(torchZip(w.bytes(), { 0: { type: 'UntypedStorage', bytes: le(Float32Array.of(4, 5)) } }))) as any;
    expect(Array.from(ck.x.data)).toEqual([4, 5]);
    expect(ck.dev).toBe('cuda:1');
    expect(Array.from(ck.blob)).toEqual([255, 1]);
    expect(ck.tags).toEqual(new Set(['a', 'b']));
    expect(Object.keys(ck)).toEqual(['x', 'dev', 'blob', 'tags']);
    expect(ck._metadata).toEqual({});
  });

  it('supports protocol 4/5 opcodes (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE, sets, bytes)', () => {
    const w = new PickleWriter().proto(5).op(OP.FRAME, 0, 0, 0, 0, 0, 0, 0, 0);
    w.op(OP.EMPTY_DICT, OP.MEMOIZE, OP.MARK);
    w.op(OP.SHORT_BINUNICODE, 1, 0x6b); // 'k'
    w.op(OP.EMPTY_SET, OP.MARK).int(1).int(2).op(OP.ADDITEMS);
    w.op(OP.SHORT_BINUNICODE, 1, 0x62).op(OP.SHORT_BINBYTES, 2, 9, 8);
    w.op(OP.SHORT_BINUNICODE, 1, 0x66).op(OP.MARK).int(3).op(OP.FROZENSET);
    w.op(OP.SHORT_BINUNICODE, 1, 0x6f).op(OP.SHORT_BINUNICODE, 11).raw(new TextEncoder().encode('collections')).op(OP.SHORT_BINUNICODE, 11).raw(new TextEncoder().encode('OrderedDict')).op(OP.STACK_GLOBAL, OP.EMPTY_TUPLE, OP.NEWOBJ);
    w.op(OP.SHORT_BINUNICODE, 1, 0x72).op(OP.BINGET, 0); // a reference to the dict itself
    w.op(OP.SETITEMS).stop();
    const v = unpickle(w.bytes(), { allowed: TORCH_WEIGHTS_ONLY_GLOBALS, call: () => ({}) }) as any;
    expect(v.k).toEqual(new Set([1, 2]));
    expect(Array.from(v.b)).toEqual([9, 8]);
    expect(v.f).toEqual(new Set([3]));
    expect(v.r).toBe(v);
    expect(() => torchTensors(v)).not.toThrow(); // cycles are walked once
  });
});

describe('torch checkpoints: the weights-only allowlist', () => {
  const evil: Array<[string, (w: InstanceType<typeof PickleWriter>) => void, string]> = [
    ['os.system via GLOBAL', (w) => w.global('os', 'system').str('echo pwned').op(OP.TUPLE1, OP.REDUCE), 'os.system'],
    ['builtins.eval via GLOBAL', (w) => w.global('builtins', 'eval').str('1+1').op(OP.TUPLE1, OP.REDUCE), 'builtins.eval'],
    ['__builtin__.exec (py2 name)', (w) => w.global('__builtin__', 'exec').str('x').op(OP.TUPLE1, OP.REDUCE), 'builtins.exec'],
    ['posix.system via STACK_GLOBAL', (w) => w.str('posix').str('system').op(OP.STACK_GLOBAL).str('id').op(OP.TUPLE1, OP.REDUCE), 'posix.system'],
    ['subprocess.Popen via INST', (w) => w.op(OP.MARK).str('ls').op(OP.INST).raw(new TextEncoder().encode('subprocess\nPopen\n')), 'subprocess.Popen'],
    ['torch.load itself', (w) => w.global('torch', 'load').str('x').op(OP.TUPLE1, OP.REDUCE), 'torch.load'],
    ['numpy reconstruct', (w) => w.global('numpy.core.multiarray', '_reconstruct').op(OP.EMPTY_TUPLE, OP.REDUCE), 'numpy.core.multiarray._reconstruct'],
    ['copyreg extension', (w) => w.op(OP.EXT1, 1), 'copyreg extension code 1'],
  ];
  for (const [name, body, global] of evil) {
    it(`refuses ${name} with UnsafePickleError naming '${global}', executing nothing`, async () => {
      const w = new PickleWriter().proto(2);
      body(w);
      const file = torchZip(w.stop().bytes(), {});
      const err = await loadTorchCheckpoint(file).catch((e) => e);
      expect(err).toBeInstanceOf(UnsafePickleError);
      expect(err).toBeInstanceOf(WeightsFormatError);
      expect(err.global).toBe(global);
      expect(err.message).toContain('checkpoint bytes');
    });
  }

  it('allowlisted names a checkpoint may hold are accepted', () => {
    for (const g of ['torch._utils._rebuild_tensor_v2', 'torch.FloatStorage', 'torch.BFloat16Storage', 'collections.OrderedDict', 'torch.nn.parameter.Parameter', 'torch.bfloat16', 'builtins.set', '_codecs.encode']) {
      expect(TORCH_WEIGHTS_ONLY_GLOBALS.has(g), g).toBe(true);
    }
    expect(TORCH_WEIGHTS_ONLY_GLOBALS.has('builtins.getattr')).toBe(false);
  });

  it('an allowlisted function called with the wrong arguments is a WeightsFormatError, not a crash', async () => {
    const w = new PickleWriter().proto(2).global('torch._utils', '_rebuild_tensor_v2').op(OP.MARK).str('nope').int(0).op(OP.TUPLE, OP.REDUCE).stop();
    await expect(loadTorchCheckpoint(torchZip(w.bytes(), {}))).rejects.toThrow(/expected a storage/);
  });

  it('a broadcast view larger than the file is refused unless maxTensorBytes allows it', async () => {
    const st = { a: { type: 'FloatStorage', bytes: le(Float32Array.of(1)) } };
    const file = buildTorchCheckpoint({ x: tensorSpec('a', [1_000_000], { stride: [0] }) }, st);
    await expect(loadTorchCheckpoint(file)).rejects.toThrow(/maxTensorBytes/);
    const ok = (await loadTorchCheckpoint(file, { maxTensorBytes: 4_000_000 })) as any;
    expect(ok.x.data.length).toBe(1_000_000);
  });
});

class Net extends Module {
  readonly fc = this.addModule('fc', new Linear(4, 3));
  readonly norm = this.addModule('norm', new LayerNorm(3));
}

describeBackends('torch checkpoint -> Module.loadStateDict', () => {
  it("loads a nested 'model' state dict (Parameters, PyTorch layouts) and matches a float64 reference", async () => {
    const w = ref64.randomNd([3, 4], 31), b = ref64.randomNd([3], 32), g = ref64.randomNd([3], 33), beta = ref64.randomNd([3], 34);
    const all = Float32Array.from([...w.data, ...b.data, ...g.data, ...beta.data]);
    const storages = { 0: { type: 'FloatStorage', bytes: le(all) } };
    const model = {
      'fc.weight': tensorSpec('0', [3, 4], { parameter: true }),
      'fc.bias': tensorSpec('0', [3], { parameter: true, offset: 12 }),
      'norm.weight': tensorSpec('0', [3], { parameter: true, offset: 15 }),
      'norm.bias': tensorSpec('0', [3], { parameter: true, offset: 18 }),
    };
    const ck = (await loadTorchCheckpoint(buildTorchCheckpoint({ model, epoch: 3 }, storages))) as any;
    const net = new Net();
    await net.loadStateDict(torchStateDictStore(ck.model));
    const x = ref64.randomNd([2, 4], 35);
    const xt = ref64.toTensor(x);
    const y = await expectNoLeaks(() => tf.tidy(() => net.norm.forward(net.fc.forward(xt))));
    await expectClose(y, ref64.layerNorm(ref64.linearTorch(x, w, b), g, beta, 1e-5).data, 1e-5);
    // prefix: the whole checkpoint as one store with dotted keys
    const store = torchStateDictStore(ck, 'ckpt');
    expect(store.keys().sort()).toEqual(['ckpt.model.fc.bias', 'ckpt.model.fc.weight', 'ckpt.model.norm.bias', 'ckpt.model.norm.weight']);
    tf.dispose([xt, y]);
    net.dispose();
  });
});

void pickleTorchValue;
