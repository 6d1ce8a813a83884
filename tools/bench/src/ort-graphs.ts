// onnxruntime-node sessions for the same shapes as the tfjs workloads, graphs built programmatically.
import { buildOnnxModel, randomInitializerValues as rand, type OnnxInitializer, type OnnxNode } from './onnx-builder.js';

async function session(model: Uint8Array, threads: number, inputs: Record<string, { data: Float32Array; dims: number[] }>) {
  const ort = await import('onnxruntime-node');
  const sess = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]));
  return {
    async time(name: string, flops: number) {
      await sess.run(feeds);
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await sess.run(feeds);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      const ms = times[2];
      return { name, ms, flops, gflops: flops / ms / 1e6 };
    },
  };
}

export async function ortMatmulSession(n: number, threads: number) {
  const model = buildOnnxModel({
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['c'] }],
    initializers: [],
    inputs: [{ name: 'a', dims: [n, n] }, { name: 'b', dims: [n, n] }],
    outputs: [{ name: 'c', dims: [n, n] }],
  });
  return session(model, threads, { a: { data: rand(n * n, 1, 1), dims: [n, n] }, b: { data: rand(n * n, 2, 1), dims: [n, n] } });
}

/** Pre-LN ViT block: LayerNormalization, fused qkv MatMul, softmax attention, MLP with exact GELU (Erf). */
export async function ortBlockSession(b: number, t: number, d: number, h: number, threads: number) {
  const dh = d / h;
  const init: OnnxInitializer[] = [
    { name: 'ln1_g', dims: [d], float: new Float32Array(d).fill(1) }, { name: 'ln1_b', dims: [d], float: new Float32Array(d) },
    { name: 'ln2_g', dims: [d], float: new Float32Array(d).fill(1) }, { name: 'ln2_b', dims: [d], float: new Float32Array(d) },
    { name: 'w_qkv', dims: [d, 3 * d], float: rand(d * 3 * d, 3) }, { name: 'b_qkv', dims: [3 * d], float: rand(3 * d, 4) },
    { name: 'w_o', dims: [d, d], float: rand(d * d, 5) }, { name: 'b_o', dims: [d], float: rand(d, 6) },
    { name: 'w_1', dims: [d, 4 * d], float: rand(d * 4 * d, 7) }, { name: 'b_1', dims: [4 * d], float: rand(4 * d, 8) },
    { name: 'w_2', dims: [4 * d, d], float: rand(4 * d * d, 9) }, { name: 'b_2', dims: [d], float: rand(d, 10) },
    { name: 'shape_qkv', dims: [5], int64: [b, t, 3, h, dh] }, { name: 'shape_out', dims: [3], int64: [b, t, d] },
    { name: 'scale', dims: [], float: Float32Array.of(1 / Math.sqrt(dh)) },
    { name: 'sqrt1_2', dims: [], float: Float32Array.of(Math.SQRT1_2) }, { name: 'half', dims: [], float: Float32Array.of(0.5) },
    { name: 'one', dims: [], float: Float32Array.of(1) },
    { name: 'i0', dims: [], int64: [0] }, { name: 'i1', dims: [], int64: [1] }, { name: 'i2', dims: [], int64: [2] },
  ];
  const nodes: OnnxNode[] = [
    { op: 'LayerNormalization', inputs: ['x', 'ln1_g', 'ln1_b'], outputs: ['h1'], attrs: { axis: -1, epsilon: { f: 1e-6 } } },
    { op: 'MatMul', inputs: ['h1', 'w_qkv'], outputs: ['qkv0'] },
    { op: 'Add', inputs: ['qkv0', 'b_qkv'], outputs: ['qkv1'] },
    { op: 'Reshape', inputs: ['qkv1', 'shape_qkv'], outputs: ['qkv2'] }, // [B, T, 3, H, Dh]
    { op: 'Transpose', inputs: ['qkv2'], outputs: ['qkv3'], attrs: { perm: [2, 0, 3, 1, 4] } }, // [3, B, H, T, Dh]
    { op: 'Gather', inputs: ['qkv3', 'i0'], outputs: ['q'], attrs: { axis: 0 } },
    { op: 'Gather', inputs: ['qkv3', 'i1'], outputs: ['k'], attrs: { axis: 0 } },
    { op: 'Gather', inputs: ['qkv3', 'i2'], outputs: ['v'], attrs: { axis: 0 } },
    { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: [0, 1, 3, 2] } },
    { op: 'MatMul', inputs: ['q', 'kt'], outputs: ['s0'] },
    { op: 'Mul', inputs: ['s0', 'scale'], outputs: ['s1'] },
    { op: 'Softmax', inputs: ['s1'], outputs: ['p'], attrs: { axis: -1 } },
    { op: 'MatMul', inputs: ['p', 'v'], outputs: ['o0'] }, // [B, H, T, Dh]
    { op: 'Transpose', inputs: ['o0'], outputs: ['o1'], attrs: { perm: [0, 2, 1, 3] } },
    { op: 'Reshape', inputs: ['o1', 'shape_out'], outputs: ['o2'] },
    { op: 'MatMul', inputs: ['o2', 'w_o'], outputs: ['o3'] },
    { op: 'Add', inputs: ['o3', 'b_o'], outputs: ['o4'] },
    { op: 'Add', inputs: ['x', 'o4'], outputs: ['x1'] },
    { op: 'LayerNormalization', inputs: ['x1', 'ln2_g', 'ln2_b'], outputs: ['h2'], attrs: { axis: -1, epsilon: { f: 1e-6 } } },
    { op: 'MatMul', inputs: ['h2', 'w_1'], outputs: ['m0'] },
    { op: 'Add', inputs: ['m0', 'b_1'], outputs: ['m1'] },
    { op: 'Mul', inputs: ['m1', 'sqrt1_2'], outputs: ['g0'] },
    { op: 'Erf', inputs: ['g0'], outputs: ['g1'] },
    { op: 'Add', inputs: ['g1', 'one'], outputs: ['g2'] },
    { op: 'Mul', inputs: ['m1', 'g2'], outputs: ['g3'] },
    { op: 'Mul', inputs: ['g3', 'half'], outputs: ['g4'] },
    { op: 'MatMul', inputs: ['g4', 'w_2'], outputs: ['m2'] },
    { op: 'Add', inputs: ['m2', 'b_2'], outputs: ['m3'] },
    { op: 'Add', inputs: ['x1', 'm3'], outputs: ['y'] },
  ];
  const model = buildOnnxModel({ nodes, initializers: init, inputs: [{ name: 'x', dims: [b, t, d] }], outputs: [{ name: 'y', dims: [b, t, d] }] });
  return session(model, threads, { x: { data: rand(b * t * d, 11, 1), dims: [b, t, d] } });
}
