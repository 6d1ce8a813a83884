import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64flow } from '@fae/testing';
import { ShapeError } from '@fae/core';
import type { TarFlow } from '@fae/flow';
import { SMALL, randomFlow, randomInput, refConfig } from './helpers.js';

const LABELS = [2, 0];

async function tokensOf(model: TarFlow, x: tf.Tensor): Promise<ref64.Nd> {
  const t = model.patchify(x);
  const nd = await ref64.fromTensor(t);
  t.dispose();
  return nd;
}

describeBackends('TarFlow vs float64 reference', () => {
  it('patchify follows torch unfold order and unpatchify inverts it', async () => {
    const model = await randomFlow(SMALL, 1);
    const { nd, t } = randomInput(model, 2, 5);
    const tokens = await expectNoLeaks(() => model.patchify(t));
    expect(tokens.shape).toEqual([2, 4, 8]);
    await expectClose(tokens, ref64flow.patchify(nd, 2).data, 0, 'patchify');
    const back = await expectNoLeaks(() => model.unpatchify(tokens));
    await expectClose(back, nd.data, 0, 'unpatchify');
    tf.dispose([t, tokens, back]);
    model.dispose();
  });

  it('forward: z, every block output and logdet (deep-shallow [1,2,1], alternating flips, classes incl. dropped)', async () => {
    const model = await randomFlow(SMALL, 10);
    const sd = await ref64flow.stateDict64(model);
    const { nd, t } = randomInput(model, 2, 11);
    for (const labels of [LABELS, [-1, 1], null]) {
      const r = await expectNoLeaks(() => model.forward(t, labels), 'forward');
      const ref = ref64flow.tarflowForward(sd, ref64flow.patchify(nd, 2), labels, refConfig(model));
      await expectClose(r.z, ref.z.data, 1e-5, `z (labels ${labels})`);
      expect(r.outputs.length).toBe(3);
      for (let i = 0; i < 3; i++) await expectClose(r.outputs[i], ref.outputs[i].data, 1e-5, `block ${i}`);
      await expectClose(r.logdet, ref.logdet, 1e-5, 'logdet');
      tf.dispose([r.z, r.logdet, ...r.outputs]);
    }
    t.dispose();
    model.dispose();
  });

  it('reverse (KV cache, token by token) matches the cache-free reference for every guidance setting', async () => {
    const model = await randomFlow(SMALL, 20, { randomVar: true });
    const sd = await ref64flow.stateDict64(model);
    const z = ref64.randomNd([2, model.numPatches, model.tokenDim], 21);
    const zt = ref64.toTensor(z);
    const settings: Array<[string, Parameters<TarFlow['reverse']>[2], ref64flow.GuidanceRef]> = [
      ['no guidance', {}, { guidance: 0 }],
      ['tarflow ab', { guidance: 1.2 }, { guidance: 1.2 }],
      ['tarflow a, annealed, attnTemp 0.8', { guidance: 0.7, guideWhat: 'a', annealedGuidance: true, attnTemp: 0.8 }, { guidance: 0.7, guideWhat: 'a', annealed: true, attnTemp: 0.8 }],
      ['tarflow b', { guidance: 2, guideWhat: 'b' }, { guidance: 2, guideWhat: 'b' }],
      ['starflow', { guidance: 1.5, guidanceMethod: 'starflow', attnTemp: 1.3 }, { guidance: 1.5, method: 'starflow', attnTemp: 1.3 }],
    ];
    for (const [name, opts, g] of settings) {
      const x = await expectNoLeaks(() => model.reverse(zt, LABELS, opts), name);
      expect(x.shape).toEqual([2, 4, 4, 2]);
      const ref = ref64flow.tarflowReverse(sd, z, LABELS, refConfig(model), g);
      await expectClose((await tokensOf(model, x)).data, ref.data, 1e-5, name);
      x.dispose();
    }
    zt.dispose();
    model.dispose();
  });

  it('STARFlow options: RoPE, conditioning and guidance on the deep block only', async () => {
    const model = await randomFlow({ ...SMALL, rope: true, condTopOnly: true }, 30);
    expect(model.namedParameters().some(([k]) => k.includes('pos_embed'))).toBe(false);
    expect(model.namedParameters().filter(([k]) => k.includes('class_embed')).map(([k]) => k)).toEqual(['blocks.2.class_embed']);
    const sd = await ref64flow.stateDict64(model);
    const { nd, t } = randomInput(model, 2, 31);
    const r = model.forward(t, LABELS);
    const ref = ref64flow.tarflowForward(sd, ref64flow.patchify(nd, 2), LABELS, refConfig(model));
    await expectClose(r.z, ref.z.data, 1e-5, 'rope z');
    await expectClose(r.logdet, ref.logdet, 1e-5, 'rope logdet');
    const z = ref64.randomNd([2, model.numPatches, model.tokenDim], 32);
    const zt = ref64.toTensor(z);
    const x = await expectNoLeaks(() => model.reverse(zt, LABELS, { guidance: 1, guidanceMethod: 'starflow' }));
    const refX = ref64flow.tarflowReverse(sd, z, LABELS, refConfig(model), { guidance: 1, method: 'starflow' }, true);
    await expectClose((await tokensOf(model, x)).data, refX.data, 1e-5, 'rope reverse, guided top block');
    tf.dispose([t, r.z, r.logdet, ...r.outputs, zt, x]);
    model.dispose();
  });

  it('shift-only (nvp = false) blocks: forward, logdet 0 and reverse', async () => {
    const model = await randomFlow({ ...SMALL, nvp: false }, 40, { randomVar: true });
    const sd = await ref64flow.stateDict64(model);
    const { nd, t } = randomInput(model, 2, 41);
    const r = model.forward(t, LABELS);
    const ref = ref64flow.tarflowForward(sd, ref64flow.patchify(nd, 2), LABELS, refConfig(model));
    await expectClose(r.z, ref.z.data, 1e-5, 'z');
    expect(Array.from(await r.logdet.data())).toEqual([0, 0]);
    const x = model.reverse(r.z, LABELS);
    const refX = ref64flow.tarflowReverse(sd, ref.z, LABELS, refConfig(model));
    await expectClose((await tokensOf(model, x)).data, refX.data, 1e-5, 'reverse');
    tf.dispose([t, r.z, r.logdet, ...r.outputs, x]);
    model.dispose();
  });
});

