// Training a TarFlow on cached latents (upstream train.py): Gaussian noise augmentation of the inputs
// (x + noise_std * eps; STARFlow's `noise_std`), label dropout to -1 (the unconditional class for
// guidance), the loss 0.5 mean(z^2) - mean(logdet), and, for shift-only (non-nvp) models, the prior
// variance update var <- lerp(var, mean_B z^2, 0.1). `flowLossFn` plugs into core's Trainer (AdamW,
// schedules, clipping, EMA, checkpoints); `createFlowTrainer` wires the usual setup.
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, ConfigError, Rng, ShapeError, Trainer, constantSchedule, cosineSchedule, indexBatches, type DataSource, type TrainData, type TrainerOptions } from '@fae/core';
import { toLabels, type TarFlow } from './tarflow.js';

/** One batch of cached latents [B, h, w, c] (NHWC) with optional labels [B] (int32). */
export interface FlowBatch {
  latents: tf.Tensor;
  labels?: tf.Tensor | null;
}

export interface FlowLossOptions {
  /** Std of the Gaussian noise added to the latents (upstream noise_std; 0 = none). */
  noiseStd?: number;
  /** Probability of replacing a label by -1 (unconditional), for classifier-free guidance. */
  dropLabel?: number;
  /** Update the prior variance from z (default: only for shift-only models, as upstream). */
  updatePrior?: boolean;
}

/**
 * The training loss of one batch (a scalar), drawing noise and label drops from `rng`. Updates the
 * prior variance as a side effect where enabled (it does not enter the loss).
 */
export function flowLoss(model: TarFlow, batch: FlowBatch, rng: Rng, opts: FlowLossOptions = {}): tf.Scalar {
  const noiseStd = opts.noiseStd ?? 0;
  const drop = opts.dropLabel ?? 0;
  if (!(noiseStd >= 0)) throw new ConfigError('flowLoss', `noiseStd must be >= 0, got ${noiseStd}`);
  if (!(drop >= 0 && drop <= 1)) throw new ConfigError('flowLoss', `dropLabel must be in [0, 1], got ${drop}`);
  return tf.tidy(() => {
    const x = batch.latents; // [B, h, w, c]
    const b = x.shape[0]!;
    const noisy = noiseStd > 0 ? tf.add(x, rng.normal(x.shape, 0, noiseStd)) : x;
    let labels = toLabels(batch.labels, b);
    if (labels && drop > 0) {
      const dropped = tf.less(rng.uniform([b]), drop); // [B] bool
      labels = tf.where(dropped, tf.fill([b], -1, 'int32'), labels);
    }
    const { z, logdet } = model.forward(noisy, labels);
    if (opts.updatePrior ?? !model.config.nvp) model.updatePrior(z); // not in the loss: no gradient flows through it
    return model.loss(z, logdet) as tf.Scalar;
  });
}

/**
 * Shuffled batches of cached latents [N, h, w, c] (NHWC) with optional labels [N]: epoch e's order is
 * Rng(seed, e).permutation(N), so a resumed run sees the same batches. The latents tensor is not taken.
 */
export function latentBatches(latents: tf.Tensor, labels: ArrayLike<number> | null, opts: { batchSize: number; seed?: number; shuffle?: boolean }): DataSource<FlowBatch> {
  const n = latents.shape[0]!;
  if (latents.rank !== 4) throw new ShapeError('latentBatches latents', '[N, h, w, c] (NHWC)', `[${latents.shape}]`);
  if (labels && labels.length !== n) throw new ShapeError('latentBatches labels', `[${n}]`, `[${labels.length}]`);
  const all = labels ? Int32Array.from(labels) : null;
  return indexBatches(n, (idx): FlowBatch => ({
    latents: tf.tidy(() => tf.gather(latents, tf.tensor1d(idx, 'int32'))), // [b, h, w, c]
    labels: all ? tf.tensor1d(Array.from(idx, (i) => all[i]), 'int32') : null,
  }), { batchSize: opts.batchSize, seed: opts.seed, shuffle: opts.shuffle });
}

/** A Trainer lossFn for FlowBatch data. */
export function flowLossFn(model: TarFlow, opts: FlowLossOptions = {}): (batch: FlowBatch, rng: Rng) => tf.Scalar {
  return (batch, rng) => flowLoss(model, batch, rng, opts);
}

export interface FlowTrainerOptions extends FlowLossOptions {
  model: TarFlow;
  data: TrainData<FlowBatch>;
  steps: number;
  /** Peak learning rate (upstream MNIST notebook: 2e-3; ImageNet: 1e-4). */
  lr?: number;
  /** Cosine decay to `minLr` after `warmupSteps` linear warm-up (upstream CosineLRSchedule), or constant. */
  schedule?: 'cosine' | 'constant';
  warmupSteps?: number;
  minLr?: number;
  /** AdamW weight decay (upstream 1e-4) and betas (upstream [0.9, 0.95]). */
  weightDecay?: number;
  betas?: [number, number];
  clipNorm?: number;
  seed?: number;
  onProgress?: TrainerOptions<FlowBatch>['onProgress'];
  checkpoint?: TrainerOptions<FlowBatch>['checkpoint'];
  /** Data-parallel replicas (core's Trainer option). */
  replicas?: TrainerOptions<FlowBatch>['replicas'];
}

/** A core Trainer with upstream TARFlow's optimiser settings. Dispose `optimizer` when done. */
export function createFlowTrainer(o: FlowTrainerOptions): { trainer: Trainer<FlowBatch>; optimizer: AdamW } {
  const lr = o.lr ?? 1e-4;
  const optimizer = new AdamW(o.model.trainableVariables(), { lr, betas: o.betas ?? [0.9, 0.95], weightDecay: o.weightDecay ?? 1e-4 });
  const schedule = (o.schedule ?? 'cosine') === 'cosine'
    ? cosineSchedule({ lr, warmupSteps: o.warmupSteps ?? 0, totalSteps: Math.max(o.steps, o.warmupSteps ?? 0), minLr: Math.min(o.minLr ?? 1e-6, lr) })
    : constantSchedule({ lr, warmupSteps: o.warmupSteps ?? 0 });
  const trainer = new Trainer<FlowBatch>({
    modules: o.model,
    optimizer,
    schedule,
    lossFn: flowLossFn(o.model, o),
    data: o.data,
    steps: o.steps,
    clipNorm: o.clipNorm,
    rng: new Rng(o.seed ?? 0),
    onProgress: o.onProgress,
    checkpoint: o.checkpoint,
    replicas: o.replicas,
  });
  return { trainer, optimizer };
}
