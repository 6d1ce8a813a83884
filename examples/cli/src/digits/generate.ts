// Generation and reconstruction with the loaded components (browser-safe).
//   sample:      labels -> DiT (flow matching, CFG) or TARFlow -> latents [B,7,7,c] -> feature decoder
//                -> features [B,7,7,D] -> pixel decoder -> images [B,28,28,3] in [0,1]
//   reconstruct: images [B,28,28,3] in [-1,1] -> frozen encoder -> adapter (posterior mean)
//                -> feature decoder -> pixel decoder
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fae/core';
import { sample as sampleDiT } from '@fae/diffusion';
import { sample as sampleFlow } from '@fae/flow';
import { encodeDigits } from '../models/digit-encoder.js';
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

function need<T>(x: T | undefined, what: string): T {
  if (!x) throw new ConfigError('models', `the ${what} component is not loaded`);
  return x;
}

/** Generator latents [B, h, w, c] (normalised, as the generators were trained on). */
export async function generateLatents(m: DigitModels, o: GenerateOptions): Promise<tf.Tensor4D> {
  const labels = tf.tensor1d(o.labels, 'int32');
  try {
    if (o.generator === 'dit') {
      const steps = o.steps ?? m.sampling.ditSteps;
      const cfg = o.cfg ?? m.sampling.ditCfg;
      return (await sampleDiT({
        model: need(m.dit, 'dit'), labels, steps, sampler: m.sampling.ditSampler, seed: o.seed ?? 0,
        guidance: cfg !== 1 ? { scale: cfg } : null,
        onProgress: o.onProgress ? (s) => o.onProgress!({ done: s.step, total: s.steps }) : undefined,
      })) as tf.Tensor4D;
    }
    const flow = need(m.tarflow, 'tarflow');
    return (await sampleFlow({
      model: flow, labels, seed: o.seed ?? 0, guidance: o.cfg ?? m.sampling.flowGuidance,
      // STARFlow's score-based denoising step for a flow trained on noise-augmented latents
      denoise: m.sampling.flowNoiseStd > 0 ? { noiseStd: m.sampling.flowNoiseStd } : undefined,
      onProgress: o.onProgress ? (e) => o.onProgress!({ done: e.step, total: e.steps }) : undefined,
    })) as tf.Tensor4D;
  } finally {
    labels.dispose();
  }
}

/** Normalised latents [B, h, w, c] -> images [B, 28, 28, 3] in [0, 1]. */
export function decodeLatents(m: DigitModels, latents: tf.Tensor): tf.Tensor4D {
  const fae = need(m.fae, 'adapter + feature-decoder');
  const pixel = need(m.pixelDecoder, 'pixel-decoder');
  return tf.tidy(() => tf.clipByValue(pixel.forward(fae.decode(latents)), 0, 1) as tf.Tensor4D); // [B, 28, 28, 3]
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

/** images [B, 28, 28, 3] in [-1, 1] -> the whole FAE round trip. */
export function reconstructDigits(m: DigitModels, images: tf.Tensor): Reconstruction {
  const encoder = need(m.encoder, 'encoder');
  const fae = need(m.fae, 'adapter + feature-decoder');
  const pixel = need(m.pixelDecoder, 'pixel-decoder');
  return tf.tidy(() => {
    const features = encodeDigits(encoder, images); // [B, 7, 7, D]
    const latents = fae.encode(features) as tf.Tensor4D; // [B, 7, 7, c]
    const reconFeatures = fae.decode(latents) as tf.Tensor4D; // [B, 7, 7, D]
    const out = tf.clipByValue(pixel.forward(reconFeatures), 0, 1) as tf.Tensor4D; // [B, 28, 28, 3]
    return { features, latents, reconFeatures, images: out };
  });
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