describeBackends('TarFlow invertibility and exact likelihood', () => {
  it('reverse(forward(x)) = x and forward(reverse(z)) = z to float32 precision on random weights', async () => {
    const model = await randomFlow(SMALL, 50, { randomVar: true });
    const { t: x } = randomInput(model, 3, 51);
    const labels = [1, -1, 2];
    const back = await expectNoLeaks(() => tf.tidy(() => {
      const { z } = model.forward(x, labels);
      return model.reverse(tf.div(z, tf.sqrt(model.priorVariance)), labels); // reverse scales by sqrt(var) first
    }));
    await expectClose(back, await x.data() as Float32Array, 1e-5, 'reverse(forward(x))');
    const noise = tf.randomNormal([3, model.numPatches, model.tokenDim], 0, 1, 'float32', 52);
    const again = tf.tidy(() => {
      const sampled = model.reverse(noise, labels);
      return tf.div(model.forward(sampled, labels).z, tf.sqrt(model.priorVariance));
    });
    await expectClose(again, await noise.data() as Float32Array, 1e-5, 'forward(reverse(z))');
    tf.dispose([x, back, noise, again]);
    model.dispose();
  });

  it('logdet equals log|det J| of the whole flow (float64 Jacobian by central differences)', async () => {
    const model = await randomFlow({ ...SMALL, numClasses: 0 }, 60);
    const sd = await ref64flow.stateDict64(model);
    const { nd, t } = randomInput(model, 1, 61);
    const tokens = ref64flow.patchify(nd, 2);
    const n = tokens.data.length; // T * D = 32 dimensions
    const f = (v: Float64Array) => ref64flow.tarflowForward(sd, ref64.nd(tokens.shape, v), null, refConfig(model)).z.data;
    const jac = new Float64Array(n * n);
    const h = 1e-5;
    for (let j = 0; j < n; j++) {
      const plus = Float64Array.from(tokens.data);
      const minus = Float64Array.from(tokens.data);
      plus[j] += h;
      minus[j] -= h;
      const [fp, fm] = [f(plus), f(minus)];
      for (let i = 0; i < n; i++) jac[i * n + j] = (fp[i] - fm[i]) / (2 * h);
    }
    const logAbsDet = ref64flow.logAbsDet(jac, n);
    const { z, logdet, outputs } = model.forward(t);
    const ours = (await logdet.data())[0] * n; // logdet is the mean per dimension
    expect(Math.abs(ours - logAbsDet)).toBeLessThan(1e-4 * Math.max(1, Math.abs(logAbsDet)));
    // NLL = 0.5 |z|^2 + n/2 log 2 pi - log|det J| (var = 1), and bits/dim from it.
    const nll = model.nll(t);
    const zs = Array.from(await z.data());
    const expected = 0.5 * zs.reduce((s, v) => s + v * v, 0) + (n / 2) * Math.log(2 * Math.PI) - logAbsDet;
    await expectClose(nll, [expected], 1e-5, 'nll');
    const bpd = model.bitsPerDim(t);
    await expectClose(bpd, [expected / (n * Math.LN2)], 1e-5, 'bits/dim');
    const bpd8 = model.bitsPerDim(t, null, { binWidth: 2 / 256 });
    await expectClose(bpd8, [(expected + n * Math.log(128)) / (n * Math.LN2)], 1e-5, 'bits/dim of 8-bit data');
    tf.dispose([t, z, logdet, ...outputs, nll, bpd, bpd8]);
    model.dispose();
  });

  it('nll under a learned prior variance matches the float64 reference; no leaks', async () => {
    const model = await randomFlow(SMALL, 70, { randomVar: true });
    const sd = await ref64flow.stateDict64(model);
    const { nd, t } = randomInput(model, 2, 71);
    const nll = await expectNoLeaks(() => model.nll(t, LABELS));
    await expectClose(nll, ref64flow.tarflowNll(sd, ref64flow.patchify(nd, 2), LABELS, refConfig(model)), 1e-5, 'nll');
    tf.dispose([t, nll]);
    model.dispose();
  });
});

