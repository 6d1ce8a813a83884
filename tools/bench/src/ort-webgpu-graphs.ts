// ONNX graphs for the JS peer on the GPU (issue #18): the ViT-B block and DINOv2-B/14 encode, for
// onnxruntime-web's WebGPU execution provider (ort-webgpu-bench.ts). Built programmatically with
// onnx-builder.ts, random weights (speed does not depend on them). Each graph has a second output,
// `probe` (the first element of y): reading it back waits for the queue, as the tfjs side waits on
// one element.
import { buildOnnxModel, randomInitializerValues as rand, type OnnxInitializer, type OnnxNode } from './onnx-builder.js';

interface Part {
  nodes: OnnxNode[];
  init: OnnxInitializer[];
}

/** Shared constants of the blocks (names without prefix). */
function constants(b: number, t: number, d: number, h: number): OnnxInitializer[] {
  const dh = d / h;
  return [
    { name: 'shape_qkv', dims: [5], int64: [b, t, 3, h, dh] }, { name: 'shape_out', dims: [3], int64: [b, t, d] },
    { name: 'scale', dims: [], float: Float32Array.of(1 / Math.sqrt(dh)) },
    { name: 'sqrt1_2', dims: [], float: Float32Array.of(Math.SQRT1_2) }, { name: 'half', dims: [], float: Float32Array.of(0.5) },
    { name: 'one', dims: [], float: Float32Array.of(1) },
    { name: 'i0', dims: [], int64: [0] }, { name: 'i1', dims: [], int64: [1] }, { name: 'i2', dims: [], int64: [2] },
    { name: 'probe_starts', dims: [1], int64: [0] }, { name: 'probe_ends', dims: [1], int64: [1] },
    { name: 'flat', dims: [1], int64: [-1] },
  ];
}

/**
 * One pre-LN ViT block x -> y ([B, T, D]) with exact GELU (Erf) and, for DINOv2, LayerScale; node and
 * weight names prefixed with `p`. The same graph as ort-graphs.ts's block (onnxruntime-node).
 */
