// The metrics of the embedded default, all on held-out digits:
//   generation      classifier accuracy for the requested class and digit FID, DiT and TARFlow
//   reconstruction  feature cosine (encoder features vs feature-decoder output) and pixel PSNR
//   linear probe    accuracy of a linear classifier on frozen encoder features vs on FAE latents
import * as tf from '@tensorflow/tfjs-core';
import { LinearProbe, psnrSsimBatch } from '@fae/eval';
import { digitsToImages, digitsToUnitImages, MNIST_PIXELS, sliceDigits, type DigitSet, type MnistSplit } from '../data/mnist.js';
import { featureCosine, generateDigits, reconstructDigits, type Generator } from '../digits/generate.js';
import type { DigitModels } from '../digits/models.js';
import { classify, judgeSamples, toGrey, gaussianOf, type SampleJudgement } from './judge.js';
import { frechetDistance } from '@fae/eval';
import { encodeDigits } from '../models/digit-encoder.js';

export interface GenerationMetrics extends SampleJudgement {
  generator: Generator;
  steps?: number;
  guidance: number;
  seconds: number;
}

export interface DigitMetrics {
  heldOutDigits: number;
  classifier: { heldOutAccuracy: number; realFidFloor: number };
  reconstruction?: {
    n: number;
    featureCosine: number;
    /** 1 - SSE / total variance around the per-channel means: cosine alone is dominated by those means. */
    featureR2: number;
    psnr: number;
    ssim: number;
    /** PSNR of the mean training digit against every held-out digit: the floor a blur reaches. */
    meanImagePsnr: number;
  };
  generation: Partial<Record<Generator, GenerationMetrics>>;
  linearProbe?: { trainDigits: number; testDigits: number; encoderFeatures: number; faeLatents: number; encoderDim: number; latentDim: number };
}

export interface EvaluateOptions {
  perClass: number;
  seed: number;
  steps?: number;
  cfg?: number;
  generators?: Generator[];
  reconstructionDigits?: number;
  linearProbe?: { trainDigits: number; testDigits: number; epochs: number } | false;
  onProgress?: (what: string, done: number, total: number) => void;
}

/** Classifier features (the digit-FID reference) and predictions of real digits. */
export async function classifyReal(m: DigitModels, set: DigitSet): Promise<{ features: Float32Array; predictions: Int32Array }> {
  const images = tf.tensor4d(set.pixels, [set.labels.length, 28, 28, 1]);
  try {
    return await classify(m.classifier!, images);
  } finally {
    images.dispose();
  }
}

async function inBatches<T>(n: number, batch: number, fn: (start: number, count: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += batch) out.push(await fn(i, Math.min(batch, n - i)));
  return out;
}

