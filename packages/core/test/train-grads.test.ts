// Gradients of the basic layers (tf.grad / variableGrads through our modules) against central finite
// differences of independent float64 references of the same functions.
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64train } from '@fae/testing';
import { Linear, LayerNorm, RMSNorm, Mlp, gelu, geluTanh, silu, scaledDotProductAttention, computeGrads, Module } from '@fae/core';

type Nd = ref64.Nd;
type Inputs = Record<string, Nd>;

/** Finite-difference gradient of f (a float64 scalar of the named inputs) w.r.t. every input. */
function fdGrads(inputs: Inputs, f: (ins: Inputs) => number): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const [name, a] of Object.entries(inputs)) {
    const x = Float64Array.from(a.data);
    out[name] = ref64train.centralDiff((v) => f({ ...inputs, [name]: ref64.nd(a.shape, v) }), x);
  }
  return out;
}

/** Variables (for computeGrads) holding the given float64 arrays. */
function variables(inputs: Inputs): Map<string, tf.Variable> {
  return new Map(Object.entries(inputs).map(([k, a]) => {
    const t = ref64.toTensor(a);
    const v = tf.variable(t, true);
    t.dispose();
    return [k, v];
  }));
}

/** Compares our gradients with the finite differences, after mapping ours to the reference layout. */
async function compare(ours: Map<string, tf.Tensor>, ref: Record<string, Float64Array>, toRef: Record<string, (g: tf.Tensor) => tf.Tensor> = {}) {
  expect([...ours.keys()].sort()).toEqual(Object.keys(ref).sort());
  for (const [k, g] of ours) {
    const mapped = toRef[k] ? toRef[k](g) : g;
    await expectClose(mapped, ref[k], 1e-4, `d/d${k}`);
    if (mapped !== g) mapped.dispose();
  }
}

/** computeGrads under expectNoLeaks (the result's tensors listed so they count as returned). */
async function gradsNoLeak(lossFn: () => tf.Scalar, vars: Map<string, tf.Variable>) {
  const { r } = await expectNoLeaks(() => {
    const res = computeGrads(lossFn, vars);
    return { r: res, all: [res.loss, ...res.grads.values()] };
  }, 'computeGrads');
  return r;
}

const projection = (shape: number[], seed: number) => ref64.randomNd(shape, seed);

/** Loads torch-layout float64 values into a module, runs loss = sum(forward(x) * R) and compares grads. */
async function checkModule(mod: Module, params: Inputs, x: Nd, forwardRef: (ins: Inputs) => Nd, outShape: number[], forward: (x: tf.Tensor) => tf.Tensor) {
  const sd = Object.fromEntries(Object.entries(params).map(([k, a]) => [k, ref64.toTensor(a)]));
  await mod.loadStateDict(sd);
  tf.dispose(Object.values(sd));
  const R = projection(outShape, 99);
  const Rt = ref64.toTensor(R);
  const xv = variables({ x });
  const vars = new Map([...mod.trainableVariables(), ...xv]);
  const { loss, grads } = await gradsNoLeak(() => tf.sum(tf.mul(forward(xv.get('x')!), Rt)) as tf.Scalar, vars);
  const refLoss = (ins: Inputs) => ref64train.dot(forwardRef(ins).data, R.data);
  await expectClose(loss, refLoss({ ...params, x }), 1e-5, 'loss');
  const ref = fdGrads({ ...params, x }, refLoss);
  const layouts = Object.fromEntries(mod.namedParameters().filter(([, p]) => p.layout === 'linear').map(([k]) => [k, (g: tf.Tensor) => tf.transpose(g)]));
  await compare(grads, ref, layouts);
  tf.dispose([loss, Rt, ...grads.values(), ...xv.values()]);
  mod.dispose();
}

