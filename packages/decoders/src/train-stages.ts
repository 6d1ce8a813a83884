// FAE's training stages on core's Trainer (AdamW, cosine schedule with linear warm-up, EMA,
// gradient clipping, NaN/Inf guard, atomic checkpoints with exact resume, progress events):
//   trainStageIb: adapter + feature decoder on cached features, L2 + beta * KL      (paper §4.1-4.2)
//   trainStageIa: pixel decoder on cached features + Gaussian noise                 (paper §4.2)
//   trainStageII: pixel decoder fine-tuned on the frozen FAE's reconstructions x^    (paper §4.2)
// Defaults are the paper's App. D optimisation rows: AdamW (0.9, 0.999), peak lr 1e-4, cosine
// schedule, 1000 warm-up steps; weight decay, EMA and clipping are not given there (off by default).
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, ConfigError, EMA, Rng, Trainer, cosineSchedule, isDataSource,
  type Module, type StepContext, type TrainData, type TrainProgress, type TrainerReplicas,
} from '@fae/core';
import type { FeatureBatch } from './feature-cache.js';
import type { FeatureAutoEncoder } from './feature-autoencoder.js';
import type { FeatureAutoEncoderLossOptions } from './losses.js';
import { PixelDecoderObjective, type PixelObjectiveOptions } from './pixel-objective.js';
import { pixelObjectivePreset, type PixelObjectivePresetName, type PixelObjectivePresetOptions } from './pixel-objective-presets.js';
import type { PixelDecoder } from './pixel-decoder.js';

export interface StageProgress extends TrainProgress {
  stage: 'Ib' | 'Ia' | 'II';
  /** Loss components of the step's last micro-batch (rec, kl / rec, perceptual, gan, ganWeight, disc). */
  parts: Record<string, number>;
}

export interface StageOptions {
  /** Optimizer steps of the run (the cosine schedule ends here). */
  steps: number;
  /** Batches, e.g. `FeatureCache.dataSource({ batchSize, seed })`, or any core TrainData. */
  data: TrainData<FeatureBatch>;
  /** Peak learning rate (paper: 1e-4). */
  lr?: number;
  /** Linear warm-up steps (paper: 1000; capped at `steps`). */
  warmupSteps?: number;
  /** Floor of the cosine decay (default 0). */
  minLr?: number;
  betas?: [number, number];
  weightDecay?: number;
  /** Global grad-norm clipping (default none). */
  clipNorm?: number;
  gradAccum?: number;
  /** EMA of the trained model's weights (default none). */
  ema?: { decay: number; warmup?: boolean };
  /** Seed of the run's Rng (sampling of z, feature noise). */
  seed?: number;
  /** Periodic checkpoints (weights, optimizer, EMA, RNG, data position). */
  checkpoint?: { dir: string; every: number; keep?: number };
  /** Continue from the newest checkpoint in checkpoint.dir when there is one (default true). */
  resume?: boolean;
  onProgress?: (p: StageProgress) => void | Promise<void>;
  /** NaN/Inf guard (default true). */
  guard?: boolean;
  /** Data-parallel replicas (core's Trainer option): `data` yields the global batch, each replica trains on its rows. */
  replicas?: TrainerReplicas;
}

export interface StageResult {
  /** Loss of each step run by this call. */
  losses: number[];
  /** Steps completed in total (resumed steps included). */
  step: number;
  /** The EMA, when one was asked for: `ema.copyTo(model)` to evaluate the averaged weights. */
  ema: EMA | null;
  /** Frees the optimizer state, the EMA and anything the stage created (the discriminator). */
  dispose(): void;
}

/** Keeps the last step's loss components (only when progress is reported). */
class PartsRecorder {
  private held = new Map<string, tf.Tensor>();
  constructor(readonly enabled: boolean) {}
  record(parts: Record<string, tf.Tensor | null>): void {
    if (!this.enabled) return;
    tf.dispose([...this.held.values()]);
    this.held = new Map(Object.entries(parts).filter(([, v]) => v).map(([k, v]) => [k, tf.keep(tf.clone(v!))]));
  }
  async read(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.held) out[k] = (await v.data())[0];
    this.dispose();
    return out;
  }
  dispose(): void {
    tf.dispose([...this.held.values()]);
    this.held.clear();
  }
}

interface RunSpec {
  stage: StageProgress['stage'];
  modules: Record<string, Module>;
  params: Map<string, tf.Variable>;
  emaOf: Module;
  lossFn: (batch: FeatureBatch, rng: Rng, ctx: StepContext, parts: PartsRecorder) => tf.Scalar;
  data: TrainData<FeatureBatch>;
  cleanup?: () => void;
}

