// Trainer: the small loop every stage shares. One optimizer step = `gradAccum` micro-batches
// (mean gradient) -> NaN/Inf guard -> global-norm clipping -> AdamW with the scheduled lr -> EMA.
// One GPU read per step (loss, grad norm and the finite flags together). Checkpoints are atomic and
// hold weights, optimizer moments, EMA, RNG state and the data position, so resume() continues with
// exactly the losses an uninterrupted run would have produced.
import * as tf from '@tensorflow/tfjs-core';
import { addMany, stackMany } from '../ops/many.js';
import { ConfigError, NonFiniteError } from '../errors.js';
import { Module } from '../nn/module.js';
import { GradAccumulator } from './accumulate.js';
import type { AdamW } from './adamw.js';
import {
  FileCheckpointStore, checkpointName, decodeCheckpoint, encodeCheckpoint, latestCheckpoint, loadCheckpointModules, pruneCheckpoints,
  type CheckpointStore,
} from './checkpoint.js';
import { isDataSource, type TrainData } from './data.js';
import type { EMA } from './ema.js';
import { computeGrads, disposeGrads, type NamedGrads } from './grads.js';
import { assertFinite } from './guard.js';
import { ReplicaRng, allReduceGrads, replicaRows, type TrainerReplicas } from './replicas.js';
import { Rng } from './rng.js';
import type { LrSchedule } from './schedule.js';

export interface StepContext {
  /** Optimizer steps completed before this one. */
  step: number;
  /** Micro-batch number inside the step (0..gradAccum-1). */
  micro: number;
  epoch: number;
  /** Batch index inside the epoch. */
  index: number;
}

export interface TrainProgress {
  /** Optimizer steps completed (1 after the first). */
  step: number;
  totalSteps: number;
  epoch: number;
  /** Mean loss over the step's micro-batches. */
  loss: number;
  /** Learning rate used by this step. */
  lr: number;
  /** Global L2 norm of the (mean) gradient before clipping. */
  gradNorm: number;
  /** Steps per second since run() started. */
  itPerSec: number;
  elapsedMs: number;
  /** Name of the checkpoint written after this step, if any. */
  checkpoint?: string;
}

export interface CheckpointOptions {
  /** A directory (Node) or any CheckpointStore. */
  dir?: string;
  store?: CheckpointStore;
  /**
   * Write a checkpoint every `every` steps (and after the last step). Absent: no automatic writes;
   * the caller writes with saveCheckpoint() when it chooses (e.g. at its own chunk boundaries).
   */
  every?: number;
  /** Keep the newest `keep` checkpoints (default 2). */
  keep?: number;
  /** JSON stored with every checkpoint (e.g. the run's config). */
  extra?: unknown;
}

export interface TrainerOptions<B> {
  /** What a checkpoint saves and resume restores: one module ('model') or several by name. */
  modules: Module | Record<string, Module>;
  /** Trains the variables it was built with. */
  optimizer: AdamW;
  /** lr per step (0-based); default: the optimizer's lr. */
  schedule?: LrSchedule;
  /** Scalar loss of one micro-batch. Draw every random number from `rng` for reproducible runs. */
  lossFn: (batch: B, rng: Rng, ctx: StepContext) => tf.Scalar;
  data: TrainData<B>;
  /** Total optimizer steps of the run. */
  steps: number;
  /** Micro-batches per optimizer step (default 1). */
  gradAccum?: number;
  /** Global grad-norm clipping threshold (default: none). */
  clipNorm?: number;
  ema?: EMA;
  /** The run's generator (restored in place on resume). Default new Rng(0). */
  rng?: Rng;
  checkpoint?: CheckpointOptions;
  onProgress?: (p: TrainProgress) => void | Promise<void>;
  /** Stop with NonFiniteError when the loss or a gradient is NaN/Inf (default true). */
  guard?: boolean;
  /** Dispose the tensors inside each batch after use (default true). */
  disposeBatch?: boolean;
  /**
   * Data-parallel replicas (one process per GPU, see ./replicas.ts): each keeps its rows of every
   * global batch, draws its rows of the global random numbers, and steps with the replicas' mean
   * gradient. Checkpoints are written by rank 0 only.
   */
  replicas?: TrainerReplicas;
}

export interface TrainResult {
  /** Loss of each step run by this call, in order. */
  losses: number[];
  step: number;
  epoch: number;
}

export class Trainer<B = unknown> {
  /** Optimizer steps completed. */
  step = 0;
  epoch = 0;
  /** Batches consumed in the current epoch. */
  index = 0;
  readonly rng: Rng;
  readonly modules: Record<string, Module>;
  private readonly store: CheckpointStore | null;
  private iter: Iterator<B> | AsyncIterator<B> | null = null;
  private iterEpoch = -1;
  /** What lossFn draws from: the run's Rng, or its replica view. */
  private readonly lossRng: Rng;