export async function evaluateDigits(m: DigitModels, split: MnistSplit, o: EvaluateOptions): Promise<DigitMetrics> {
  const held = split.heldOut;
  const dim = m.classifier!.config.feature_dim;
  const real = await classifyReal(m, held);
  const reference = real.features;
  // The floor digit FID can reach: one half of the real held-out digits against the other.
  const half = Math.floor(held.labels.length / 2);
  const floor = frechetDistance(gaussianOf(reference.subarray(0, half * dim), dim), gaussianOf(reference.subarray(half * dim), dim));
  const heldPred = real.predictions;
  let correct = 0;
  for (let i = 0; i < heldPred.length; i++) if (heldPred[i] === held.labels[i]) correct++;
  const metrics: DigitMetrics = {
    heldOutDigits: held.labels.length,
    classifier: { heldOutAccuracy: correct / held.labels.length, realFidFloor: floor },
    generation: {},
  };

  for (const generator of o.generators ?? ['dit', 'tarflow']) {
    if ((generator === 'dit' && !m.dit) || (generator === 'tarflow' && !m.tarflow)) continue;
    const labels = Array.from({ length: 10 * o.perClass }, (_, i) => i % 10);
    const t0 = Date.now();
    const parts = await inBatches(labels.length, 100, async (start, count) => {
      const { images, latents } = await generateDigits(m, {
        generator, labels: labels.slice(start, start + count), seed: o.seed + start, steps: o.steps, cfg: o.cfg,
        onProgress: (e) => o.onProgress?.(`${generator} samples`, start + (count * e.done) / e.total, labels.length),
      });
      latents.dispose();
      return images;
    });
    const images = tf.concat(parts, 0);
    tf.dispose(parts);
    const seconds = (Date.now() - t0) / 1000;
    const j = await judgeSamples(m.classifier!, images, labels, reference);
    images.dispose();
    metrics.generation[generator] = {
      generator, ...j, seconds,
      steps: generator === 'dit' ? o.steps ?? m.sampling.ditSteps : undefined,
      guidance: generator === 'dit' ? o.cfg ?? m.sampling.ditCfg : o.cfg ?? m.sampling.flowGuidance,
    };
  }

  const nRec = Math.min(o.reconstructionDigits ?? held.labels.length, held.labels.length);
  if (m.encoder && m.fae && m.pixelDecoder && nRec > 0) {
    let cosSum = 0;
    const fit = new FeatureFit();
    const psnrs: number[] = [];
    const ssims: number[] = [];
    await inBatches(nRec, 250, async (start, count) => {
      const part = sliceDigits(held, start, count);
      const input = digitsToUnitImages(part);
      const r = reconstructDigits(m, input);
      const cos = featureCosine(r.features, r.reconFeatures);
      for (const v of await cos.data()) cosSum += v;
      await fit.add(r.features, r.reconFeatures);
      const real = tf.tensor4d(part.pixels, [count, 28, 28, 1]);
      const grey = toGrey(r.images);
      const q = await psnrSsimBatch(grey, real, { dataRange: 1 });
      psnrs.push(...q.psnr);
      ssims.push(...q.ssim);
      tf.dispose([input, cos, real, grey, r.features, r.latents, r.reconFeatures, r.images]);
      o.onProgress?.('reconstruction', start + count, nRec);
    });
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    metrics.reconstruction = {
      n: nRec, featureCosine: cosSum / nRec, featureR2: fit.r2(), psnr: mean(psnrs), ssim: mean(ssims),
      meanImagePsnr: meanImagePsnr(split.train.pixels, held.pixels.subarray(0, nRec * MNIST_PIXELS)),
    };
  }

  if (o.linearProbe && m.encoder && m.fae) {
    const nTrain = Math.min(o.linearProbe.trainDigits, split.train.labels.length);
    const trainSet = sliceDigits(split.train, 0, nTrain);
    const feats = async (set: DigitSet) => {
      const f: tf.Tensor[] = [];
      const z: tf.Tensor[] = [];
      await inBatches(set.labels.length, 250, async (start, count) => {
        const [a, b] = tf.tidy(() => {
          const x = encodeDigits(m.encoder!, digitsToImages(sliceDigits(set, start, count), 3)); // [B, 7, 7, D]
          return [tf.reshape(x, [count, -1]), tf.reshape(m.fae!.encode(x), [count, -1])]; // [B, 7*7*D], [B, 7*7*c]
        });
        f.push(a);
        z.push(b);
      });
      const out = { features: tf.concat(f, 0), latents: tf.concat(z, 0) };
      tf.dispose([...f, ...z]);
      return out;
    };
    const testSet = sliceDigits(held, 0, Math.min(o.linearProbe.testDigits, held.labels.length));
    const tr = await feats(trainSet);
    const te = await feats(testSet);
    const probe = async (train: tf.Tensor, test: tf.Tensor) => {
      const p = await LinearProbe.train(train, trainSet.labels, { classes: 10, epochs: o.linearProbe ? o.linearProbe.epochs : 20, seed: o.seed });
      try {
        return await p.accuracy(test, testSet.labels);
      } finally {
        p.dispose();
      }
    };
    o.onProgress?.('linear probe', 0, 2);
    const encAcc = await probe(tr.features, te.features);
    o.onProgress?.('linear probe', 1, 2);
    const latAcc = await probe(tr.latents, te.latents);
    o.onProgress?.('linear probe', 2, 2);
    metrics.linearProbe = {
      trainDigits: nTrain, testDigits: testSet.labels.length, encoderFeatures: encAcc, faeLatents: latAcc,
      encoderDim: tr.features.shape[1]!, latentDim: tr.latents.shape[1]!,
    };
    tf.dispose([tr.features, tr.latents, te.features, te.latents]);
  }
  return metrics;
}

/** Accumulates the squared error and per-channel moments of features [B, h, w, D] over batches. */
class FeatureFit {
  private sse = 0;
  private n = 0;
  private sum: Float64Array | null = null;
  private sumSq: Float64Array | null = null;

  async add(x: tf.Tensor, xHat: tf.Tensor): Promise<void> {
    const [a, b] = await Promise.all([x.data(), xHat.data()]);
    const d = x.shape[x.rank - 1]!;
    this.sum ??= new Float64Array(d);
    this.sumSq ??= new Float64Array(d);
    for (let i = 0; i < a.length; i++) {
      const e = a[i] - b[i];
      this.sse += e * e;
      this.sum[i % d] += a[i];
      this.sumSq[i % d] += a[i] * a[i];
    }
    this.n += a.length / d;
  }

  /** Explained variance: 1 - SSE / sum over channels of (sum x^2 - n mean^2). */
  r2(): number {
    let total = 0;
    for (let c = 0; c < this.sum!.length; c++) total += this.sumSq![c] - (this.sum![c] * this.sum![c]) / this.n;
    return 1 - this.sse / total;
  }
}

/** PSNR (data range 1) of the mean of `train` digits against each held-out digit, averaged. */
function meanImagePsnr(train: Float32Array, held: Float32Array): number {
  const mean = new Float64Array(MNIST_PIXELS);
  const nTrain = train.length / MNIST_PIXELS;
  for (let i = 0; i < train.length; i++) mean[i % MNIST_PIXELS] += train[i] / nTrain;
  let total = 0;
  const nHeld = held.length / MNIST_PIXELS;
  for (let j = 0; j < nHeld; j++) {
    let mse = 0;
    for (let p = 0; p < MNIST_PIXELS; p++) mse += (held[j * MNIST_PIXELS + p] - mean[p]) ** 2 / MNIST_PIXELS;
    total += 10 * Math.log10(1 / mse);
  }
  return total / nHeld;
}