async function runStage(o: StageOptions, spec: RunSpec): Promise<StageResult> {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new ConfigError(`trainStage${spec.stage}`, `steps must be a positive integer, got ${o.steps}`);
  const lr = o.lr ?? 1e-4;
  const optimizer = new AdamW(spec.params, { lr, betas: o.betas ?? [0.9, 0.999], weightDecay: o.weightDecay ?? 0 });
  const ema = o.ema ? new EMA(spec.emaOf, { decay: o.ema.decay, warmup: o.ema.warmup }) : null;
  const parts = new PartsRecorder(!!o.onProgress);
  const dispose = () => {
    optimizer.dispose();
    ema?.dispose();
    parts.dispose();
    spec.cleanup?.();
  };
  try {
    const trainer = new Trainer<FeatureBatch>({
      modules: spec.modules,
      optimizer,
      schedule: cosineSchedule({ lr, warmupSteps: Math.min(o.warmupSteps ?? 1000, o.steps), totalSteps: o.steps, minLr: o.minLr ?? 0 }),
      lossFn: (batch, rng, ctx) => spec.lossFn(batch, rng, ctx, parts),
      data: spec.data,
      steps: o.steps,
      gradAccum: o.gradAccum,
      clipNorm: o.clipNorm,
      ema: ema ?? undefined,
      rng: new Rng(o.seed ?? 0),
      checkpoint: o.checkpoint ? { dir: o.checkpoint.dir, every: o.checkpoint.every, keep: o.checkpoint.keep, extra: { stage: spec.stage } } : undefined,
      guard: o.guard,
      replicas: o.replicas,
      onProgress: o.onProgress ? async (p) => o.onProgress!({ ...p, stage: spec.stage, parts: await parts.read() }) : undefined,
    });
    if (o.checkpoint && (o.resume ?? true)) await trainer.resume();
    const r = await trainer.run();
    return { losses: r.losses, step: r.step, ema, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

// ------------------------------------------------------------------------------------------------

export interface StageIbOptions extends StageOptions {
  fae: FeatureAutoEncoder;
  /** beta (default 1e-6) and reduction (default 'mean'); see featureAutoEncoderLoss. */
  loss?: FeatureAutoEncoderLossOptions;
}

/** Stage Ib: trains the adapter and the feature decoder together on batch.features. */
export function trainStageIb(o: StageIbOptions): Promise<StageResult> {
  const fae = o.fae;
  return runStage(o, {
    stage: 'Ib',
    modules: { fae },
    params: fae.trainableVariables(),
    emaOf: fae,
    data: o.data,
    lossFn: (batch, rng, _ctx, parts) => {
      const l = fae.loss(batch.features, { ...o.loss, rng, sample: true });
      parts.record({ rec: l.rec, kl: l.kl });
      tf.dispose([l.rec, l.kl]);
      return l.loss;
    },
  });
}

export interface PixelStageOptions extends StageOptions {
  decoder: PixelDecoder;
  /**
   * Loss weights, perceptual function and GAN settings; or a named preset, e.g. `{ preset: 'fae-paper',
   * perceptual }` (GAN starts scaled to `steps`; see PIXEL_OBJECTIVE_PRESETS); or a ready objective
   * (then not disposed here). Default: L1 only.
   */
  objective?: PixelObjectiveOptions | PixelDecoderObjective | ({ preset: PixelObjectivePresetName } & Omit<PixelObjectivePresetOptions, 'totalSteps'>);
  /** Add the decoder's configured feature noise (Ia default true, II default false). */
  noise?: boolean;
}

function pixelSpec(o: PixelStageOptions, stage: 'Ia' | 'II', data: TrainData<FeatureBatch>, noise: boolean): RunSpec {
  const given = o.objective;
  const options = given && 'preset' in given ? pixelObjectivePreset(given.preset, { ...given, totalSteps: o.steps }) : given;
  const objective = options instanceof PixelDecoderObjective ? options : new PixelDecoderObjective(o.decoder, options);
  const owned = !(o.objective instanceof PixelDecoderObjective);
  const d = objective.discriminator;
  const params = new Map(o.decoder.trainableVariables());
  if (d) for (const [k, v] of d.trainableVariables()) params.set(`discriminator.${k}`, v);
  return {
    stage,
    modules: d ? { decoder: o.decoder, discriminator: d } : { decoder: o.decoder },
    params,
    emaOf: o.decoder,
    data,
    cleanup: owned ? () => objective.dispose() : undefined,
    lossFn: (batch, rng, ctx, parts) => {
      if (!batch.images) throw new ConfigError(`trainStage${stage}`, 'batches need target images (cache them with keepImages: true)');
      const l = objective.loss(batch.features, batch.images, { step: ctx.step, rng, noise });
      const { loss, ...rest } = l;
      parts.record(rest);
      tf.dispose(Object.values(rest).filter((t): t is tf.Scalar => t !== null));
      return loss;
    },
  };
}

/** Stage Ia: the pixel decoder on frozen-encoder features with noise (the "Gaussian embedding decoder"). */
export async function trainStageIa(o: PixelStageOptions): Promise<StageResult> {
  return runStage(o, pixelSpec(o, 'Ia', o.data, o.noise ?? true));
}

export interface StageIIOptions extends PixelStageOptions {
  /** The trained FAE (frozen here): batches' features are replaced by fae.reconstruct(features). */
  fae: FeatureAutoEncoder;
}

/** Stage II: fine-tunes the pixel decoder on the FAE's reconstructed features x^. */
export async function trainStageII(o: StageIIOptions): Promise<StageResult> {
  const data = mapFeatures(o.data, (f) => o.fae.reconstruct(f));
  return runStage(o, pixelSpec(o, 'II', data, o.noise ?? false));
}

/** Replaces each batch's features by fn(features) (outside the gradient tape), disposing the originals. */
export function mapFeatures(data: TrainData<FeatureBatch>, fn: (features: tf.Tensor4D) => tf.Tensor): TrainData<FeatureBatch> {
  const apply = (b: FeatureBatch): FeatureBatch => {
    const features = fn(b.features) as tf.Tensor4D;
    b.features.dispose();
    return { ...b, features };
  };
  if (isDataSource(data)) return { batchesPerEpoch: data.batchesPerEpoch, batch: async (e, i) => apply(await data.batch(e, i)) };
  return (epoch: number) => {
    const it = data(epoch);
    return {
      next: async () => {
        const r = await it.next();
        return r.done ? r : { done: false, value: apply(r.value) };
      },
    } as AsyncIterator<FeatureBatch>;
  };
}