function block(p: string, x: string, y: string, d: number, seed: number, layerScale: boolean): Part {
  const n = (s: string) => `${p}${s}`;
  const init: OnnxInitializer[] = [
    { name: n('ln1_g'), dims: [d], float: new Float32Array(d).fill(1) }, { name: n('ln1_b'), dims: [d], float: new Float32Array(d) },
    { name: n('ln2_g'), dims: [d], float: new Float32Array(d).fill(1) }, { name: n('ln2_b'), dims: [d], float: new Float32Array(d) },
    { name: n('w_qkv'), dims: [d, 3 * d], float: rand(d * 3 * d, seed + 3) }, { name: n('b_qkv'), dims: [3 * d], float: rand(3 * d, seed + 4) },
    { name: n('w_o'), dims: [d, d], float: rand(d * d, seed + 5) }, { name: n('b_o'), dims: [d], float: rand(d, seed + 6) },
    { name: n('w_1'), dims: [d, 4 * d], float: rand(d * 4 * d, seed + 7) }, { name: n('b_1'), dims: [4 * d], float: rand(4 * d, seed + 8) },
    { name: n('w_2'), dims: [4 * d, d], float: rand(4 * d * d, seed + 9) }, { name: n('b_2'), dims: [d], float: rand(d, seed + 10) },
    ...(layerScale ? [{ name: n('ls1'), dims: [d], float: new Float32Array(d).fill(0.1) }, { name: n('ls2'), dims: [d], float: new Float32Array(d).fill(0.1) }] : []),
  ];
  const attnOut = layerScale ? n('o5') : n('o4');
  const mlpOut = layerScale ? n('m4') : n('m3');
  const nodes: OnnxNode[] = [
    { op: 'LayerNormalization', inputs: [x, n('ln1_g'), n('ln1_b')], outputs: [n('h1')], attrs: { axis: -1, epsilon: { f: 1e-6 } } },
    { op: 'MatMul', inputs: [n('h1'), n('w_qkv')], outputs: [n('qkv0')] },
    { op: 'Add', inputs: [n('qkv0'), n('b_qkv')], outputs: [n('qkv1')] },
    { op: 'Reshape', inputs: [n('qkv1'), 'shape_qkv'], outputs: [n('qkv2')] }, // [B, T, 3, H, Dh]
    { op: 'Transpose', inputs: [n('qkv2')], outputs: [n('qkv3')], attrs: { perm: [2, 0, 3, 1, 4] } }, // [3, B, H, T, Dh]
    { op: 'Gather', inputs: [n('qkv3'), 'i0'], outputs: [n('q')], attrs: { axis: 0 } },
    { op: 'Gather', inputs: [n('qkv3'), 'i1'], outputs: [n('k')], attrs: { axis: 0 } },
    { op: 'Gather', inputs: [n('qkv3'), 'i2'], outputs: [n('v')], attrs: { axis: 0 } },
    { op: 'Transpose', inputs: [n('k')], outputs: [n('kt')], attrs: { perm: [0, 1, 3, 2] } },
    { op: 'MatMul', inputs: [n('q'), n('kt')], outputs: [n('s0')] },
    { op: 'Mul', inputs: [n('s0'), 'scale'], outputs: [n('s1')] },
    { op: 'Softmax', inputs: [n('s1')], outputs: [n('p')], attrs: { axis: -1 } },
    { op: 'MatMul', inputs: [n('p'), n('v')], outputs: [n('o0')] }, // [B, H, T, Dh]
    { op: 'Transpose', inputs: [n('o0')], outputs: [n('o1')], attrs: { perm: [0, 2, 1, 3] } },
    { op: 'Reshape', inputs: [n('o1'), 'shape_out'], outputs: [n('o2')] },
    { op: 'MatMul', inputs: [n('o2'), n('w_o')], outputs: [n('o3')] },
    { op: 'Add', inputs: [n('o3'), n('b_o')], outputs: [n('o4')] },
    ...(layerScale ? [{ op: 'Mul', inputs: [n('o4'), n('ls1')], outputs: [n('o5')] }] : []),
    { op: 'Add', inputs: [x, attnOut], outputs: [n('x1')] },
    { op: 'LayerNormalization', inputs: [n('x1'), n('ln2_g'), n('ln2_b')], outputs: [n('h2')], attrs: { axis: -1, epsilon: { f: 1e-6 } } },
    { op: 'MatMul', inputs: [n('h2'), n('w_1')], outputs: [n('m0')] },
    { op: 'Add', inputs: [n('m0'), n('b_1')], outputs: [n('m1')] },
    { op: 'Mul', inputs: [n('m1'), 'sqrt1_2'], outputs: [n('g0')] },
    { op: 'Erf', inputs: [n('g0')], outputs: [n('g1')] },
    { op: 'Add', inputs: [n('g1'), 'one'], outputs: [n('g2')] },
    { op: 'Mul', inputs: [n('m1'), n('g2')], outputs: [n('g3')] },
    { op: 'Mul', inputs: [n('g3'), 'half'], outputs: [n('g4')] },
    { op: 'MatMul', inputs: [n('g4'), n('w_2')], outputs: [n('m2')] },
    { op: 'Add', inputs: [n('m2'), n('b_2')], outputs: [n('m3')] },
    ...(layerScale ? [{ op: 'Mul', inputs: [n('m3'), n('ls2')], outputs: [n('m4')] }] : []),
    { op: 'Add', inputs: [n('x1'), mlpOut], outputs: [y] },
  ];
  return { nodes, init };
}

/** y's first element as output `probe` ([1]). */
function probe(y: string): OnnxNode[] {
  return [
    { op: 'Reshape', inputs: [y, 'flat'], outputs: ['y_flat'] },
    { op: 'Slice', inputs: ['y_flat', 'probe_starts', 'probe_ends'], outputs: ['probe'] },
  ];
}

