// Training stages of the FAE itself: encoder pretraining (MIM), the feature cache, stage Ib (adapter +
// feature decoder), stage Ia and stage II (pixel decoder), and the generator latents.
import * as tf from '@tensorflow/tfjs-core';
import { Rng, withSeededRandom } from '@fae/core';
import { computeLatentStats, type SingleAttentionEncoder } from '@fae/adapter';
import { FeatureAutoEncoder, FeatureCache, PixelDecoder, type FeatureDecoder, cacheFeatures, trainStageIa, trainStageIb, trainStageII, type FeatureBatch } from '@fae/decoders';
import type { Dinov2Model } from '@fae/encoders';
import { join } from 'node:path';
import { saveComponent } from '../checkpoints.js';
import { digitsToImages, gatherDigits, MNIST_PIXELS, type DigitSet } from '../data/mnist.js';
import { ADAPTER_CONFIG, COMPONENTS, FEATURE_DECODER_CONFIG, PIXEL_DECODER_CONFIG } from '../digits/config.js';
import { buildComponent, loadComponent, type ComponentConfigJson } from '../digits/models.js';
import { MimHead, MimPretraining, mimLoss, randomPatchMask } from '@fae/pipeline';
import { DIGIT_ENCODER_CONFIG, buildDigitEncoder, encodeDigits } from '../models/digit-encoder.js';
import { progress, stageHyperparameters, subsample, type StageLog, type TrainContext } from './context.js';
import { BatchSampler, trainLoop } from './simple-loop.js';

const localRead = (dir: string) => async (component: string, file: string) => {
  const { readFile } = await import('node:fs/promises');
  return new Uint8Array(await readFile(join(dir, component, file)));
};

export async function trainEncoder(ctx: TrainContext): Promise<StageLog> {
  const { steps, batch, lr } = stageHyperparameters(ctx, 'encoder');
  // These constructors take no seed: their initial weights come from a seeded Math.random (repeatable runs).
  const encoder = withSeededRandom(ctx.seed + 10, () => buildDigitEncoder(DIGIT_ENCODER_CONFIG));
  const head = new MimHead(DIGIT_ENCODER_CONFIG.hidden_size, DIGIT_ENCODER_CONFIG.patch_size, ctx.seed + 11);
  const model = new MimPretraining(encoder, head);
  const sampler = new BatchSampler(ctx.split.train.labels.length, new Rng(ctx.seed, 2));
  const tokens = (DIGIT_ENCODER_CONFIG.image_size / DIGIT_ENCODER_CONFIG.patch_size) ** 2;
  const bar = progress(ctx, 'encoder (MIM)', steps);
  try {
    const r = await trainLoop({
      module: model, steps, lr, seed: ctx.seed, weightDecay: 0.05, clipNorm: 1,
      onProgress: (e) => bar.update(e.step, { loss: e.loss }),
      loss: (_s, rng) => tf.tidy(() => {
        const b = gatherDigits(ctx.split.train, sampler.next(batch));
        return mimLoss(encoder, head, digitsToImages(b, 3), randomPatchMask(rng, batch, tokens, 0.5));
      }),
    });
    bar.done();
    await saveComponent(ctx.modelsDir, COMPONENTS.encoder, encoder, DIGIT_ENCODER_CONFIG);
    return { stage: 'encoder', steps, batch, lr, seconds: r.seconds, losses: r.losses, objective: 'SimMIM L1 on masked 4x4 patches, mask ratio 0.5' };
  } finally {
    model.dispose();
  }
}

/** Images of a digit set in [0, 1] as the feature cache stores them, in batches. */
function* imageBatches(set: DigitSet, batch: number): Generator<{ images: tf.Tensor; labels: Int32Array }> {
  for (let i = 0; i < set.labels.length; i += batch) {
    const n = Math.min(batch, set.labels.length - i);
    const part = { pixels: set.pixels.subarray(i * MNIST_PIXELS, (i + n) * MNIST_PIXELS), labels: set.labels.subarray(i, i + n) };
    const images = tf.tidy(() => tf.div(tf.add(digitsToImages(part, 3), 1), 2)); // [B, 28, 28, 3] in [0, 1]
    yield { images, labels: Int32Array.from(part.labels) };
  }
}

/** Runs the frozen encoder once over the training digits; features + images + labels on disk. */
export async function cacheTrainFeatures(ctx: TrainContext): Promise<FeatureCache> {
  const dir = join(ctx.workDir, 'feature-cache');
  const encoder = await loadComponent<Dinov2Model>(localRead(ctx.modelsDir), 'encoder');
  const n = ctx.split.train.labels.length;
  const bar = progress(ctx, 'feature cache', n);
  try {
    const extractor = { features: (px: tf.Tensor) => tf.tidy(() => encodeDigits(encoder, tf.sub(tf.mul(px, 2), 1))) };
    await cacheFeatures(extractor, imageBatches(ctx.split.train, 250), dir, {
      keepImages: true, dtype: 'F32', shardSize: 2048, overwrite: true, onProgress: (w) => bar.update(w),
    });
    bar.done();
  } finally {
    encoder.dispose();
  }
  return FeatureCache.open(dir);
}

function featureBatches(cache: FeatureCache, batch: number, seed: number) {
  return cache.dataSource({ batchSize: batch, seed, images: true });
}