  constructor(readonly opts: TrainerOptions<B>) {
    this.modules = opts.modules instanceof Module ? { model: opts.modules } : opts.modules;
    this.rng = opts.rng ?? new Rng(0);
    const r = opts.replicas;
    if (r && (!Number.isInteger(r.size) || r.size < 1 || !Number.isInteger(r.rank) || r.rank < 0 || r.rank >= r.size)) throw new ConfigError('Trainer', `replicas: expected 0 <= rank < size, got ${r.rank} of ${r.size}`);
    this.lossRng = r && r.size > 1 ? new ReplicaRng(this.rng, r.rank, r.size) : this.rng;
    const g = opts.gradAccum ?? 1;
    if (!Number.isInteger(opts.steps) || opts.steps < 0) throw new ConfigError('Trainer', `steps must be a non-negative integer, got ${opts.steps}`);
    if (!Number.isInteger(g) || g < 1) throw new ConfigError('Trainer', `gradAccum must be an integer >= 1, got ${g}`);
    if (opts.clipNorm !== undefined && !(opts.clipNorm > 0)) throw new ConfigError('Trainer', `clipNorm must be > 0, got ${opts.clipNorm}`);
    const c = opts.checkpoint;
    if (c && c.every !== undefined && (!Number.isInteger(c.every) || c.every < 1)) throw new ConfigError('Trainer', `checkpoint.every must be an integer >= 1, got ${c.every}`);
    if (c && !c.store && !c.dir) throw new ConfigError('Trainer', 'checkpoint needs a dir or a store');
    this.store = c ? c.store ?? new FileCheckpointStore(c.dir!) : null;
  }

  /** Runs until `opts.steps` (or `until`) steps are done; returns the losses of the steps it ran. */
  async run(opts: { until?: number } = {}): Promise<TrainResult> {
    const until = opts.until ?? this.opts.steps;
    const losses: number[] = [];
    const t0 = Date.now();
    const startStep = this.step;
    while (this.step < until) {
      const { loss, lr, gradNorm } = await this.trainStep();
      losses.push(loss);
      const c = this.opts.checkpoint;
      let written: string | undefined;
      if (c?.every && (this.step % c.every === 0 || this.step === this.opts.steps) && (this.opts.replicas?.rank ?? 0) === 0) written = await this.saveCheckpoint();
      if (this.opts.onProgress) {
        const elapsedMs = Date.now() - t0;
        await this.opts.onProgress({
          step: this.step, totalSteps: this.opts.steps, epoch: this.epoch, loss, lr, gradNorm,
          itPerSec: (this.step - startStep) / Math.max(1e-3, elapsedMs / 1000), elapsedMs, checkpoint: written,
        });
      }
    }
    return { losses, step: this.step, epoch: this.epoch };
  }

  /** One optimizer step. Returns the mean loss, the lr used and the gradient norm before clipping. */
  async trainStep(): Promise<{ loss: number; lr: number; gradNorm: number }> {
    const o = this.opts;
    const accum = o.gradAccum ?? 1;
    const lr = o.schedule ? o.schedule(this.step) : o.optimizer.lr;
    const acc = new GradAccumulator();
    let grads: NamedGrads | null = null;
    let loss: tf.Scalar | null = null;
    try {
      for (let micro = 0; micro < accum; micro++) {
        const ctx: StepContext = { step: this.step, micro, epoch: 0, index: 0 };
        let batch = await this.nextBatch(ctx);
        let sliced = false;
        try {
          if (this.lossRng instanceof ReplicaRng) {
            const global = batch;
            const part = replicaRows(global, this.lossRng.rank, this.lossRng.size);
            if (o.disposeBatch ?? true) tf.dispose(global as tf.TensorContainer);
            [batch, this.lossRng.rows, sliced] = [part.batch, part.rows, true];
          }
          const r = computeGrads(() => o.lossFn(batch, this.lossRng, ctx), o.optimizer.params);
          if (accum === 1) [grads, loss] = [r.grads, r.loss];
          else {
            acc.add(r.grads, r.loss);
            disposeGrads(r.grads);
            r.loss.dispose();
          }
        } finally {
          if ((o.disposeBatch ?? true) || sliced) tf.dispose(batch as tf.TensorContainer);
        }
      }
      if (accum > 1) {
        const m = acc.mean();
        [grads, loss] = [m.grads, m.loss];
      }
      if (this.lossRng instanceof ReplicaRng) {
        const m = await allReduceGrads(o.replicas!, grads!, loss!);
        [grads, loss] = [m.grads, m.loss];
      }
      const g = grads!;
      // One read: [loss, grad norm, finite(loss)]. The norm is finite only if every gradient is
      // (NaN and Inf survive the sum of squares), so the per-gradient check runs only when it is not.
      const packed = tf.tidy(() => {
        const parts = [...g.values()].map((t) => tf.sum(tf.square(t)));
        const norm = parts.length ? tf.sqrt(addMany(parts)) : tf.scalar(0);
        const flags = o.guard === false ? [] : [tf.cast(tf.all(tf.isFinite(tf.reshape(loss!, [-1]))), 'float32')];
        return stackMany([tf.reshape(loss!, []), norm, ...flags]); // [2 + flags]
      });
      const vals = await packed.data();
      packed.dispose();
      const [lossValue, gradNorm] = [vals[0], vals[1]];
      if (o.guard !== false) {
        if (vals[2] !== 1) throw new NonFiniteError(this.step + 1, 'loss');
        if (!Number.isFinite(gradNorm)) await assertFinite(this.step + 1, [...g].map(([k, t]) => [`grad:${k}`, t] as [string, tf.Tensor]));
      }
      // torch: g * min(1, max_norm / (norm + 1e-6)), applied by the optimizer as it reads g
      const coef = o.clipNorm !== undefined ? o.clipNorm / (gradNorm + 1e-6) : 1;
      const gradScale = coef < 1 ? coef : undefined;
      o.optimizer.step(g, { lr, gradScale });
      o.ema?.update();
      this.step += 1;
      return { loss: lossValue, lr, gradNorm };
    } finally {
      if (grads) disposeGrads(grads);
      loss?.dispose();
      acc.reset();
    }
  }

