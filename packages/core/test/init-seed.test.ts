// Seeded initialisation: weights are a function of (seed, parameter path) only, never of what the
// process constructed before; sibling parameters get independent values; distributions are torch's.
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectNoLeaks } from '@fae/testing';
import {
  Conv2d, Embedding, LayerNorm, Linear, Mlp, Module, ModuleList, PatchEmbed, SequentialSlots, deriveSeed, init, isSeededInitializer,
} from '@fae/core';

type Weights = Map<string, { shape: number[]; data: Float32Array | Int32Array }>;

/** A small tree using every seeded initialiser: torchDefault (Linear, Conv2d), xavierUniform, normal, truncatedNormal, uniform. */
class Block extends Module {
  readonly norm = this.addModule('norm', new LayerNorm(8));
  readonly mlp: Mlp;
  readonly conv: Conv2d;
  constructor(seed?: number) {
    super();
    this.mlp = this.addModule('mlp', new Mlp(8, 16, 8, { seed }));
    this.conv = this.addModule('conv', new Conv2d(4, 6, 3, { seed }));
  }
}

/** DiT's timestep MLP layout (keys mlp.0, mlp.2): two Linears sharing one normal(0.02, seed) initialiser. */
class TimeMlp extends Module {
  readonly mlp = this.addModule('mlp', new SequentialSlots());
  constructor(hidden: number, freq: number, opts: { seed?: number } = {}) {
    super();
    const lin = (i: number, o: number) => new Linear(i, o, { weightInit: init.normal(0.02, opts.seed), biasInit: init.zeros() });
    this.mlp.slot(0, lin(freq, hidden));
    this.mlp.slot(2, lin(hidden, hidden));
  }
}

class Net extends Module {
  readonly embed: PatchEmbed;
  readonly time: TimeMlp;
  readonly table: Embedding;
  readonly blocks: ModuleList<Block>;
  readonly head: Linear;
  readonly token: tf.Variable;
  readonly scale: tf.Variable;
  constructor(seed?: number, depth = 3) {
    super();
    this.embed = this.addModule('embed', new PatchEmbed(3, 8, 2, { seed }));
    this.time = this.addModule('time', new TimeMlp(8, 16, { seed }));
    this.table = this.addModule('table', new Embedding(10, 8, { seed }));
    this.blocks = this.addModule('blocks', new ModuleList(Array.from({ length: depth }, () => new Block(seed))));
    this.head = this.addModule('head', new Linear(8, 4, { seed }));
    this.token = this.addParameter('token', [1, 8], init.truncatedNormal(0.02, seed));
    this.scale = this.addParameter('scale', [8], init.uniform(0.5, seed));
  }
}

async function weightsOf(m: Module): Promise<Weights> {
  return m.stateDict();
}

function sameBits(a: Float32Array | Int32Array, b: Float32Array | Int32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

/** Keys whose values are not bit-identical. */
function differingKeys(a: Weights, b: Weights): string[] {
  expect([...a.keys()]).toEqual([...b.keys()]);
  return [...a.keys()].filter((k) => !sameBits(a.get(k)!.data, b.get(k)!.data));
}

/** Keys of Net's parameters drawn at random (all but LayerNorm's ones/zeros and the timestep MLP's zero biases). */
function randomKeys(w: Weights): string[] {
  return [...w.keys()].filter((k) => !k.includes('.norm.') && !/^time\.mlp\.\d\.bias$/.test(k));
}

function stats(x: ArrayLike<number>): { min: number; max: number; mean: number; std: number } {
  let min = Infinity, max = -Infinity, s = 0, s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v < min) min = v;
    if (v > max) max = v;
    s += v;
    s2 += v * v;
  }
  const mean = s / x.length;
  return { min, max, mean, std: Math.sqrt(s2 / x.length - mean * mean) };
}

