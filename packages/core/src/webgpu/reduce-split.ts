// Sum and Mean over a large inner extent in two passes on webgpu. tfjs-backend-webgpu reduces each
// output element in ONE workgroup (at most 512 threads), so a loss `mean(x)` over a whole activation
// (64 x 256 x 768 = 12.6M elements) ran as a single workgroup for 9.5 ms on an H100, the largest
// kernel of the ViT-B block's forward+backward (BENCHMARKS.md, issue #18 profile). Here the reduced
// extent n = P * C is viewed as [outer * P, C] (C divides n, so no copy and no padding): pass one
// reduces the chunks with outer * P workgroups, pass two the P partial results per output, both with
// tfjs's own reduce program. The mean is a mean of equal-size chunk means. Summation order differs
// from the one-pass kernel (pairwise-like: usually closer to the exact sum).
import * as tf from '@tensorflow/tfjs-core';

type KernelFunc = (args: { inputs: Record<string, tf.TensorInfo>; backend: any; attrs?: Record<string, unknown> }) => tf.TensorInfo;

/** Split only where the one-pass kernel leaves the GPU idle: few outputs, each over many elements. */
export const SPLIT_REDUCE_POLICY = { minInner: 1 << 16, maxOuter: 64, minChunk: 256, maxChunk: 1 << 16 };

const chunkCache = new Map<number, number>();

/** The divisor of n in [minChunk, maxChunk] closest to sqrt(n), or 0 when there is none. */
export function splitChunk(n: number): number {
  const hit = chunkCache.get(n);
  if (hit !== undefined) return hit;
  const { minChunk, maxChunk } = SPLIT_REDUCE_POLICY;
  const target = Math.min(maxChunk, Math.max(minChunk, Math.round(Math.sqrt(n))));
  let best = 0;
  for (let d = 0; target - d >= minChunk || target + d <= maxChunk; d++) {
    if (target - d >= minChunk && n % (target - d) === 0) { best = target - d; break; }
    if (target + d <= maxChunk && n % (target + d) === 0) { best = target + d; break; }
  }
  chunkCache.set(n, best);
  return best;
}

/** How an input of `shape` reduced over `axes` would be split: [outer, P, C], or null (one pass). */
export function splitPlan(shape: readonly number[], axes: readonly number[], dtype: string): [number, number, number] | null {
  if (dtype !== 'float32' && dtype !== 'int32') return null;
  const rank = shape.length;
  const sorted = [...axes].sort((a, b) => a - b);
  // only the innermost axes (tfjs transposes other layouts first: that path stays as it is)
  if (sorted.some((a, i) => a !== rank - sorted.length + i)) return null;
  const inner = shape.slice(rank - sorted.length).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, rank - sorted.length).reduce((a, b) => a * b, 1);
  if (inner < SPLIT_REDUCE_POLICY.minInner || outer > SPLIT_REDUCE_POLICY.maxOuter) return null;
  const chunk = splitChunk(inner);
  return chunk ? [outer, inner / chunk, chunk] : null;
}

/** Counts the reductions that took the two-pass path (tests read it). */
export const splitReduceStats = { calls: 0 };

/** A Sum/Mean kernel that splits large inner reductions, calling `original` (tfjs's) for every pass. */
export function splitReduceKernel(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs = {} } = args;
    const x = inputs.x;
    const axes = tf.util.parseAxisParam((attrs.axis ?? null) as number | number[], x.shape);
    const plan = splitPlan(x.shape, axes, x.dtype);
    if (!plan) return original(args);
    const [outer, parts, chunk] = plan;
    splitReduceStats.calls++;
    const reshape = tf.getKernel('Reshape', 'webgpu')!.kernelFunc as unknown as KernelFunc;
    const view = reshape({ inputs: { x }, backend, attrs: { shape: [outer * parts, chunk] } }); // [outer * P, C]
    const partial = original({ inputs: { x: view }, backend, attrs: { axis: [1], keepDims: false } }); // [outer * P]
    const grid = reshape({ inputs: { x: partial }, backend, attrs: { shape: [outer, parts] } }); // [outer, P]
    const reduced = original({ inputs: { x: grid }, backend, attrs: { axis: [1], keepDims: false } }); // [outer]
    let outShape = x.shape.filter((_, i) => !axes.includes(i));
    if (attrs.keepDims) outShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const out = reshape({ inputs: { x: reduced }, backend, attrs: { shape: outShape } });
    for (const t of [view, partial, grid, reduced]) backend.disposeData(t.dataId);
    return out;
  };
}