/** The ViT-B block of the GPU benchmark: x [B, T, D] -> y [B, T, D] (+ probe). */
export function vitBlockGraph(b: number, t: number, d: number, h: number): { model: Uint8Array; input: { name: string; dims: number[] } } {
  const blk = block('', 'x', 'y', d, 0, false);
  const model = buildOnnxModel({
    nodes: [...blk.nodes, ...probe('y')],
    initializers: [...constants(b, t, d, h), ...blk.init],
    inputs: [{ name: 'x', dims: [b, t, d] }],
    outputs: [{ name: 'y', dims: [b, t, d] }, { name: 'probe', dims: [1] }],
  });
  return { model, input: { name: 'x', dims: [b, t, d] } };
}

/**
 * DINOv2-B/14 encode at `image` px (transformers Dinov2Model layout: 14x14 patch conv, CLS token,
 * position embedding, `depth` pre-LN blocks with LayerScale, final LayerNorm): pixels [B, 3, H, W]
 * -> tokens [B, 1 + (H/14)^2, D] (+ probe). No register tokens, no position interpolation (fixed size).
 */
export function dinov2Graph(b: number, image: number, d = 768, heads = 12, depth = 12, patch = 14): { model: Uint8Array; input: { name: string; dims: number[] } } {
  const g = image / patch;
  const t = 1 + g * g;
  const nodes: OnnxNode[] = [
    { op: 'Conv', inputs: ['pixels', 'patch_w', 'patch_b'], outputs: ['pe0'], attrs: { kernel_shape: [patch, patch], strides: [patch, patch] } }, // [B, D, g, g]
    { op: 'Reshape', inputs: ['pe0', 'shape_pe'], outputs: ['pe1'] }, // [B, D, g*g]
    { op: 'Transpose', inputs: ['pe1'], outputs: ['pe2'], attrs: { perm: [0, 2, 1] } }, // [B, g*g, D]
    { op: 'Expand', inputs: ['cls', 'shape_cls'], outputs: ['cls_b'] }, // [B, 1, D]
    { op: 'Concat', inputs: ['cls_b', 'pe2'], outputs: ['tok0'], attrs: { axis: 1 } }, // [B, T, D]
    { op: 'Add', inputs: ['tok0', 'pos'], outputs: ['x0'] },
  ];
  const init: OnnxInitializer[] = [
    ...constants(b, t, d, heads),
    { name: 'patch_w', dims: [d, 3, patch, patch], float: rand(d * 3 * patch * patch, 90) },
    { name: 'patch_b', dims: [d], float: rand(d, 91) },
    { name: 'shape_pe', dims: [3], int64: [b, d, g * g] },
    { name: 'cls', dims: [1, 1, d], float: rand(d, 92) },
    { name: 'shape_cls', dims: [3], int64: [b, 1, d] },
    { name: 'pos', dims: [1, t, d], float: rand(t * d, 93) },
    { name: 'lnf_g', dims: [d], float: new Float32Array(d).fill(1) }, { name: 'lnf_b', dims: [d], float: new Float32Array(d) },
  ];
  for (let i = 0; i < depth; i++) {
    const blk = block(`l${i}_`, `x${i}`, `x${i + 1}`, d, 100 + 20 * i, true);
    nodes.push(...blk.nodes);
    init.push(...blk.init);
  }
  nodes.push({ op: 'LayerNormalization', inputs: [`x${depth}`, 'lnf_g', 'lnf_b'], outputs: ['y'], attrs: { axis: -1, epsilon: { f: 1e-6 } } });
  nodes.push(...probe('y'));
  const model = buildOnnxModel({
    nodes,
    initializers: init,
    inputs: [{ name: 'pixels', dims: [b, 3, image, image] }],
    outputs: [{ name: 'y', dims: [b, t, d] }, { name: 'probe', dims: [1] }],
  });
  return { model, input: { name: 'pixels', dims: [b, 3, image, image] } };
}