describeBackends('seeded initialisation', () => {
  it('the same seed gives bit-identical weights for every parameter, whatever was built in between', async () => {
    const a = new Net(5);
    const wa = await weightsOf(a);
    // other models, seeded and unseeded, and direct initialiser calls in between
    const others = [new Net(5, 2), new Net(99), new Net(), new Linear(8, 8, { seed: 5 }), new Mlp(8, 16, 8, { seed: 5 })];
    tf.dispose([init.normal(1, 5)([3, 3]), init.torchDefault(4, 5)([4])]);
    const b = new Net(5);
    const wb = await weightsOf(b);
    expect(wa.size).toBe(2 + 4 + 1 + 3 * 8 + 2 + 2);
    expect(differingKeys(wa, wb)).toEqual([]);
    // and again after disposing everything (no hidden state in the backend either)
    for (const m of [a, b, ...others]) m.dispose();
    const c = new Net(5);
    expect(differingKeys(wa, await weightsOf(c))).toEqual([]);
    c.dispose();
  });

  it('different seeds give different weights; unseeded construction draws fresh values', async () => {
    const [w1, w2, u1, u2] = await Promise.all([new Net(1), new Net(2), new Net(), new Net()].map(async (m) => {
      const w = await weightsOf(m);
      m.dispose();
      return w;
    }));
    const random = randomKeys(w1);
    expect(random.length).toBeGreaterThan(20);
    expect(differingKeys(w1, w2).sort()).toEqual(random.sort());
    expect(differingKeys(u1, u2).sort()).toEqual(random.sort());
    expect(differingKeys(w1, u1).sort()).toEqual(random.sort());
  });

  it('sibling layers and repeated blocks built with one seed get different values', async () => {
    const net = new Net(3);
    const w = await weightsOf(net);
    const differ = (x: string, y: string) => !sameBits(w.get(x)!.data, w.get(y)!.data);
    // the same layer in sibling blocks (a ModuleList of blocks all given one seed)
    for (const k of ['mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias', 'conv.weight', 'conv.bias']) {
      expect(differ(`blocks.0.${k}`, `blocks.1.${k}`)).toBe(true);
      expect(differ(`blocks.1.${k}`, `blocks.2.${k}`)).toBe(true);
    }
    // TimeMlp's two weights ([16, 8] and [8, 8]) share one normal(0.02, seed) initialiser
    const t1 = w.get('time.mlp.0.weight')!.data, t2 = w.get('time.mlp.2.weight')!.data;
    expect(sameBits(t1.subarray(0, 64), t2.subarray(0, 64))).toBe(false);
    net.dispose();

    // two sibling Linears of one shape and seed
    class Pair extends Module {
      readonly a = this.addModule('a', new Linear(32, 32, { seed: 0 }));
      readonly b = this.addModule('b', new Linear(32, 32, { seed: 0 }));
    }
    const p = new Pair();
    const pw = await weightsOf(p);
    expect(differingKeys(new Map([['w', pw.get('a.weight')!], ['b', pw.get('a.bias')!]]), new Map([['w', pw.get('b.weight')!], ['b', pw.get('b.bias')!]]))).toEqual(['w', 'b']);
    // weight and bias of one Linear come from different streams: their first values differ
    expect(pw.get('a.weight')!.data[0]).not.toBe(pw.get('a.bias')!.data[0]);
    p.dispose();
  });

  it('values depend on (seed, path) only: the same sub-tree under the same key matches across parents', async () => {
    class ParentA extends Module {
      readonly pre = this.addModule('pre', new Linear(3, 3, { seed: 9 }));
      readonly body = this.addModule('body', new Mlp(8, 16, 8, { seed: 4 }));
    }
    class ParentB extends Module {
      readonly body = this.addModule('body', new Mlp(8, 16, 8, { seed: 4 }));
    }
    const [a, b] = [new ParentA(), new ParentB()];
    const [wa, wb] = [await weightsOf(a), await weightsOf(b)];
    for (const k of ['body.fc1.weight', 'body.fc1.bias', 'body.fc2.weight', 'body.fc2.bias']) expect(sameBits(wa.get(k)!.data, wb.get(k)!.data)).toBe(true);
    // a standalone Mlp has keys fc1.*, not body.fc1.*: another path, other values
    const solo = new Mlp(8, 16, 8, { seed: 4 });
    expect(sameBits((await weightsOf(solo)).get('fc1.weight')!.data, wa.get('body.fc1.weight')!.data)).toBe(false);
    for (const m of [a, b, solo]) m.dispose();
  });

  it('values assigned before attaching (loaded, re-initialised) are kept', async () => {
    const child = new Linear(4, 2, { seed: 1 });
    await child.loadStateDict({ weight: tf.fill([2, 4], 0.25), bias: tf.fill([2], -1) });
    class Holder extends Module {
      readonly fc = this.addModule('fc', child);
      readonly other = this.addModule('other', new Linear(4, 2, { seed: 1 }));
    }
    class Outer extends Module {
      readonly inner = this.addModule('inner', new Holder());
    }
    const outer = new Outer();
    const w = await weightsOf(outer);
    expect(Array.from(w.get('inner.fc.weight')!.data)).toEqual(new Array(8).fill(0.25));
    expect(Array.from(w.get('inner.fc.bias')!.data)).toEqual([-1, -1]);
    expect(w.get('inner.other.weight')!.data.some((v) => v !== 0.25)).toBe(true);
    outer.dispose();
  });

  it('construction and attaching leak no tensors; seeded initialisers are pure', async () => {
    await expectNoLeaks(() => new Net(7, 2).dispose(), 'seeded Net');
    await expectNoLeaks(() => new Net(undefined, 2).dispose(), 'unseeded Net');
    const f = init.xavierUniform(3);
    expect(isSeededInitializer(f)).toBe(true);
    expect(isSeededInitializer(init.xavierUniform())).toBe(false);
    expect(isSeededInitializer(init.zeros())).toBe(false);
    const [x, y] = [f([5, 7]), f([5, 7])];
    expect(sameBits(await x.data() as Float32Array, await y.data() as Float32Array)).toBe(true);
    tf.dispose([x, y]);
  });

  it('keeps the torch distributions: U(+-1/sqrt(fan_in)), xavier, N(0, std), truncated normal', async () => {
    const lin = new Linear(256, 512, { seed: 11 }); // weight: 131072 draws
    const w = stats(await lin.weight.data() as Float32Array);
    const bound = 1 / 16;
    expect(w.min).toBeGreaterThanOrEqual(-bound);
    expect(w.max).toBeLessThanOrEqual(bound);
    expect(w.min).toBeLessThan(-0.99 * bound);
    expect(w.max).toBeGreaterThan(0.99 * bound);
    expect(Math.abs(w.mean)).toBeLessThan(0.01 * bound);
    expect(w.std / (bound / Math.sqrt(3))).toBeCloseTo(1, 2);
    const b = stats(await lin.bias!.data() as Float32Array);
    expect(b.min).toBeGreaterThanOrEqual(-bound);
    expect(b.max).toBeLessThanOrEqual(bound);
    expect(b.std / (bound / Math.sqrt(3))).toBeGreaterThan(0.85);
    expect(b.std / (bound / Math.sqrt(3))).toBeLessThan(1.15);
    lin.dispose();

    const conv = new Conv2d(8, 64, 3, { seed: 2 }); // fan_in 72
    const c = stats(await conv.weight.data() as Float32Array);
    expect(c.max).toBeLessThanOrEqual(1 / Math.sqrt(72));
    expect(c.min).toBeGreaterThanOrEqual(-1 / Math.sqrt(72));
    expect(c.std / (1 / Math.sqrt(72 * 3))).toBeCloseTo(1, 1);
    conv.dispose();

    const draw = async (f: (s: number[]) => tf.Tensor) => {
      const t = f([200, 300]);
      const s = stats(await t.data() as Float32Array);
      t.dispose();
      return s;
    };
    const xav = await draw(init.xavierUniform(4));
    const lim = Math.sqrt(6 / 500);
    expect(xav.max).toBeLessThanOrEqual(lim);
    expect(xav.min).toBeGreaterThanOrEqual(-lim);
    expect(xav.std / (lim / Math.sqrt(3))).toBeCloseTo(1, 2);
    const n = await draw(init.normal(0.02, 5));
    expect(Math.abs(n.mean)).toBeLessThan(2e-4);
    expect(n.std / 0.02).toBeCloseTo(1, 2);
    const tn = await draw(init.truncatedNormal(0.02, 6));
    expect(tn.max).toBeLessThanOrEqual(0.04 + 1e-7);
    expect(tn.min).toBeGreaterThanOrEqual(-0.04 - 1e-7);
    expect(tn.std / 0.02).toBeCloseTo(0.8796, 2); // std of N(0, 1) truncated to [-2, 2]
  });
});

describeBackends('deriveSeed', () => {
  it('is deterministic, never 0, and separates seeds and paths', () => {
    const seen = new Set<number>();
    for (const seed of [0, 1, 2, 7, 42, -1, 2 ** 40, 0.5]) {
      for (const path of ['', 'weight', 'bias', 'fc1.weight', 'fc2.weight', 'blocks.0.attn.qkv.weight', 'blocks.1.attn.qkv.weight', 'blocks.10.attn.qkv.weight']) {
        const s = deriveSeed(seed, path);
        expect(s).toBe(deriveSeed(seed, path));
        expect(Number.isInteger(s) && s > 0 && s < 2 ** 32).toBe(true);
        seen.add(s);
      }
    }
    expect(seen.size).toBe(8 * 8);
  });
}, { backends: ['cpu'] });
