// Generation and reconstruction with the loaded components (browser-safe), through @fae/pipeline's
// FaePipeline and its LatentGenerator adapters (no branching on the generator here).
//   sample:      labels -> DiT (flow matching, CFG) or TARFlow -> latents [B,7,7,c] -> feature decoder
//                -> features [B,7,7,D] -> pixel decoder -> images [B,28,28,3] in [0,1]
//   reconstruct: images [B,28,28,3] in [0,1] -> ([-1, 1]) -> frozen encoder -> adapter (posterior mean)
//                -> feature decoder -> pixel decoder
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fae/core';
import { TransformersEncoder } from '@fae/encoders';
import { DiTGenerator, FaePipeline, FlowGenerator, HALF, type LatentGenerator } from '@fae/pipeline';
import type { DigitModels } from './models.js';

export type Generator = 'dit' | 'tarflow';

export interface GenerateOptions {
  generator: Generator;
  labels: number[];
  seed?: number;
  /** DiT steps / guidance scale; TARFlow guidance (defaults: the checkpoint's sampling.json). */
  steps?: number;
  cfg?: number;
  /** Progress in [0, 1] with the step counts. */
  onProgress?: (e: { done: number; total: number }) => void;
}

const views = new WeakMap<DigitModels, FaePipeline>();

/**
 * The loaded digit components as a FaePipeline (28x28 images in [0, 1]; the encoder sees them in
 * [-1, 1]). A view: the DigitModels keep ownership of the weights (dispose those, not this).
 */
export function digitPipeline(m: DigitModels): FaePipeline {
  const seen = views.get(m);
  if (seen) return seen;
  const buffers = m.fae ? new Map(m.fae.encoder.namedBuffers()) : null;
  const generators: Record<string, LatentGenerator> = {};
  if (m.dit) generators.dit = new DiTGenerator(m.dit, { sampler: m.sampling.ditSampler, steps: m.sampling.ditSteps, guidance: m.sampling.ditCfg });
  if (m.tarflow) generators.tarflow = new FlowGenerator(m.tarflow, { guidance: m.sampling.flowGuidance, noiseStd: m.sampling.flowNoiseStd });
  const pipe = new FaePipeline({
    preprocessing: { imageSize: 28, encoderSize: 28, crop: 'resize', mean: HALF, std: HALF },
    encoder: m.encoder ? new TransformersEncoder('encoder', m.encoder) : undefined,
    adapter: m.fae?.encoder, featureDecoder: m.fae?.decoder, pixelDecoder: m.pixelDecoder, generators,
    latentStats: buffers
      ? { mean: buffers.get('latent_mean')!.tensor.dataSync(), std: buffers.get('latent_std')!.tensor.dataSync() }
      : { mean: new Float32Array(m.dit?.config.inChannels ?? m.tarflow?.config.inChannels ?? 1), std: new Float32Array(m.dit?.config.inChannels ?? m.tarflow?.config.inChannels ?? 1).fill(1) },
  });
  views.set(m, pipe);
  return pipe;
}

function need<T>(x: T | undefined, what: string): T {
  if (!x) throw new ConfigError('models', `the ${what} component is not loaded`);
  return x;
}

/** Generator latents [B, h, w, c] (normalised, as the generators were trained on). */
export async function generateLatents(m: DigitModels, o: GenerateOptions): Promise<tf.Tensor4D> {
  need(o.generator === 'dit' ? m.dit : m.tarflow, o.generator);
  return digitPipeline(m).generateLatents({
    generator: o.generator, labels: o.labels, seed: o.seed ?? 0, steps: o.steps, guidance: o.cfg,
    onProgress: o.onProgress ? (e) => o.onProgress!({ done: e.step, total: e.steps }) : undefined,
  });
}

/** Normalised latents [B, h, w, c] -> images [B, 28, 28, 3] in [0, 1]. */
export function decodeLatents(m: DigitModels, latents: tf.Tensor): tf.Tensor4D {
  need(m.fae, 'adapter + feature-decoder');
  need(m.pixelDecoder, 'pixel-decoder');
  return digitPipeline(m).decode(latents);
}

/** Digits of the requested classes as images [B, 28, 28, 3] in [0, 1]. */
export async function generateDigits(m: DigitModels, o: GenerateOptions): Promise<{ images: tf.Tensor4D; latents: tf.Tensor4D }> {
  const latents = await generateLatents(m, o);
  return { images: decodeLatents(m, latents), latents };
}

export interface Reconstruction {
  /** Frozen-encoder features [B, h, w, D]. */
  features: tf.Tensor4D;
  /** Generator latents (normalised posterior means) [B, h, w, c]. */
  latents: tf.Tensor4D;
  /** Feature-decoder output x^ [B, h, w, D]. */
  reconFeatures: tf.Tensor4D;
  /** Pixel-decoder output on x^ [B, 28, 28, 3] in [0, 1]. */
  images: tf.Tensor4D;
}

/** images [B, 28, 28, 3] in [0, 1] -> the whole FAE round trip (FaePipeline.reconstructAll). */
export function reconstructDigits(m: DigitModels, images: tf.Tensor): Reconstruction {
  need(m.encoder, 'encoder');
  need(m.fae, 'adapter + feature-decoder');
  need(m.pixelDecoder, 'pixel-decoder');
  return digitPipeline(m).reconstructAll(images);
}

/** Mean over tokens of the cosine similarity between two feature maps [B, h, w, D]: [B]. */
export function featureCosine(a: tf.Tensor, b: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const dot = tf.sum(tf.mul(a, b), -1); // [B, h, w]
    const na = tf.sqrt(tf.sum(tf.square(a), -1));
    const nb = tf.sqrt(tf.sum(tf.square(b), -1));
    const cos = tf.div(dot, tf.maximum(tf.mul(na, nb), 1e-8)); // [B, h, w]
    return tf.mean(tf.reshape(cos, [cos.shape[0]!, -1]), 1) as tf.Tensor1D; // [B]
  });
}
