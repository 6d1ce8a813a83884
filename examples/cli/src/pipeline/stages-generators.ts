// Training the generators on the FAE latents (LightningDiT, TARFlow) and the convergence baseline
// (the same LightningDiT on raw pixels), with a curve of sample accuracy / digit FID along training.
import * as tf from '@tensorflow/tfjs-core';
import { DiffusionTrainer, LightningDiT, latentBatches, sample as sampleDiT } from '@fae/diffusion';
import { TarFlow, createFlowTrainer } from '@fae/flow';
import { indexBatches, type Module } from '@fae/core';
import { saveComponent, saveJson } from '../checkpoints.js';
import { digitsToImages } from '../data/mnist.js';
import { COMPONENTS, DEFAULT_SAMPLING, DIT_CONFIG, DIT_PIXELS_CONFIG, TARFLOW_CONFIG, type SamplingConfig } from '../digits/config.js';
import { loadComponent, type ComponentConfigJson } from '../digits/models.js';
import type { DigitClassifier } from '../models/digit-classifier.js';
import { judgeSamples, type SampleJudgement } from './judge.js';
import { localRead } from './stages-fae.js';
import { progress, stageHyperparameters, subsample, type StageLog, type TrainContext } from './context.js';
import { resumeCheckpointOptions, runInChunks } from './resumable.js';
import { join } from 'node:path';

export interface CurvePoint extends SampleJudgement {
  step: number;
}

export interface CurveOptions {
  perClass: number;
  classifier: DigitClassifier;
  /** Classifier features of held-out digits (the FID reference). */
  reference: Float32Array;
  /** latents [B, h, w, c] -> grey-able images [B, 28, 28, C] in [0, 1]. */
  toImages: (x: tf.Tensor) => tf.Tensor;
}

const EVAL_STEPS = 10;

async function ditCurvePoint(model: LightningDiT, step: number, o: CurveOptions, seed: number, cfg: number): Promise<CurvePoint> {
  const labels = Array.from({ length: 10 * o.perClass }, (_, i) => i % 10);
  const y = tf.tensor1d(labels, 'int32');
  const x = await sampleDiT({ model, labels: y, steps: EVAL_STEPS, sampler: 'heun', seed, guidance: cfg !== 1 ? { scale: cfg } : null });
  y.dispose();
  const images = o.toImages(x);
  x.dispose();
  const j = await judgeSamples(o.classifier, images, labels, o.reference);
  images.dispose();
  return { step, ...j };
}

/** `--continue`: replaces the fresh weights by those of the component already in the models folder. */
async function continueFrom(ctx: TrainContext, name: 'dit' | 'ditPixels' | 'tarflow', model: Module): Promise<void> {
  if (!ctx.continueTraining) return;
  const previous = await loadComponent<Module>(localRead(ctx.modelsDir), name);
  const tensors: Record<string, tf.Tensor> = {};
  try {
    for (const [key, t] of await previous.stateDict()) tensors[key] = tf.tensor(t.data, t.shape);
    await model.loadStateDict(tensors);
  } finally {
    tf.dispose(Object.values(tensors));
    previous.dispose();
  }
  ctx.log(`  continuing from ${join(ctx.modelsDir, COMPONENTS[name])}`);
}

/** EMA decay with an averaging horizon of ~1/20 of the run: 0.98 for short runs, up to 0.999. */
export function emaDecayFor(steps: number): number {
  return Math.min(0.999, Math.max(0.98, 1 - 20 / steps));
}

