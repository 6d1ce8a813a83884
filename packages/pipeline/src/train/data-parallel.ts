// Data-parallel training on one host: one model replica per process (per GPU: each process restricted
// to its card, see examples/cli's README), gradients averaged every step through the coordinating
// parent process.
//
//   parent: startReplicas(script, n)  --fork, IPC channel (advanced serialization: typed arrays)-->  n replicas
//   replica r, each step: loss_r, grads_r = computeGrads(lossFn on its part of the batch)       (own device)
//                         flat_r = [g_r of every trainable parameter, in sorted name order]     [P] float32
//                         send(step, flat_r, loss_r)  ->  parent sums in float64 in rank order, / n,
//                         rounds to float32 once and sends the same mean back to every replica
//                         optimizer.step(mean, { lr, gradScale }) (clip on the mean gradient's norm)
//
// Every replica applies the same bytes to the same weights with the same optimizer state, so replicas
// stay bit-identical without broadcasting weights; with equal per-replica batches the mean gradient is
// the gradient of the summed batch (losses that are per-batch means), so the run equals one replica
// on the summed batch to float32 rounding (tested with 2 wasm replicas). Costs per step: one device ->
// host read and one host -> device upload of all gradients per replica, and 2 x P x 4 bytes over the
// pipe: fine for small and medium models; for DiT-XL sized ones the copy through the host is the
// bottleneck (a shared-memory ring or NCCL-like device peer copies are the next step, not available
// to WebGPU).
import type { ChildProcess } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, FaeError, computeGrads, disposeGrads, type AdamW, type NamedGrads } from '@fae/core';

/** A replica failed, or the group broke (code 'DATA_PARALLEL'). */
export class DataParallelError extends FaeError {
  constructor(problem: string) {
    super('DATA_PARALLEL', problem);
  }
}

interface GradMessage {
  type: 'fae-dp-grads';
  rank: number;
  step: number;
  loss: number;
  grads: Float32Array;
}

interface MeanMessage {
  type: 'fae-dp-mean';
  step: number;
  loss: number;
  grads: Float32Array;
}

/** Rank and size of this replica (env FAE_DP_RANK / FAE_DP_SIZE, set by startReplicas). */
export function replicaInfo(env: Record<string, string | undefined> = process.env): { rank: number; size: number } {
  const rank = Number(env.FAE_DP_RANK ?? 0);
  const size = Number(env.FAE_DP_SIZE ?? 1);
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(rank) || rank < 0 || rank >= size) throw new ConfigError('FAE_DP_RANK/FAE_DP_SIZE', `expected 0 <= rank < size, got ${rank} of ${size}`);
  return { rank, size };
}

/** The replica's side: all-reduce (mean) of a flat gradient through the parent. Alone (size 1, no parent), the identity. */
export class ReplicaGroup {
  readonly rank: number;
  readonly size: number;
  private waiting: { step: number; resolve: (m: MeanMessage) => void } | null = null;
  private readonly onMessage = (m: unknown) => {
    const msg = m as MeanMessage;
    if (msg?.type !== 'fae-dp-mean' || !this.waiting) return;
    if (msg.step !== this.waiting.step) throw new DataParallelError(`replica ${this.rank}: got the mean of step ${msg.step} while waiting for step ${this.waiting.step}`);
    const w = this.waiting;
    this.waiting = null;
    w.resolve(msg);
  };

  constructor(info = replicaInfo()) {
    this.rank = info.rank;
    this.size = info.size;
    if (this.size > 1) {
      if (!process.send) throw new DataParallelError(`replica ${this.rank} of ${this.size} has no IPC channel: start it with startReplicas()`);
      process.on('message', this.onMessage);
    }
  }

  /** The mean over replicas of `grads` (same length everywhere) and of `loss`. */
  async allReduceMean(step: number, grads: Float32Array, loss: number): Promise<{ grads: Float32Array; loss: number }> {
    if (this.size === 1) return { grads, loss };
    const reply = new Promise<MeanMessage>((resolve) => (this.waiting = { step, resolve }));
    process.send!({ type: 'fae-dp-grads', rank: this.rank, step, loss, grads } satisfies GradMessage);
    const m = await reply;
    return { grads: m.grads, loss: m.loss };
  }

  close(): void {
    process.off('message', this.onMessage);
    if (this.size > 1) process.disconnect?.();
  }
}

export interface DataParallelStepOptions {
  optimizer: AdamW;
  /** This replica's loss on its part of the batch (a per-batch mean). */
  lossFn: () => tf.Scalar;
  group: ReplicaGroup;
  step: number;
  lr?: number;
  /** Clip the mean gradient to this global norm (torch's clip_grad_norm_). */
  clipNorm?: number;
}