describeBackends('attn_mask buffer', () => {
  it('is honoured as upstream: the lower triangle attends causally, a loaded full mask lets tokens see the future', async () => {
    const model = await randomFlow({ ...SMALL, numBlocks: 1, layersPerBlock: 1 }, 85);
    const { t: x } = randomInput(model, 1, 86);
    // Perturb raster pixel (3, 3), i.e. token 3; token 1's z must not move with the causal mask.
    const bump = tf.tidy(() => tf.add(x, tf.pad(tf.fill([1, 1, 1, 2], 0.5), [[0, 0], [3, 0], [3, 0], [0, 0]])));
    const token1 = async () => {
      const [a, b] = [model.forward(x).z, model.forward(bump).z];
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.slice(a, [0, 1, 0], [1, 1, -1]), tf.slice(b, [0, 1, 0], [1, 1, -1])))));
      const v = (await d.data())[0];
      tf.dispose([a, b, d]);
      return v;
    };
    expect(await token1()).toBe(0);
    const sd = await model.stateDict();
    sd.set('blocks.0.attn_mask', { shape: [4, 4], data: new Float32Array(16).fill(1) });
    await model.loadStateDict(new Map([...sd].map(([k, v]) => [k, tf.tensor(v.data, v.shape)])));
    expect(await token1()).toBeGreaterThan(1e-3);
    tf.dispose([x, bump]);
    model.dispose();
  });
});

describeBackends('TarFlow input checks', () => {
  it('names the tensor and the expected shape', async () => {
    const model = await randomFlow(SMALL, 80);
    const before = tf.memory().numTensors;
    const [a, b, c, d] = [tf.zeros([1, 4, 4, 3]), tf.zeros([1, 2, 4, 4]), tf.zeros([2, 4, 4, 2]), tf.zeros([1, 5, 8])];
    expect(() => model.forward(a)).toThrow(ShapeError);
    expect(() => model.forward(b)).toThrow(/TarFlow input x: expected \[B, 4, 4, 2\] \(NHWC\)/);
    expect(() => model.forward(c, [1])).toThrow(/labels y: expected \[2\]/);
    expect(() => model.reverse(d)).toThrow(/TarFlow reverse z: expected \[B, 4, 8\]/);
    tf.dispose([a, b, c, d]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
}, { backends: ['cpu'] });
