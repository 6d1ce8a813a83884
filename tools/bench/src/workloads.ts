// Benchmark workloads shared by the CPU and GPU benchmarks: shapes and builders.
import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm, Module, MultiHeadAttention, Mlp } from '@fae/core';

/** A pre-LN ViT block (timm layout): x + attn(norm1(x)); x + mlp(norm2(x)). */
export class VitBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(dim: number, heads: number, mlpRatio = 4) {
    super();
    this.norm1 = this.addModule('norm1', new LayerNorm(dim, { eps: 1e-6 }));
    this.attn = this.addModule('attn', new MultiHeadAttention(dim, heads, { seed: 1 }));
    this.norm2 = this.addModule('norm2', new LayerNorm(dim, { eps: 1e-6 }));
    this.mlp = this.addModule('mlp', new Mlp(dim, dim * mlpRatio, dim, { seed: 2 }));
  }
  /** x: [B, T, D] -> [B, T, D] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.attn.forward(this.norm1.forward(x)));
      return tf.add(h, this.mlp.forward(this.norm2.forward(h)));
    });
  }
}

export interface Timing {
  name: string;
  ms: number;
  /** Work per iteration, for GFLOP/s where meaningful. */
  flops?: number;
  gflops?: number;
  note?: string;
}

/** Waits until every output is computed: reads them all back (CPU backends). */
export async function readAll(list: tf.Tensor[]): Promise<void> {
  await Promise.all(list.map((t) => t.data()));
}

/**
 * GPU backends: reads back one element of the last output. The queue runs in order, so every
 * queued kernel has finished, without timing a full download.
 */
export async function readOneElement(list: tf.Tensor[]): Promise<void> {
  const probe = tf.tidy(() => tf.slice(tf.reshape(list[list.length - 1], [-1]), [0], [1]));
  await probe.data();
  probe.dispose();
}

/** Median time of `iters` runs after `warmup` runs; each run waits for its outputs with `settle`. */
export async function timeIt(
  name: string,
  fn: () => tf.Tensor | tf.Tensor[] | Promise<tf.Tensor | tf.Tensor[]>,
  opts: { warmup?: number; iters?: number; flops?: number; settle?: (outputs: tf.Tensor[]) => Promise<void> } = {},
): Promise<Timing> {
  const settle = opts.settle ?? readAll;
  const run = async () => {
    const out = await fn();
    const list = Array.isArray(out) ? out : [out];
    await settle(list);
    tf.dispose(list);
  };
  for (let i = 0; i < (opts.warmup ?? 1); i++) await run();
  const times: number[] = [];
  for (let i = 0; i < (opts.iters ?? 3); i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)];
  return { name, ms, flops: opts.flops, gflops: opts.flops ? opts.flops / ms / 1e6 : undefined };
}

/** FLOPs of a pre-LN ViT block forward (matmuls only) for B x T tokens of width D. */
export function vitBlockFlops(b: number, t: number, d: number, mlpRatio = 4): number {
  const n = b * t;
  const proj = 2 * n * d * (3 * d + d + 2 * mlpRatio * d);
  const attn = 2 * 2 * b * t * t * d;
  return proj + attn;
}
