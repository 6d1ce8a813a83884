// Data-parallel training on one host: one model replica per process (per GPU: each process restricted
// to its card, see examples/cli's README), gradients averaged every step through the coordinating
// parent process. Why processes and not several WebGPU devices in one process: tfjs holds one active
// backend (one device) per process, and Node's worker threads would each need their own Dawn instance
// anyway; a process per GPU also isolates a crash and is how the shard launcher already works.
//
//   parent: startReplicas(script, n)  --fork, IPC channel (advanced serialization: typed arrays)-->  n replicas
//   replica r, each step (core's Trainer with `replicas: group`, or dataParallelStep):
//     its rows of the global batch, its rows of the global random numbers (core's ReplicaRng)
//     loss_r, grads_r = computeGrads(lossFn)                                   (own device)
//     flat_r = [g_r of every parameter with a gradient, in sorted name order]  [P] float32
//     group.allReduceMean(flat_r, loss_r) -> parent sums in float32 in rank order, / n
//                                            (GradAccumulator's arithmetic), sends one mean to all
//     clip on the mean's norm, optimizer.step(mean), EMA
//
// Every replica applies the same bytes to the same weights with the same optimizer state, so replicas
// stay bit-identical without broadcasting weights. n replicas on B rows each equal one process with
// gradAccum n on B-row micro-batches bit for bit (same rows, same random numbers for bulk draws, same
// float32 sums), and one process on the summed batch to float32 rounding of the batch mean (tested
// with 2 wasm replicas, test/data-parallel*.test.ts). Costs per step: one device -> host read and one
// host -> device upload of all gradients per replica, and 2 x P x 4 bytes over the pipe: fine for
// small and medium models; for DiT-XL sized ones the copy through the host is the bottleneck (a
// shared-memory ring or device peer copies are the next step; WebGPU has no peer copies).
import type { ChildProcess } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, FaeError, allReduceGrads, computeGrads, disposeGrads, type AdamW, type NamedGrads, type TrainerReplicas } from '@fae/core';

/** A replica failed, or the group broke (code 'DATA_PARALLEL'). */
export class DataParallelError extends FaeError {
  constructor(problem: string) {
    super('DATA_PARALLEL', problem);
  }
}

interface GradMessage {
  type: 'fae-dp-grads';
  rank: number;
  /** The replica's call number (every replica counts its all-reduces and barriers alike). */
  seq: number;
  loss: number;
  grads: Float32Array;
}

interface MeanMessage {
  type: 'fae-dp-mean';
  seq: number;
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

/**
 * The replica's side: all-reduce (mean) of a flat gradient through the parent, and barriers. Alone
 * (size 1, no parent), the identity. It is core's TrainerReplicas: pass it as `replicas` to a
 * Trainer, a decoders stage, DiffusionTrainer, createFlowTrainer or trainPipeline.
 */
export class ReplicaGroup implements TrainerReplicas {
  readonly rank: number;
  readonly size: number;
  private seq = 0;
  private waiting: { seq: number; resolve: (m: MeanMessage) => void } | null = null;
  private readonly onMessage = (m: unknown) => {
    const msg = m as MeanMessage;
    if (msg?.type !== 'fae-dp-mean' || !this.waiting) return;
    if (msg.seq !== this.waiting.seq) throw new DataParallelError(`replica ${this.rank}: got the mean of call ${msg.seq} while waiting for call ${this.waiting.seq}`);
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

  /** The mean over replicas of `grads` (same length everywhere) and of `loss`: float32 sums in rank order, then / size. */
  async allReduceMean(grads: Float32Array, loss: number): Promise<{ grads: Float32Array; loss: number }> {
    if (this.size === 1) return { grads, loss };
    const seq = this.seq++;
    const reply = new Promise<MeanMessage>((resolve) => (this.waiting = { seq, resolve }));
    process.send!({ type: 'fae-dp-grads', rank: this.rank, seq, loss, grads } satisfies GradMessage);
    const m = await reply;
    return { grads: m.grads, loss: m.loss };
  }

  /** Waits until every replica got here (e.g. rank 0 wrote a file the others read next). */
  async barrier(): Promise<void> {
    await this.allReduceMean(new Float32Array(0), 0);
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
  group: TrainerReplicas;
  /** For error messages. */
  step: number;
  lr?: number;
  /** Clip the mean gradient to this global norm (torch's clip_grad_norm_). */
  clipNorm?: number;
}

/**
 * One synchronous data-parallel step outside a Trainer (a custom loop); returns the mean loss and the
 * mean gradient's norm (before clipping). A Trainer does the same with its `replicas` option.
 */
export async function dataParallelStep(o: DataParallelStepOptions): Promise<{ loss: number; gradNorm: number }> {
  const local = computeGrads(o.lossFn, o.optimizer.params);
  let mean: { grads: NamedGrads; loss: tf.Scalar } | null = null;
  try {
    mean = await allReduceGrads(o.group, local.grads, local.loss);
    const g = mean.grads;
    const sq = await tf.tidy(() => tf.addN([tf.scalar(0), ...[...g.values()].map((t) => tf.sum(tf.square(t)))])).data();
    const gradNorm = Math.sqrt(sq[0]);
    const loss = (await mean.loss.data())[0];
    if (!Number.isFinite(gradNorm) || !Number.isFinite(loss)) throw new DataParallelError(`step ${o.step}: non-finite mean loss or gradient`);
    const coef = o.clipNorm !== undefined ? o.clipNorm / (gradNorm + 1e-6) : 1;
    o.optimizer.step(g, { lr: o.lr, gradScale: coef < 1 ? coef : undefined });
    return { loss, gradNorm };
  } finally {
    disposeGrads(local.grads);
    local.loss.dispose();
    if (mean) {
      disposeGrads(mean.grads);
      mean.loss.dispose();
    }
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
        const list = pending.get(msg.seq) ?? [];
        list.push(msg);
        pending.set(msg.seq, list);
        if (list.length < size) return;
        pending.delete(msg.seq);
        list.sort((a, b) => a.rank - b.rank);
        const n = list[0].grads.length;
        if (list.some((x) => x.grads.length !== n)) return fail(`call ${msg.seq}: replicas sent gradients of different sizes (${list.map((x) => x.grads.length).join(', ')})`);
        // float32 sums in rank order, then / size: what GradAccumulator does with size micro-batches
        const grads = Float32Array.from(list[0].grads);
        for (const x of list.slice(1)) for (let i = 0; i < n; i++) grads[i] += x.grads[i];
        for (let i = 0; i < n; i++) grads[i] /= size;
        const loss = Math.fround(list.reduce((s, x) => Math.fround(s + Math.fround(x.loss)), 0) / size);
        for (const c of children) c.send({ type: 'fae-dp-mean', seq: msg.seq, loss, grads } satisfies MeanMessage);
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
