// The one timing loop of the benchmarks (CPU and GPU, tools/bench and, through the `@fae/bench/timing`
// export, the packages' own bench scripts): median of timed runs after warm-ups, each run waiting
// until its outputs exist. Imports only tfjs-core.
import * as tf from '@tensorflow/tfjs-core';

export interface Timing {
  name: string;
  ms: number;
  /** Work per iteration, for GFLOP/s where meaningful. */
  flops?: number;
  gflops?: number;
  /** Items per second (images, sample-steps) for whole-model workloads, with its unit. */
  rate?: number;
  unit?: string;
  /** Parameters of the model (whole-model workloads). */
  params?: number;
  /** Timed runs the median is taken over. */
  iters?: number;
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
  const probe = oneElement(list[list.length - 1]);
  await probe.data();
  probe.dispose();
}

/**
 * A new tensor holding the first element of `t`, computed after everything queued before it: what a
 * timed call returns when its result is a variable it keeps (timeIt disposes the outputs).
 */
export function oneElement(t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.slice(tf.reshape(t, [-1]), [0], [1]));
}

/** One call of `fn`: waits for its outputs with `settle`, then frees them. */
export async function runSettled(
  fn: () => tf.Tensor | tf.Tensor[] | Promise<tf.Tensor | tf.Tensor[]>,
  settle: (outputs: tf.Tensor[]) => Promise<void> = readAll,
): Promise<void> {
  const out = await fn();
  const list = Array.isArray(out) ? out : [out];
  await settle(list);
  tf.dispose(list);
}

/** Median time of `iters` runs after `warmup` runs; each run waits for its outputs with `settle`. */
export async function timeIt(
  name: string,
  fn: () => tf.Tensor | tf.Tensor[] | Promise<tf.Tensor | tf.Tensor[]>,
  opts: { warmup?: number; iters?: number; flops?: number; settle?: (outputs: tf.Tensor[]) => Promise<void> } = {},
): Promise<Timing> {
  const run = () => runSettled(fn, opts.settle);
  for (let i = 0; i < (opts.warmup ?? 1); i++) await run();
  const times: number[] = [];
  for (let i = 0; i < (opts.iters ?? 3); i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)];
  return { name, ms, flops: opts.flops, gflops: opts.flops ? opts.flops / ms / 1e6 : undefined, iters: times.length };
}