/** Stage Ib: adapter + feature decoder (L2 + beta KL); then the latent statistics. */
export async function trainStageIbDigits(ctx: TrainContext, cache: FeatureCache): Promise<StageLog> {
  const { steps, batch, lr } = stageHyperparameters(ctx, 'stageIb');
  const fae = withSeededRandom(ctx.seed + 2, () => new FeatureAutoEncoder(ADAPTER_CONFIG, FEATURE_DECODER_CONFIG));
  const bar = progress(ctx, 'stage Ib (adapter + feature decoder)', steps);
  const t0 = Date.now();
  try {
    const r = await trainStageIb({
      fae, steps, data: featureBatches(cache, batch, ctx.seed + 3), lr, warmupSteps: Math.min(20, steps), seed: ctx.seed + 3,
      clipNorm: 1, onProgress: (p) => bar.update(p.step, { loss: p.loss, ...p.parts }),
    });
    r.dispose();
    bar.done();
    // Per-channel statistics of the posterior means over the training set: the generators' latents
    // are normalised with them (stored as the adapter's latent_mean / latent_std buffers).
    const stats = await computeLatentStats(fae.encoder, (async function* () {
      const src = cache.dataSource({ batchSize: 500, shuffle: false, dropLast: false, images: false });
      for (let i = 0; i < src.batchesPerEpoch!; i++) {
        const b = await src.batch(0, i);
        try {
          yield b.features;
        } finally {
          tf.dispose([b.features, b.labels, b.images].filter(Boolean) as tf.Tensor[]);
        }
      }
    })());
    fae.encoder.setLatentStats(stats);
    await saveComponent(ctx.modelsDir, COMPONENTS.adapter, fae.encoder, { class: 'SingleAttentionEncoder', config: fae.encoder.config } satisfies ComponentConfigJson);
    await saveComponent(ctx.modelsDir, COMPONENTS.featureDecoder, fae.decoder, { class: 'FeatureDecoder', config: fae.decoder.config } satisfies ComponentConfigJson);
    return { stage: 'stage-ib', steps, batch, lr, seconds: (Date.now() - t0) / 1000, losses: subsample(r.losses) };
  } finally {
    fae.dispose();
  }
}

/** Stage Ia (pixel decoder on frozen features + noise) or II (fine-tuned on the FAE's x^). */
export async function trainPixelStage(ctx: TrainContext, cache: FeatureCache, stage: 'Ia' | 'II'): Promise<StageLog> {
  const read = localRead(ctx.modelsDir);
  const { steps, batch, lr } = stageHyperparameters(ctx, stage === 'Ia' ? 'stageIa' : 'stageII');
  const decoder = stage === 'Ia'
    ? withSeededRandom(ctx.seed + 4, () => new PixelDecoder(PIXEL_DECODER_CONFIG))
    : await loadComponent<PixelDecoder>(read, 'pixelDecoder');
  const fae = stage === 'II' ? new FeatureAutoEncoder(await loadComponent<SingleAttentionEncoder>(read, 'adapter'), await loadComponent<FeatureDecoder>(read, 'featureDecoder')) : null;
  fae?.eval().freeze();
  const bar = progress(ctx, `stage ${stage} (pixel decoder${stage === 'II' ? ' on x^' : ''})`, steps);
  const t0 = Date.now();
  try {
    const common = {
      decoder, steps, data: featureBatches(cache, batch, ctx.seed + (stage === 'Ia' ? 4 : 5)),
      lr, warmupSteps: Math.min(stage === 'Ia' ? 20 : 5, steps), seed: ctx.seed + 6, clipNorm: 1,
      objective: { reconstruction: 'l2' as const },
      onProgress: (p: { step: number; loss: number; parts: Record<string, number> }) => bar.update(p.step, { loss: p.loss }),
    };
    const r = stage === 'Ia' ? await trainStageIa(common) : await trainStageII({ ...common, fae: fae! });
    r.dispose();
    bar.done();
    await saveComponent(ctx.modelsDir, COMPONENTS.pixelDecoder, decoder, { class: 'PixelDecoder', config: decoder.config } satisfies ComponentConfigJson);
    return { stage: stage === 'Ia' ? 'stage-ia' : 'stage-ii', steps, batch, lr, seconds: (Date.now() - t0) / 1000, losses: subsample(r.losses), objective: 'L2 reconstruction (no LPIPS: its VGG weights are not available offline; no GAN)' };
  } finally {
    decoder.dispose();
    fae?.dispose();
  }
}

/** Normalised latents [N, 7, 7, c] and labels [N] of the training digits (for the generators). */
export async function trainLatents(ctx: TrainContext, cache: FeatureCache): Promise<{ latents: tf.Tensor4D; labels: tf.Tensor1D }> {
  const read = localRead(ctx.modelsDir);
  const fae = new FeatureAutoEncoder(await loadComponent<SingleAttentionEncoder>(read, 'adapter'), await loadComponent<FeatureDecoder>(read, 'featureDecoder'));
  fae.eval();
  const parts: tf.Tensor[] = [];
  const labelParts: tf.Tensor[] = [];
  try {
    const src = cache.dataSource({ batchSize: 500, shuffle: false, dropLast: false, images: false });
    for (let i = 0; i < src.batchesPerEpoch!; i++) {
      const b = await src.batch(0, i);
      parts.push(fae.encode(b.features));
      labelParts.push(tf.cast(b.labels!, 'int32'));
      tf.dispose([b.features, b.labels, b.images].filter(Boolean) as tf.Tensor[]);
    }
    const latents = tf.concat(parts, 0) as tf.Tensor4D;
    const labels = tf.concat(labelParts, 0) as tf.Tensor1D;
    return { latents, labels };
  } finally {
    tf.dispose([...parts, ...labelParts]);
    fae.dispose();
  }
}

export { buildComponent, localRead };
export type { FeatureBatch };