describeBackends('layer gradients vs float64 finite differences', () => {
  it('Linear: d/dx, d/dweight (PyTorch layout), d/dbias', async () => {
    const params = { weight: ref64.randomNd([5, 4], 1), bias: ref64.randomNd([5], 2) };
    const lin = new Linear(4, 5);
    await checkModule(lin, params, ref64.randomNd([2, 3, 4], 3), (i) => ref64.linearTorch(i.x, i.weight, i.bias), [2, 3, 5], (x) => lin.forward(x));
  });

  it('LayerNorm: d/dx, d/dweight, d/dbias', async () => {
    const params = { weight: ref64.randomNd([6], 4), bias: ref64.randomNd([6], 5) };
    const ln = new LayerNorm(6, { eps: 1e-5 });
    await checkModule(ln, params, ref64.randomNd([3, 6], 6, 2), (i) => ref64.layerNorm(i.x, i.weight, i.bias, 1e-5), [3, 6], (x) => ln.forward(x));
  });

  it('RMSNorm: d/dx, d/dweight', async () => {
    const params = { weight: ref64.randomNd([6], 7) };
    const rn = new RMSNorm(6, { eps: 1e-6 });
    await checkModule(rn, params, ref64.randomNd([3, 6], 8, 2), (i) => ref64.rmsNorm(i.x, i.weight, 1e-6), [3, 6], (x) => rn.forward(x));
  });

  it('Mlp (gelu): d/dx and every weight', async () => {
    const params = {
      'fc1.weight': ref64.randomNd([7, 4], 9), 'fc1.bias': ref64.randomNd([7], 10),
      'fc2.weight': ref64.randomNd([3, 7], 11), 'fc2.bias': ref64.randomNd([3], 12),
    };
    const mlp = new Mlp(4, 7, 3, { act: 'gelu' });
    const ref = (i: Inputs) => ref64.linearTorch(ref64.map(ref64.linearTorch(i.x, i['fc1.weight'], i['fc1.bias']), ref64.gelu), i['fc2.weight'], i['fc2.bias']);
    await checkModule(mlp, params, ref64.randomNd([2, 2, 4], 13, 2), ref, [2, 2, 3], (x) => mlp.forward(x));
  });

  it('gelu, geluTanh, silu: d/dx', async () => {
    const x = ref64.randomNd([24], 14, 3);
    const R = projection([24], 15);
    const Rt = ref64.toTensor(R);
    for (const [name, fn, f64] of [['gelu', gelu, ref64.gelu], ['geluTanh', geluTanh, ref64.geluTanh], ['silu', silu, ref64.silu]] as const) {
      const xt = ref64.toTensor(x);
      const g = await expectNoLeaks(() => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(fn(a), Rt)))(xt), name);
      const ref = ref64train.centralDiff((v) => ref64train.dot(Array.from(v, f64), R.data), Float64Array.from(x.data));
      await expectClose(g, ref, 1e-4, `${name}'`);
      tf.dispose([g, xt]);
    }
    Rt.dispose();
  });

  for (const causal of [false, true]) {
    it(`scaledDotProductAttention${causal ? ' (causal)' : ''}: d/dq, d/dk, d/dv`, async () => {
      const ins = { q: ref64.randomNd([1, 2, 3, 4], 16), k: ref64.randomNd([1, 2, 5, 4], 17), v: ref64.randomNd([1, 2, 5, 3], 18) };
      const R = projection([1, 2, 3, 3], 19);
      const Rt = ref64.toTensor(R);
      const vars = variables(ins);
      const { loss, grads } = await gradsNoLeak(
        () => tf.sum(tf.mul(scaledDotProductAttention(vars.get('q')!, vars.get('k')!, vars.get('v')!, { causal, scale: 0.7 }), Rt)) as tf.Scalar, vars);
      const f = (i: Inputs) => ref64train.dot(ref64.attention(i.q, i.k, i.v, { causal, scale: 0.7 }).data, R.data);
      await expectClose(loss, f(ins), 1e-5, 'loss');
      await compare(grads, fdGrads(ins, f));
      tf.dispose([loss, Rt, ...grads.values(), ...vars.values()]);
    });
  }
});
