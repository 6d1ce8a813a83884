// evaluatePipeline(pipeline, dataset): metrics of a trained pipeline on a dataset of images, with no
// model beyond the pipeline itself (so they work offline, for any dataset):
//   reconstruction  PSNR / SSIM (RGB, data range 1) of reconstructions against the inputs, and
//                   feature cosine / R^2 of the feature decoder's x^ against the encoder's features
//   latents         mean and std of the normalised latents (about 0 and 1 on the training data)
//   generation      per generator: the Frechet distance between Gaussians of the frozen encoder's
//                   mean-pooled features of generated and of real images (an "encoder FD": an FID
//                   whose feature extractor is the pipeline's own encoder; lower is better, compare
//                   numbers only for one encoder and one sample count)
import * as tf from '@tensorflow/tfjs-core';
import { FeatureStatistics, frechetDistance, psnrSsimBatch } from '@fae/eval';
import { imageBatches, takeItems, type ImageDataset } from './datasets/dataset.js';
import type { FaePipeline } from './fae-pipeline.js';

export interface PipelineMetrics {
  dataset: string;
  images: number;
  reconstruction: { psnr: number; ssim: number; featureCosine: number; featureR2: number };
  latents: { mean: number; std: number };
  generation: Record<string, { samples: number; encoderFd: number; seconds: number }>;
}

export interface EvaluatePipelineOptions {
  /** Images used (default 256). */
  maxImages?: number;
  /** Samples per class and generator (default: as many as the images used, spread over the classes). */
  perClass?: number;
  batchSize?: number;
  seed?: number;
  /** Generators to evaluate (default all). */
  generators?: string[];
  onProgress?: (what: string, done: number, total: number) => void;
}

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);

/** Mean over the grid of encoder features [B, h, w, D] -> [B, D] floats. */
async function pooled(pipe: FaePipeline, images: tf.Tensor): Promise<Float32Array> {
  const t = tf.tidy(() => tf.mean(pipe.features(images), [1, 2]));
  const out = (await t.data()) as Float32Array;
  t.dispose();
  return out;
}

export async function evaluatePipeline(pipe: FaePipeline, datasetIn: ImageDataset, o: EvaluatePipelineOptions = {}): Promise<PipelineMetrics> {
  const ds = takeItems(datasetIn, o.maxImages ?? 256);
  const bs = o.batchSize ?? 32;
  const p = pipe.preprocessing;
  const transform = { imageSize: p.imageSize, crop: p.crop };
  const psnrs: number[] = [];
  const ssims: number[] = [];
  let cos = 0;
  let sse = 0;
  let zSum = 0;
  let zSq = 0;
  let zN = 0;
  let dim = 0;
  let real: FeatureStatistics | null = null;
  let chSum: Float64Array | null = null;
  let chSq: Float64Array | null = null;
  let rows = 0;
  let done = 0;
  for await (const b of imageBatches(ds, { batchSize: bs, shuffle: false, transform })) {
    const r = pipe.reconstructAll(b.images);
    try {
      const q = await psnrSsimBatch(r.images, b.images, { dataRange: 1 });
      psnrs.push(...q.psnr);
      ssims.push(...q.ssim);
      const [x, y, z] = await Promise.all([r.features.data(), r.reconFeatures.data(), r.latents.data()]);
      const d = r.features.shape[3];
      dim = d;
      chSum ??= new Float64Array(d);
      chSq ??= new Float64Array(d);
      for (let t = 0; t < x.length / d; t++) {
        let dot = 0;
        let na = 0;
        let nb = 0;
        for (let k = 0; k < d; k++) {
          const a = x[t * d + k];
          const c = y[t * d + k];
          dot += a * c;
          na += a * a;
          nb += c * c;
          sse += (a - c) ** 2;
          chSum[k] += a;
          chSq[k] += a * a;
        }
        cos += dot / Math.max(Math.sqrt(na * nb), 1e-8);
      }
      rows += x.length / d;
      for (const v of z) {
        zSum += v;
        zSq += v * v;
      }
      zN += z.length;
      const f = await pooled(pipe, b.images);
      real ??= new FeatureStatistics(d);
      real.add(f);
    } finally {
      tf.dispose([b.images, r.features, r.latents, r.reconFeatures, r.images]);
    }
    done += b.labels.length;
    o.onProgress?.('reconstruction', done, ds.size);
  }
  let total = 0;
  for (let k = 0; k < dim; k++) total += chSq![k] - (chSum![k] * chSum![k]) / rows;
  const zMean = zSum / zN;
  const metrics: PipelineMetrics = {
    dataset: datasetIn.name, images: ds.size,
    reconstruction: { psnr: mean(psnrs), ssim: mean(ssims), featureCosine: cos / rows, featureR2: 1 - sse / total },
    latents: { mean: zMean, std: Math.sqrt(Math.max(0, zSq / zN - zMean * zMean)) },
    generation: {},
  };
  const realGaussian = real!.toGaussian();
  for (const name of o.generators ?? pipe.generatorNames) {
    const g = pipe.generator(name);
    const classes = Math.max(1, g.numClasses);
    const per = o.perClass ?? Math.max(1, Math.ceil(ds.size / classes));
    const labels = Array.from({ length: classes * per }, (_, i) => i % classes);
    const fake = new FeatureStatistics(dim);
    const t0 = Date.now();
    for (let s = 0; s < labels.length; s += bs) {
      const part = labels.slice(s, s + bs);
      const images = await pipe.generate({ labels: part, generator: name, seed: (o.seed ?? 0) + s });
      try {
        fake.add(await pooled(pipe, images));
      } finally {
        images.dispose();
      }
      o.onProgress?.(`${name} samples`, s + part.length, labels.length);
    }
    metrics.generation[name] = { samples: labels.length, encoderFd: frechetDistance(fake.toGaussian(), realGaussian), seconds: (Date.now() - t0) / 1000 };
  }
  return metrics;
}
