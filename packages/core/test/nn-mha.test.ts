import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, relError, ref64, ref64transformer as rt, type ref64 as R } from '@fae/testing';
import { MultiHeadAttention, VisionRotaryEmbeddingFast, AxialRoPE2D, ConfigError, ShapeError } from '@fae/core';

type Nd = R.Nd;
const D = 8, H = 2, T = 4;

/** Random torch-layout parameters under the module's own keys. */
function randomState(m: MultiHeadAttention, seed: number): Map<string, Nd> {
  const out = new Map<string, Nd>();
  m.namedParameters().forEach(([k, p], i) => {
    const isNormWeight = /norm\.weight$/.test(k);
    const v = ref64.randomNd(p.torchShape, seed + i, isNormWeight ? 0.5 : 1);
    out.set(k, isNormWeight ? ref64.map(v, (x) => 1 + x) : v);
  });
  return out;
}

async function load(m: MultiHeadAttention, s: Map<string, Nd>) {
  const rec: Record<string, tf.Tensor> = {};
  for (const [k, v] of s) rec[k] = ref64.toTensor(v);
  await m.loadStateDict(rec);
  tf.dispose(Object.values(rec));
}

describeBackends('MultiHeadAttention', () => {
  it('fused qkv + RMSNorm q/k norm + EVA RoPE (LightningDiT Attention) matches float64', async () => {
    const rope = new VisionRotaryEmbeddingFast(2, 2); // head dim 4, 2x2 grid
    const m = new MultiHeadAttention(D, H, { qkNorm: 'rmsnorm', rope });
    expect(m.namedParameters().map(([k]) => k)).toEqual(['qkv.weight', 'qkv.bias', 'q_norm.weight', 'k_norm.weight', 'proj.weight', 'proj.bias']);
    const s = randomState(m, 1);
    await load(m, s);
    const x = ref64.randomNd([2, T, D], 50);
    const xt = ref64.toTensor(x);
    const y = await expectNoLeaks(() => m.forward(xt));
    const tables = rt.evaRopeTables(2, 2);
    const ref = rt.mha(x, { qkvW: s.get('qkv.weight'), qkvB: s.get('qkv.bias'), projW: s.get('proj.weight')!, projB: s.get('proj.bias')!, qNormW: s.get('q_norm.weight'), kNormW: s.get('k_norm.weight') },
      { heads: H, qkNorm: 'rmsnorm', rope: { cos: tables.cos, sin: tables.sin } });
    await expectClose(y, ref.data, 1e-5);
    // Per-call override: no RoPE gives a different answer (and equals the reference without RoPE).
    const y2 = m.forward(xt, { rope: null });
    const ref2 = rt.mha(x, { qkvW: s.get('qkv.weight'), qkvB: s.get('qkv.bias'), projW: s.get('proj.weight')!, projB: s.get('proj.bias')!, qNormW: s.get('q_norm.weight'), kNormW: s.get('k_norm.weight') }, { heads: H, qkNorm: 'rmsnorm' });
    await expectClose(y2, ref2.data, 1e-5);
    expect(relError(await y.data(), ref2.data).rel).toBeGreaterThan(1e-3);
    tf.dispose([xt, y, y2]);
    m.dispose();
    rope.dispose();
  });

  it('separate projections with custom keys, LayerNorm q/k norm, temperature, axial RoPE', async () => {
    const rope = new AxialRoPE2D(4, 2, 2, { pairing: 'half' });
    const m = new MultiHeadAttention(D, H, {
      projections: 'separate', qkNorm: 'layernorm', temperature: 0.7, rope,
      keys: { q: 'query', k: 'key', v: 'value', proj: 'dense', qNorm: 'norm_q', kNorm: 'norm_k' },
    });
    expect(m.namedParameters().map(([k]) => k)).toEqual([
      'query.weight', 'query.bias', 'key.weight', 'key.bias', 'value.weight', 'value.bias',
      'norm_q.weight', 'norm_q.bias', 'norm_k.weight', 'norm_k.bias', 'dense.weight', 'dense.bias',
    ]);
    const s = randomState(m, 100);
    await load(m, s);
    const x = ref64.randomNd([2, T, D], 60);
    const xt = ref64.toTensor(x);
    const y = await expectNoLeaks(() => m.forward(xt));
    const tables = rt.axialRopeTables(4, 2, 2, 'half');
    const ref = rt.mha(x, {
      qW: s.get('query.weight'), qB: s.get('query.bias'), kW: s.get('key.weight'), kB: s.get('key.bias'), vW: s.get('value.weight'), vB: s.get('value.bias'),
      projW: s.get('dense.weight')!, projB: s.get('dense.bias')!, qNormW: s.get('norm_q.weight'), qNormB: s.get('norm_q.bias'), kNormW: s.get('norm_k.weight'), kNormB: s.get('norm_k.bias'),
    }, { heads: H, qkNorm: 'layernorm', temperature: 0.7, rope: { cos: tables.cos, sin: tables.sin, pairing: 'half', groups: 2 } });
    await expectClose(y, ref.data, 1e-5);
    tf.dispose([xt, y]);
    m.dispose();
  });

  it('plain attention without biases; rejects bad configs and inputs', async () => {
    const m = new MultiHeadAttention(D, H, { qkvBias: false, projBias: false });
    expect(m.namedParameters().map(([k]) => k)).toEqual(['qkv.weight', 'proj.weight']);
    const s = randomState(m, 200);
    await load(m, s);
    const x = ref64.randomNd([1, 3, D], 70);
    const xt = ref64.toTensor(x);
    await expectClose(m.forward(xt), rt.mha(x, { qkvW: s.get('qkv.weight'), projW: s.get('proj.weight')!, projB: null }, { heads: H }).data, 1e-5);
    expect(() => new MultiHeadAttention(7, 2)).toThrow(ConfigError);
    const bad = tf.zeros([1, 3, D + 1]);
    expect(() => m.forward(bad)).toThrow(ShapeError);
    tf.dispose([xt, bad]);
    m.dispose();
  });

  it('gradients (input, qkv weight, q_norm weight) match float64 central differences', async () => {
    const rope = new VisionRotaryEmbeddingFast(2, 2);
    const m = new MultiHeadAttention(D, H, { qkNorm: 'rmsnorm', rope });
    const s = randomState(m, 300);
    await load(m, s);
    const tables = rt.evaRopeTables(2, 2);
    const x = ref64.randomNd([1, T, D], 80);
    const g = ref64.randomNd([1, T, D], 81);
    const [xt, gt] = [x, g].map(ref64.toTensor);
    const loss = (xd: Float64Array, over: Record<string, Nd> = {}) => {
      const p = (k: string) => over[k] ?? s.get(k)!;
      return rt.weightedSum(rt.mha(ref64.nd(x.shape, xd), { qkvW: p('qkv.weight'), qkvB: p('qkv.bias'), projW: p('proj.weight'), projB: p('proj.bias'), qNormW: p('q_norm.weight'), kNormW: p('k_norm.weight') },
        { heads: H, qkNorm: 'rmsnorm', rope: { cos: tables.cos, sin: tables.sin } }), g);
    };
    const before = tf.memory().numTensors;
    const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(m.forward(xi), gt)))(xt);
    const vars = [m.qkv!.weight, m.qNorm!.weight!];
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(m.forward(xt), gt)) as tf.Scalar, vars);
    const dqkv = tf.transpose(grads[vars[0].name], [1, 0]); // torch layout [3D, D]
    const idx = rt.sampleIndices(x.data.length, 16);
    const fdX = rt.centralDifferences((xd) => loss(xd), Float64Array.from(x.data), idx);
    const wq = s.get('qkv.weight')!;
    const widx = rt.sampleIndices(wq.data.length, 24);
    const fdW = rt.centralDifferences((wd) => loss(x.data, { 'qkv.weight': ref64.nd(wq.shape, wd) }), Float64Array.from(wq.data), widx);
    const nq = s.get('q_norm.weight')!;
    const fdN = rt.centralDifferences((wd) => loss(x.data, { 'q_norm.weight': ref64.nd(nq.shape, wd) }), Float64Array.from(nq.data), [0, 1, 2, 3]);
    const [dxv, dwv, dnv] = await Promise.all([dx.data(), dqkv.data(), grads[vars[1].name].data()]);
    expect(relError(idx.map((i) => dxv[i]), fdX).rel).toBeLessThan(1e-3);
    expect(relError(widx.map((i) => dwv[i]), fdW).rel).toBeLessThan(1e-3);
    expect(relError(dnv, fdN).rel).toBeLessThan(1e-3);
    tf.dispose([dx, value, dqkv, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xt, gt]);
    m.dispose();
    rope.dispose();
  });
});