/** One synchronous data-parallel step; returns the mean loss and the mean gradient's norm (before clipping). */
export async function dataParallelStep(o: DataParallelStepOptions): Promise<{ loss: number; gradNorm: number }> {
  const names = [...o.optimizer.params.keys()].filter((k) => o.optimizer.params.get(k)!.trainable).sort();
  const { loss, grads } = computeGrads(o.lossFn, o.optimizer.params);
  let mean: NamedGrads | null = null;
  try {
    const shapes = names.map((k) => o.optimizer.params.get(k)!.shape);
    const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    const flat = new Float32Array(sizes.reduce((a, b) => a + b, 0));
    let off = 0;
    for (const [i, k] of names.entries()) {
      const g = grads.get(k);
      if (g) flat.set((await g.data()) as Float32Array, off); // a parameter the loss does not touch: zeros
      off += sizes[i];
    }
    const lossValue = (await loss.data())[0];
    const r = await o.group.allReduceMean(o.step, flat, lossValue);
    if (r.grads.length !== flat.length) throw new DataParallelError(`step ${o.step}: the mean gradient has ${r.grads.length} values, this replica ${flat.length} (replicas hold different models?)`);
    let sq = 0;
    for (let i = 0; i < r.grads.length; i++) sq += r.grads[i] * r.grads[i];
    const gradNorm = Math.sqrt(sq);
    if (!Number.isFinite(gradNorm) || !Number.isFinite(r.loss)) throw new DataParallelError(`step ${o.step}: non-finite mean loss or gradient`);
    mean = new Map();
    off = 0;
    for (const [i, k] of names.entries()) {
      mean.set(k, tf.tensor(r.grads.subarray(off, off + sizes[i]), shapes[i]));
      off += sizes[i];
    }
    const coef = o.clipNorm !== undefined ? o.clipNorm / (gradNorm + 1e-6) : 1;
    o.optimizer.step(mean, { lr: o.lr, gradScale: coef < 1 ? coef : undefined });
    return { loss: r.loss, gradNorm };
  } finally {
    disposeGrads(grads);
    loss.dispose();
    if (mean) disposeGrads(mean);
  }
}

export interface StartReplicasOptions {
  /** Extra environment per replica (e.g. the GPU selection of rank r). */
  env?: (rank: number) => Record<string, string>;
  args?: string[];
  execArgv?: string[];
  onStderr?: (rank: number, text: string) => void;
}

/**
 * The parent's side: forks `size` replicas of `script` (FAE_DP_RANK / FAE_DP_SIZE set), answers every
 * step's gradients with their float64-summed mean (rank order, rounded once to float32), and resolves
 * with each replica's stdout when all exit 0. A replica that fails stops the others (the error quotes
 * the end of its stderr).
 */
export async function startReplicas(script: string, size: number, o: StartReplicasOptions = {}): Promise<string[]> {
  if (!Number.isInteger(size) || size < 1) throw new ConfigError('startReplicas', `size must be >= 1, got ${size}`);
  const { fork } = await import('node:child_process');
  const children: ChildProcess[] = [];
  const outputs = Array.from({ length: size }, () => '');
  const errors = Array.from({ length: size }, () => '');
  const pending = new Map<number, GradMessage[]>();
  return new Promise<string[]>((resolve, reject) => {
    let exited = 0;
    let failed = false;
    const fail = (why: string) => {
      if (failed) return;
      failed = true;
      for (const c of children) if (c.exitCode === null) c.kill();
      reject(new DataParallelError(why));
    };
    for (let rank = 0; rank < size; rank++) {
      const child = fork(script, o.args ?? [], {
        env: { ...process.env, ...(o.env?.(rank) ?? {}), FAE_DP_RANK: String(rank), FAE_DP_SIZE: String(size) },
        serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: o.execArgv,
      });
      children.push(child);
      child.stdout!.on('data', (d) => (outputs[rank] += d));
      child.stderr!.on('data', (d) => {
        errors[rank] = (errors[rank] + d).slice(-2000);
        o.onStderr?.(rank, String(d));
      });
      child.on('message', (m) => {
        const msg = m as GradMessage;
        if (msg?.type !== 'fae-dp-grads') return;
        const list = pending.get(msg.step) ?? [];
        list.push(msg);
        pending.set(msg.step, list);
        if (list.length < size) return;
        pending.delete(msg.step);
        list.sort((a, b) => a.rank - b.rank);
        const n = list[0].grads.length;
        if (list.some((x) => x.grads.length !== n)) return fail(`step ${msg.step}: replicas sent gradients of different sizes (${list.map((x) => x.grads.length).join(', ')})`);
        const sum = new Float64Array(n);
        for (const x of list) for (let i = 0; i < n; i++) sum[i] += x.grads[i];
        const grads = new Float32Array(n);
        for (let i = 0; i < n; i++) grads[i] = sum[i] / size;
        const loss = list.reduce((s, x) => s + x.loss, 0) / size;
        for (const c of children) c.send({ type: 'fae-dp-mean', step: msg.step, loss, grads } satisfies MeanMessage);
      });
      child.on('error', (e) => fail(`replica ${rank}: ${e.message}`));
      child.on('exit', (code, signal) => {
        if (code !== 0) {
          const lines = errors[rank].trim().split('\n');
          const why = [...lines].reverse().find((l) => /^\w*(Error|Exception)\b/.test(l.trim())) ?? lines.at(-1) ?? '';
          return fail(`replica ${rank} of ${size} exited with ${code ?? signal}${why ? `: ${why.trim()}` : ''}`);
        }
        if (++exited === size && !failed) resolve(outputs);
      });
    }
  });
}
