// The commands of `fae`. Each prints progress on stderr and its result (JSON) on stdout.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { encodeSafetensors, imageGrid, encodePng, initBackend, readImageFile, resizeImage, toRGB, type RawImage } from '@fae/core';
import type { ParsedCommand } from '../args.js';
import { UsageError, InputFileError } from '../errors.js';
import { readComponentFile, saveJson, SHIPPED_CHECKPOINTS, sourceKind } from '../checkpoints.js';
import { MNIST_PIXELS, splitMnist, sliceDigits, digitsToImages, type DigitSet } from '../data/mnist.js';
import { TRAIN_DIGITS } from '../digits/config.js';
import { disposeDigitModels, loadDigitModels, type DigitModels, type Need, type ReadFile } from '../digits/models.js';
import { generateDigits, reconstructDigits, featureCosine, type Generator } from '../digits/generate.js';
import { classifyReal, evaluateDigits, type DigitMetrics } from '../pipeline/evaluate.js';
import { judgeSamples } from '../pipeline/judge.js';
import { runTrainStage } from '../pipeline/train-stages.js';
import type { TrainContext } from '../pipeline/context.js';
import { ProgressBar } from '../progress.js';
import type { MainIO } from '../main.js';

interface Env {
  p: ParsedCommand;
  io: MainIO;
  out: string;
  log: (s: string) => void;
  backend: string;
}

function modelsSource(p: ParsedCommand): string {
  const src = p.global.models ?? SHIPPED_CHECKPOINTS;
  return sourceKind(src) === 'folder' ? resolve(src) : src;
}

function reader(source: string): ReadFile {
  return (component, file) => readComponentFile(source, component === '.' ? '' : component, file);
}