  private async nextBatch(ctx: StepContext): Promise<B> {
    const data = this.opts.data;
    if (isDataSource(data)) {
      if (data.batchesPerEpoch !== undefined && this.index >= data.batchesPerEpoch) [this.epoch, this.index] = [this.epoch + 1, 0];
      [ctx.epoch, ctx.index] = [this.epoch, this.index];
      const b = await data.batch(this.epoch, this.index);
      this.index += 1;
      return b;
    }
    if (!this.iter || this.iterEpoch !== this.epoch) await this.openEpoch(data, this.index);
    let r = await this.iter!.next();
    if (r.done) {
      [this.epoch, this.index] = [this.epoch + 1, 0];
      await this.openEpoch(data, 0);
      r = await this.iter!.next();
      if (r.done) throw new ConfigError('Trainer data', `epoch ${this.epoch} yielded no batches`);
    }
    [ctx.epoch, ctx.index] = [this.epoch, this.index];
    this.index += 1;
    return r.value;
  }

  /** Starts epoch `this.epoch`'s iterator and skips `skip` batches (resume fast-forward). */
  private async openEpoch(factory: (epoch: number) => Iterator<B> | AsyncIterator<B>, skip: number): Promise<void> {
    this.iter = factory(this.epoch);
    this.iterEpoch = this.epoch;
    for (let i = 0; i < skip; i++) {
      const r = await this.iter.next();
      if (r.done) throw new ConfigError('Trainer data', `epoch ${this.epoch} ended after ${i} batches while resuming at batch ${skip}`);
      if (this.opts.disposeBatch ?? true) tf.dispose(r.value as tf.TensorContainer);
    }
  }

  /** Writes a checkpoint of the current state now; returns its name. */
  async saveCheckpoint(): Promise<string> {
    if (!this.store) throw new ConfigError('Trainer', 'no checkpoint store configured (options.checkpoint)');
    const bytes = await encodeCheckpoint(this.modules, await this.opts.optimizer.exportState(), this.opts.ema ? await this.opts.ema.exportState() : null, {
      step: this.step, epoch: this.epoch, index: this.index, rng: this.rng.state(), extra: this.opts.checkpoint?.extra,
    });
    const name = checkpointName(this.step);
    await this.store.write(name, bytes);
    await pruneCheckpoints(this.store, this.opts.checkpoint?.keep ?? 2);
    return name;
  }

  /**
   * Restores the newest checkpoint (or `name`): weights, optimizer, EMA, RNG and data position.
   * Returns the step it resumes at (0 when the store holds no checkpoint).
   */
  async resume(name?: string): Promise<number> {
    if (!this.store) throw new ConfigError('Trainer', 'no checkpoint store configured (options.checkpoint)');
    const file = name ?? (await latestCheckpoint(this.store));
    if (!file) return 0;
    const bytes = await this.store.read(file);
    if (!bytes) throw new ConfigError(this.store.location, `checkpoint '${file}' not found`);
    const ckpt = await decodeCheckpoint(bytes, `${this.store.location}/${file}`);
    if (this.opts.ema && !ckpt.ema) throw new ConfigError(file, 'the trainer has an EMA but the checkpoint holds none');
    await loadCheckpointModules(ckpt, this.modules);
    this.opts.optimizer.importState(ckpt.optimizer);
    if (this.opts.ema && ckpt.ema) this.opts.ema.importState(ckpt.ema);
    this.rng.setState(ckpt.state.rng);
    [this.step, this.epoch, this.index] = [ckpt.state.step, ckpt.state.epoch, ckpt.state.index];
    this.iter = null;
    this.iterEpoch = -1;
    return this.step;
  }
}
