// Training a generator on cached latents with labels: flow-matching loss, AdamW, EMA, label dropout,
// grad clipping, checkpoint/resume, through core's shared Trainer. Defaults follow the FAE paper's LDM
// column (AdamW lr 1e-4, betas (0.9, 0.999), constant lr) and SiT/REPA's (EMA 0.9999, clip 1.0,
// weight decay 0, label dropout 0.1).
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, EMA, Module, Rng, Trainer, ConfigError, ShapeError, indexBatches,
  type CheckpointOptions, type DataSource, type LrSchedule, type TrainData, type TrainerReplicas, type TrainProgress, type TrainResult,
} from '@fae/core';
import { flowMatchingLoss, type TimeSampling } from './flow-matching.js';
import type { VelocityModel } from './velocity-model.js';

/** A batch of cached latents [B, h, w, c] (NHWC) and their int labels [B]. */
export interface LatentBatch {
  latents: tf.Tensor;
  labels: tf.Tensor;
}

export interface DiffusionTrainerOptions {
  model: Module & VelocityModel;
  data: TrainData<LatentBatch>;
  /** Total optimizer steps. */
  steps: number;
  lr?: number;
  betas?: [number, number];
  weightDecay?: number;
  /** LR per step (default constant `lr`). */
  schedule?: LrSchedule;
  /** EMA decay (default 0.9999); null: no EMA. */
  emaDecay?: number | null;
  /** Global grad-norm clip (default 1.0); null: none. */
  clipNorm?: number | null;
  /** Label dropout probability for guidance (default: the model's class_dropout_prob, else 0.1). */
  labelDropout?: number;
  timeSampling?: TimeSampling;
  /** SD3-style training shift factor (the paper's 0.4 in LightningDiT's form = 2.5). Default 1. */
  shift?: number;
  cosineLoss?: boolean;
  gradAccum?: number;
  seed?: number;
  checkpoint?: CheckpointOptions;
  onProgress?: (p: TrainProgress) => void | Promise<void>;
  /** Data-parallel replicas (core's Trainer option; label dropout draws per row, so equal to one process in distribution only). */
  replicas?: TrainerReplicas;
}

export class DiffusionTrainer {
  readonly model: Module & VelocityModel;
  readonly optimizer: AdamW;
  readonly ema: EMA | null;
  readonly trainer: Trainer<LatentBatch>;

  constructor(readonly opts: DiffusionTrainerOptions) {
    const model = (this.model = opts.model);
    // Label dropout is drawn from the trainer's seeded Rng inside the loss, so the model stays in eval
    // mode (LightningDiT has no dropout layers; its own label dropout would draw unseeded numbers).
    model.eval();
    const cfgDrop = (model as { config?: { classDropoutProb?: number } }).config?.classDropoutProb;
    const labelDropout = opts.labelDropout ?? (model.nullClass === null ? 0 : cfgDrop ?? 0.1);
    if (labelDropout > 0 && model.nullClass === null) throw new ConfigError('DiffusionTrainer', 'labelDropout > 0 needs a model with a null class');
    this.optimizer = new AdamW(model.trainableVariables(), { lr: opts.lr ?? 1e-4, betas: opts.betas ?? [0.9, 0.999], weightDecay: opts.weightDecay ?? 0 });
    const decay = opts.emaDecay === undefined ? 0.9999 : opts.emaDecay;
    this.ema = decay === null ? null : new EMA(model, { decay });
    const lossOpts = { timeSampling: opts.timeSampling, shift: opts.shift, labelDropout, cosineLoss: opts.cosineLoss };
    this.trainer = new Trainer<LatentBatch>({
      modules: { model },
      optimizer: this.optimizer,
      schedule: opts.schedule,
      lossFn: (batch, rng) => {
        const { loss } = flowMatchingLoss(model, batch.latents, batch.labels, rng, lossOpts);
        return loss;
      },
      data: opts.data,
      steps: opts.steps,
      gradAccum: opts.gradAccum,
      clipNorm: opts.clipNorm === undefined ? 1.0 : opts.clipNorm ?? undefined,
      ema: this.ema ?? undefined,
      rng: new Rng(opts.seed ?? 0),
      checkpoint: opts.checkpoint,
      onProgress: opts.onProgress,
      replicas: opts.replicas,
    });
  }

  /** Optimizer steps done. */
  get step(): number {
    return this.trainer.step;
  }

  /** Trains until `steps` (or `until`); returns the losses of the steps run. */
  run(opts: { until?: number } = {}): Promise<TrainResult> {
    return this.trainer.run(opts);
  }

  /** Restores the newest checkpoint (weights, optimizer, EMA, RNG, data position); returns its step. */
  resume(name?: string): Promise<number> {
    return this.trainer.resume(name);
  }

  saveCheckpoint(): Promise<string> {
    return this.trainer.saveCheckpoint();
  }

  /** Writes the EMA weights into `target` (a model of the same config), e.g. for sampling. */
  copyEmaTo(target: Module): void {
    if (!this.ema) throw new ConfigError('DiffusionTrainer', 'no EMA (emaDecay was null)');
    this.ema.copyTo(target);
  }

  /** Frees optimizer and EMA state (not the model). */
  dispose(): void {
    this.optimizer.dispose();
    this.ema?.dispose();
  }
}

/**
 * Shuffled batches over cached latents [N, h, w, c] and labels [N] (kept; each batch is gathered
 * fresh, so the trainer may dispose it). Epoch order comes from Rng(seed, epoch).
 */
export function latentBatches(latents: tf.Tensor, labels: tf.Tensor, opts: { batchSize: number; seed?: number; shuffle?: boolean }): DataSource<LatentBatch> {
  if (latents.rank !== 4) throw new ShapeError('latentBatches latents', '[N, h, w, c]', `[${latents.shape}]`);
  if (labels.rank !== 1 || labels.shape[0] !== latents.shape[0]) throw new ShapeError('latentBatches labels', `[${latents.shape[0]}]`, `[${labels.shape}]`);
  return indexBatches(latents.shape[0], (idx) => tf.tidy(() => {
    const i = tf.tensor1d(idx, 'int32');
    return { latents: tf.gather(latents, i), labels: tf.gather(tf.cast(labels, 'int32'), i) };
  }), { batchSize: opts.batchSize, seed: opts.seed, shuffle: opts.shuffle });
}