async function loadModels(env: Env, need: Need[]): Promise<DigitModels> {
  const source = modelsSource(env.p);
  const t0 = Date.now();
  const m = await loadDigitModels(reader(source), need);
  env.log(`loaded ${need.join(', ')} from ${source} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return m;
}

function bar(env: Env, label: string, total: number): ProgressBar {
  return new ProgressBar(label, total, { silent: env.p.global.quiet });
}

async function writePng(path: string, images: tf.Tensor, opts: { cols: number; labels?: string[]; range?: [number, number] }): Promise<void> {
  const grid = await imageGrid(images, { cols: opts.cols, labels: opts.labels, range: opts.range ?? [0, 1], padding: 2 });
  await writeFile(path, encodePng(grid));
}

/** PNG files -> MNIST-like digits: grey, 28x28, white digit on black (inverted when the background is light). */
async function readDigitImages(paths: string[]): Promise<DigitSet> {
  const pixels = new Float32Array(paths.length * MNIST_PIXELS);
  for (const [i, path] of paths.entries()) {
    if (!existsSync(path)) throw new InputFileError(path, 'no such file');
    if (!statSync(path).isFile()) throw new InputFileError(path, 'not a file');
    let img: RawImage;
    try {
      img = toRGB(await readImageFile(path));
    } catch (e) {
      throw new InputFileError(path, `cannot decode as PNG or JPEG (${(e as Error).message})`, e);
    }
    const small = img.width === 28 && img.height === 28 ? img : resizeImage(img, { width: 28, height: 28, resample: 'bilinear' });
    let mean = 0;
    for (let j = 0; j < MNIST_PIXELS; j++) {
      const v = (small.data[3 * j] + small.data[3 * j + 1] + small.data[3 * j + 2]) / (3 * 255);
      pixels[i * MNIST_PIXELS + j] = v;
      mean += v / MNIST_PIXELS;
    }
    if (mean > 0.5) for (let j = 0; j < MNIST_PIXELS; j++) pixels[i * MNIST_PIXELS + j] = 1 - pixels[i * MNIST_PIXELS + j];
  }
  return { pixels, labels: new Int32Array(paths.length).fill(-1) };
}

async function inputDigits(env: Env): Promise<{ set: DigitSet; from: string }> {
  if (env.p.positionals.length) return { set: await readDigitImages(env.p.positionals), from: `${env.p.positionals.length} image file(s)` };
  const n = env.p.options.mnist ?? 16;
  return { set: sliceDigits(splitMnist().heldOut, 0, n), from: `the first ${n} held-out MNIST digits` };
}

function labelsFor(p: ParsedCommand, perClassDefault: number): number[] {
  const classes = p.options.labels ?? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const per = p.options.perClass ?? perClassDefault;
  const out: number[] = [];
  for (const c of classes) for (let i = 0; i < per; i++) out.push(c);
  return out;
}

/** Samples a grid (one row per label value), writes PNG (+ latents for `sample`); returns the images [B, 28, 28, 3] in [0, 1]. */
async function sampleGrid(env: Env, m: DigitModels, generator: Generator, labels: number[], perRow: number, file: string): Promise<{ seconds: number; png: string; images: tf.Tensor4D }> {
  const b = bar(env, `sample ${generator} (${labels.length} digits)`, 100);
  const t0 = Date.now();
  const { images, latents } = await generateDigits(m, {
    generator, labels, seed: env.p.global.seed, steps: env.p.options.steps, cfg: env.p.options.cfg,
    onProgress: (e) => b.update(Math.round((100 * e.done) / e.total)),
  });
  b.done();
  const seconds = (Date.now() - t0) / 1000;
  const png = join(env.out, `${file}.png`);
  await writePng(png, images, { cols: perRow, labels: labels.map(String) });
  if (env.p.command === 'sample') {
    const lat = { shape: latents.shape, data: (await latents.data()) as Float32Array };
    await writeFile(join(env.out, `${file}.safetensors`), encodeSafetensors({ latents: lat, labels: { shape: [labels.length], data: Int32Array.from(labels) } }, { layout: 'NHWC', generator }));
  }
  latents.dispose();
  return { seconds, png, images };
}

async function reconstructGrid(env: Env, m: DigitModels, set: DigitSet, file: string) {
  const n = set.labels.length;
  const input = digitsToImages(set, 3);
  const r = reconstructDigits(m, input);
  const real = tf.tensor4d(set.pixels, [n, 28, 28, 1]);
  const both = tf.tidy(() => tf.concat([tf.tile(real, [1, 1, 1, 3]), r.images], 0)); // originals, then reconstructions
  const png = join(env.out, `${file}.png`);
  await writePng(png, both, { cols: n });
  const cos = featureCosine(r.features, r.reconFeatures);
  const cosines = Array.from(await cos.data());
  const grey = tf.tidy(() => tf.mean(r.images, 3, true));
  const { psnrSsimBatch } = await import('@fae/eval');
  const q = await psnrSsimBatch(grey, real, { dataRange: 1, ssim: false });
  tf.dispose([input, r.features, r.latents, r.reconFeatures, r.images, real, both, cos, grey]);
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  return { png, n, featureCosine: mean(cosines), psnr: mean(q.psnr) };
}

function trainContext(env: Env, modelsDir: string): TrainContext {
  const stepScale = Number(process.env.FAE_STEP_SCALE ?? 1);
  const split = splitMnist();
  const classifierTrain = split.train;
  // The FAE and the generators train on the first TRAIN_DIGITS training digits (a 2-core CPU budget);
  // smoke runs (tests, CI) on 300.
  split.train = sliceDigits(split.train, 0, stepScale < 1 ? 300 : TRAIN_DIGITS);
  return {
    modelsDir, workDir: join(env.out, 'work'), split, classifierTrain, seed: env.p.global.seed, backend: env.backend,
    stepScale, steps: env.p.options.steps, batch: env.p.options.batch, lr: env.p.options.lr, continueTraining: env.p.options.continueTraining, resume: env.p.options.resume,
    quiet: env.p.global.quiet, log: env.log,
  };
}

const FULL_EVAL = { perClass: 10, reconstructionDigits: 300, linearProbe: { trainDigits: 600, testDigits: 300, epochs: 30 } };
/** A quick evaluation for smoke runs (FAE_STEP_SCALE < 1: tests, CI). */
const QUICK_EVAL = { perClass: 2, reconstructionDigits: 100, linearProbe: { trainDigits: 300, testDigits: 100, epochs: 3 } };
const fullEval = () => (Number(process.env.FAE_STEP_SCALE ?? 1) < 1 ? QUICK_EVAL : FULL_EVAL);

async function evaluate(env: Env, m: DigitModels, o: { perClass: number; reconstructionDigits: number; linearProbe: false | { trainDigits: number; testDigits: number; epochs: number } }): Promise<DigitMetrics> {
  let current: ProgressBar | null = null;
  let what = '';
  const metrics = await evaluateDigits(m, splitMnist(), {
    ...o, seed: env.p.global.seed + 1000, steps: env.p.options.steps, cfg: env.p.options.cfg,
    onProgress: (w, done, total) => {
      if (w !== what) {
        current?.done();
        current = bar(env, `eval: ${w}`, total);
        what = w;
      }
      current!.update(Math.round(done));
    },
  });
  (current as ProgressBar | null)?.done();
  return metrics;
}

export async function runCommand(p: ParsedCommand, io: MainIO): Promise<void> {
  const out = resolve(p.global.out ?? 'fae-out');
  await mkdir(out, { recursive: true });
  const log = (s: string) => {
    if (!p.global.quiet) io.stderr(`${s}\n`);
  };
  const t0 = Date.now();
  const info = await initBackend(p.global.backend as never, { wasmThreads: p.global.threads });
  log(`backend: ${info.backend} (${info.adapter ?? ''}${info.features.length ? `; ${info.features.join(', ')}` : ''})`);
  const env: Env = { p, io, out, log, backend: info.backend };
  const print = (x: unknown) => io.stdout(`${JSON.stringify(x, null, 2)}\n`);

  switch (p.command) {
    case 'train': {
      if (p.global.models && sourceKind(p.global.models) !== 'folder') throw new UsageError('train writes into --models, which must be a local folder', 'train');
      const modelsDir = resolve(p.global.models ?? join(out, 'checkpoints'));
      const ctx = trainContext(env, modelsDir);
      const { logs } = await runTrainStage(ctx, p.options.stage!, `fae ${process.argv.slice(2).join(' ')}`);
      let metrics: DigitMetrics | undefined;
      if (p.options.stage === 'all') {
        const m = await loadModels({ ...env, p: { ...p, global: { ...p.global, models: modelsDir } } }, ['encoder', 'fae', 'pixelDecoder', 'dit', 'tarflow', 'classifier']);
        try {
          metrics = await evaluate(env, m, fullEval());
        } finally {
          disposeDigitModels(m);
        }
        await saveJson(join(modelsDir, 'metrics.json'), { command: `fae eval --models ${modelsDir} (after fae train all)`, backend: info.backend, ...metrics });
      }
      print({ models: modelsDir, stages: logs.map((l) => ({ stage: l.stage, steps: l.steps, seconds: Number(l.seconds.toFixed(1)), finalLoss: l.losses.at(-1)?.[1], curve: l.curve })), metrics, seconds: (Date.now() - t0) / 1000 });
      return;
    }
    case 'demo': {
      let models = p.global.models;
      if (p.options.train) {
        models = join(out, 'checkpoints');
        const ctx = trainContext(env, models);
        await runTrainStage(ctx, 'all', 'fae demo --train');
      }
      const e2: Env = { ...env, p: { ...p, global: { ...p.global, models } } };
      const m = await loadModels(e2, ['encoder', 'fae', 'pixelDecoder', 'dit', 'tarflow', 'classifier']);
      try {
        const per = p.options.perClass ?? 8;
        const labels = labelsFor({ ...p, options: { ...p.options, perClass: per } }, per);
        const byRow = Array.from({ length: 10 }, (_, c) => labels.filter((l) => l === c)).flat();
        const dit = await sampleGrid(e2, m, 'dit', byRow, per, 'demo-dit');
        const flow = await sampleGrid(e2, m, 'tarflow', byRow, per, 'demo-tarflow');
        const rec = await reconstructGrid(e2, m, sliceDigits(splitMnist().heldOut, 0, 16), 'demo-reconstructions');
        // Quick metrics of the demo's own samples (the full evaluation is `fae eval`; the shipped
        // checkpoints' numbers are printed below as shippedFullEvaluation).
        const held = splitMnist().heldOut;
        const real = await classifyReal(m, held);
        const judge = async (g: typeof dit, generator: Generator) => {
          const j = await judgeSamples(m.classifier!, g.images, byRow, real.features);
          g.images.dispose();
          return { ...j, seconds: Number(g.seconds.toFixed(1)), steps: generator === 'dit' ? p.options.steps ?? m.sampling.ditSteps : undefined, guidance: generator === 'dit' ? p.options.cfg ?? m.sampling.ditCfg : p.options.cfg ?? m.sampling.flowGuidance };
        };
        let correct = 0;
        for (let i = 0; i < real.predictions.length; i++) if (real.predictions[i] === held.labels[i]) correct++;
        const recMetrics = await evaluateDigits(m, splitMnist(), { perClass: 0, generators: [], reconstructionDigits: 100, linearProbe: false, seed: p.global.seed });
        const metrics = {
          note: `accuracy and digit FID of the ${byRow.length} digits in each grid (FID from so few samples is biased upwards; see shippedFullEvaluation for ${FULL_EVAL.perClass * 10} samples)`,
          classifier: { heldOutAccuracy: correct / held.labels.length },
          generation: { dit: await judge(dit, 'dit'), tarflow: await judge(flow, 'tarflow') },
          reconstruction: recMetrics.reconstruction,
        };
        const shippedPath = join(modelsSource(e2.p), 'metrics.json');
        const shipped = sourceKind(modelsSource(e2.p)) === 'folder' && existsSync(shippedPath) ? JSON.parse(await readFile(shippedPath, 'utf8')) : undefined;
        const result = {
          backend: info.backend, models: modelsSource(e2.p),
          outputs: { dit: dit.png, tarflow: flow.png, reconstructions: rec.png },
          metrics, shippedFullEvaluation: shipped, seconds: Number(((Date.now() - t0) / 1000).toFixed(1)),
        };
        await saveJson(join(out, 'metrics.json'), result);
        print(result);
      } finally {
        disposeDigitModels(m);
      }
      return;
    }
    case 'sample': {
      const gen = p.options.generator ?? 'dit';
      const m = await loadModels(env, [gen === 'dit' ? 'dit' : 'tarflow', 'fae', 'pixelDecoder']);
      try {
        const per = p.options.perClass ?? 8;
        const labels = labelsFor(p, per);
        const r = await sampleGrid(env, m, gen, labels, per, `samples-${gen}`);
        r.images.dispose();
        print({ generator: gen, labels: labels.length, png: r.png, latents: join(out, `samples-${gen}.safetensors`), seconds: r.seconds });
      } finally {
        disposeDigitModels(m);
      }
      return;
    }
    case 'reconstruct': {
      const { set, from } = await inputDigits(env);
      const m = await loadModels(env, ['encoder', 'fae', 'pixelDecoder']);
      try {
        const r = await reconstructGrid(env, m, set, 'reconstructions');
        print({ input: from, ...r });
      } finally {
        disposeDigitModels(m);
      }
      return;
    }
    case 'encode': {
      const { set, from } = await inputDigits(env);
      const m = await loadModels(env, ['encoder', 'fae']);
      try {
        const r = tf.tidy(() => m.fae!.encode(m.encoder!.features(digitsToImages(set, 3))));
        const data = (await r.data()) as Float32Array;
        const path = join(out, 'latents.safetensors');
        await writeFile(path, encodeSafetensors({ latents: { shape: r.shape, data }, labels: { shape: [set.labels.length], data: Int32Array.from(set.labels) } }, { layout: 'NHWC', normalised: 'true' }));
        let mean = 0;
        let sq = 0;
        for (const v of data) {
          mean += v / data.length;
          sq += (v * v) / data.length;
        }
        r.dispose();
        print({ input: from, latents: path, shape: r.shape, mean, std: Math.sqrt(Math.max(0, sq - mean * mean)) });
      } finally {
        disposeDigitModels(m);
      }
      return;
    }
    case 'eval': {
      const m = await loadModels(env, ['encoder', 'fae', 'pixelDecoder', 'dit', 'tarflow', 'classifier']);
      try {
        const metrics = await evaluate(env, m, { ...fullEval(), perClass: p.options.perClass ?? fullEval().perClass });
        const result = { command: `fae ${process.argv.slice(2).join(' ')}`, backend: info.backend, models: modelsSource(p), ...metrics, seconds: (Date.now() - t0) / 1000 };
        await saveJson(join(out, 'metrics.json'), result);
        print(result);
      } finally {
        disposeDigitModels(m);
      }
      return;
    }
  }
}