/** LightningDiT on latents (or pixels) with an EMA; with `curve`, six points of sample quality along the run. */
async function trainDiT(ctx: TrainContext, name: 'dit' | 'ditPixels', data: { x: tf.Tensor4D; labels: tf.Tensor1D }, curve: CurveOptions | null, sampling: SamplingConfig): Promise<StageLog> {
  const config = name === 'dit' ? DIT_CONFIG : DIT_PIXELS_CONFIG;
  const { steps, batch, lr } = stageHyperparameters(ctx, name);
  const emaDecay = emaDecayFor(steps);
  const model = new LightningDiT(config, { seed: ctx.seed + 21 });
  await continueFrom(ctx, name, model);
  const evalModel = new LightningDiT(config, { seed: ctx.seed + 21 });
  const stage = name === 'dit' ? 'dit' : 'dit-pixels';
  const trainer = new DiffusionTrainer({
    model, steps, lr, emaDecay, clipNorm: 1, seed: ctx.seed + 22,
    data: latentBatches(data.x, data.labels, { batchSize: batch, seed: ctx.seed + 23 }),
    checkpoint: resumeCheckpointOptions(ctx, stage),
    onProgress: (p) => bar.update(p.step, { loss: p.loss }),
  });
  const label = name === 'dit' ? 'LightningDiT on FAE latents' : 'LightningDiT on pixels (baseline)';
  const bar = progress(ctx, label, steps);
  try {
    const r = await runInChunks<CurvePoint>({
      ctx, key: { stage, steps, batch, lr, seed: ctx.seed, stepScale: ctx.stepScale }, trainer, curveEvery: curve ? Math.max(1, Math.round(steps / 6)) : 0,
      curve: curve ? async (step) => {
        trainer.copyEmaTo(evalModel);
        const point = await ditCurvePoint(evalModel, step, curve, ctx.seed + 99, sampling.ditCfg);
        if (!ctx.quiet) ctx.log(`  ${label} step ${step}: accuracy ${point.accuracy.toFixed(3)}, digit FID ${point.fid.toFixed(2)}`);
        return point;
      } : undefined,
    });
    bar.done();
    trainer.copyEmaTo(evalModel);
    await saveComponent(ctx.modelsDir, COMPONENTS[name], evalModel, { class: 'LightningDiT', config: evalModel.config, trained: { steps, ema: emaDecay } } satisfies ComponentConfigJson);
    return { stage, steps, batch, lr, seconds: r.seconds, evalSeconds: r.evalSeconds, losses: subsample(r.losses), curve: r.points, ...(r.resumedAt ? { resumedAt: r.resumedAt } : {}) };
  } finally {
    trainer.dispose();
    model.dispose();
    evalModel.dispose();
  }
}

export function trainDiTOnLatents(ctx: TrainContext, latents: { latents: tf.Tensor4D; labels: tf.Tensor1D }, curve: CurveOptions | null, sampling = DEFAULT_SAMPLING): Promise<StageLog> {
  return trainDiT(ctx, 'dit', { x: latents.latents, labels: latents.labels }, curve, sampling);
}

/** The baseline: the same DiT (patch 4 instead of 1: also 49 tokens) on grey pixels in [-1, 1]. */
export async function trainDiTOnPixels(ctx: TrainContext, curve: CurveOptions | null, sampling = DEFAULT_SAMPLING): Promise<StageLog> {
  const x = digitsToImages(ctx.split.train, 1); // [N, 28, 28, 1]
  const labels = tf.tensor1d(ctx.split.train.labels, 'int32');
  try {
    return await trainDiT(ctx, 'ditPixels', { x, labels }, curve, sampling);
  } finally {
    tf.dispose([x, labels]);
  }
}

/** TARFlow on the latents: NLL with Gaussian noise augmentation and label dropout (for guidance). */
export async function trainTarFlow(ctx: TrainContext, latents: { latents: tf.Tensor4D; labels: tf.Tensor1D }, sampling = DEFAULT_SAMPLING): Promise<StageLog> {
  const { steps, batch, lr } = stageHyperparameters(ctx, 'tarflow');
  const model = new TarFlow({ ...TARFLOW_CONFIG, seed: ctx.seed + 31 });
  await continueFrom(ctx, 'tarflow', model);
  const n = latents.latents.shape[0];
  const data = indexBatches(n, (idx) => tf.tidy(() => {
    const i = tf.tensor1d(idx, 'int32');
    return { latents: tf.gather(latents.latents, i), labels: tf.gather(latents.labels, i) };
  }), { batchSize: batch, seed: ctx.seed + 32 });
  const bar = progress(ctx, 'TARFlow on FAE latents', steps);
  const { trainer, optimizer } = createFlowTrainer({
    model, data, steps, lr, warmupSteps: Math.min(10, steps), clipNorm: 1, seed: ctx.seed + 33,
    noiseStd: sampling.flowNoiseStd, dropLabel: 0.1, checkpoint: resumeCheckpointOptions(ctx, 'tarflow'),
    onProgress: (p) => bar.update(p.step, { loss: p.loss }),
  });
  try {
    const r = await runInChunks({ ctx, key: { stage: 'tarflow', steps, batch, lr, seed: ctx.seed, stepScale: ctx.stepScale }, trainer, curveEvery: 0 });
    bar.done();
    model.eval();
    await saveComponent(ctx.modelsDir, COMPONENTS.tarflow, model, { class: 'TarFlow', config: TARFLOW_CONFIG, trained: { steps, noiseStd: sampling.flowNoiseStd } } satisfies ComponentConfigJson);
    return { stage: 'tarflow', steps, batch, lr, seconds: r.seconds, losses: subsample(r.losses), ...(r.resumedAt ? { resumedAt: r.resumedAt } : {}) };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

export async function writeSampling(ctx: TrainContext, sampling: SamplingConfig): Promise<void> {
  await saveJson(join(ctx.modelsDir, 'sampling.json'), sampling);
}

export { loadComponent, localRead };
