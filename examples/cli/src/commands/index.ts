// The commands of `fae`. Each prints progress on stderr and its result (JSON) on stdout.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { encodeSafetensors, imageGrid, encodePng, initBackend, readImageFile, resizeImage, toRGB, type RawImage } from '@fae/core';
import { FaePipeline, readImages } from '@fae/pipeline';
import { evaluateOnData, trainOnData } from './pipeline.js';
import type { ParsedCommand } from '../args.js';
import { UsageError, InputFileError } from '../errors.js';
import { readComponentFile, saveJson, SHIPPED_CHECKPOINTS, sourceKind } from '../checkpoints.js';
import { MNIST_PIXELS, splitMnist, sliceDigits, digitsToUnitImages, type DigitSet } from '../data/mnist.js';
import { TRAIN_DIGITS } from '../digits/config.js';
import { disposeDigitModels, loadDigitModels, type DigitModels, type Need, type ReadFile } from '../digits/models.js';
import { digitPipeline, featureCosine, type Generator } from '../digits/generate.js';
import { classifyReal, evaluateDigits, type DigitMetrics } from '../pipeline/evaluate.js';
import { judgeSamples } from '../pipeline/judge.js';
import { runTrainStage } from '../pipeline/train-stages.js';
import type { TrainContext } from '../pipeline/context.js';
import { ProgressBar } from '../progress.js';
import type { MainIO } from '../main.js';
import type { Env } from './env.js';


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

/** The models source as one FaePipeline (a folder with pipeline.json, or the digits layout). */
async function loadPipeline(env: Env, parts?: Parameters<typeof FaePipeline.load>[1]): Promise<FaePipeline> {
  const source = modelsSource(env.p);
  if (sourceKind(source) === 'folder' && !(existsSync(source) && statSync(source).isDirectory())) {
    throw new InputFileError(source, 'models folder not found (give a folder with one sub-folder per component, a URL or a hub id)');
  }
  const t0 = Date.now();
  const pipe = await FaePipeline.load(source, parts);
  env.log(`loaded the pipeline from ${source} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return pipe;
}

/** A pipeline of 28x28 images without class names: the digits example's (MNIST-like inputs). */
const isDigitPipeline = (pipe: FaePipeline) => pipe.preprocessing.imageSize === 28 && !pipe.classes;

/** Image files -> the pipeline's images [B, S, S, 3] in [0, 1], warning about squashed or large inputs. */
async function readPipelineImages(env: Env, pipe: FaePipeline, paths: string[]): Promise<tf.Tensor4D> {
  for (const path of paths) {
    if (!existsSync(path)) throw new InputFileError(path, 'no such file');
    if (!statSync(path).isFile()) throw new InputFileError(path, 'not a file');
  }
  const { images, warnings } = await readImages(paths, pipe.preprocessing);
  for (const w of warnings) env.io.stderr(`fae: warning: ${w} (crop it to keep its proportions)\n`);
  return images;
}

function bar(env: Env, label: string, total: number): ProgressBar {
  return new ProgressBar(label, total, { silent: env.p.global.quiet });
}

async function writePng(path: string, images: tf.Tensor, opts: { cols: number; labels?: string[]; range?: [number, number] }): Promise<void> {
  const grid = await imageGrid(images, { cols: opts.cols, labels: opts.labels, range: opts.range ?? [0, 1], padding: 2 });
  await writeFile(path, encodePng(grid));
}

/** PNG files -> MNIST-like digits: grey, 28x28, white digit on black (inverted when the background is light). */
async function readDigitImages(paths: string[], io?: MainIO): Promise<DigitSet> {
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
    if (img.width !== img.height) io?.stderr(`fae: warning: ${path} is ${img.width}x${img.height}, not square: squashed to 28x28 (crop it square to keep the digit's proportions)\n`);
    else if (img.width > 4 * 28) io?.stderr(`fae: warning: ${path} is ${img.width}x${img.height}: shrunk to 28x28\n`);
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
  if (env.p.positionals.length) return { set: await readDigitImages(env.p.positionals, env.io), from: `${env.p.positionals.length} image file(s)` };
  const n = env.p.options.mnist ?? 16;
  return { set: sliceDigits((await splitMnist()).heldOut, 0, n), from: `the first ${n} held-out MNIST digits` };
}

function labelsFor(p: ParsedCommand, perClassDefault: number): number[] {
  const classes = p.options.labels ?? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const per = p.options.perClass ?? perClassDefault;
  const out: number[] = [];
  for (const c of classes) for (let i = 0; i < per; i++) out.push(c);
  return out;
}

/** Samples a grid (one row per label value), writes PNG (+ latents for `sample`); returns the images [B, S, S, 3] in [0, 1]. */
async function sampleGrid(env: Env, pipe: FaePipeline, generator: string, labels: number[], perRow: number, file: string): Promise<{ seconds: number; png: string; images: tf.Tensor4D }> {
  const b = bar(env, `sample ${generator} (${labels.length} images)`, 100);
  const t0 = Date.now();
  const latents = await pipe.generateLatents({
    generator, labels, seed: env.p.global.seed, steps: env.p.options.steps, guidance: env.p.options.cfg,
    onProgress: (e) => b.update(Math.round((100 * e.step) / e.steps)),
  });
  const images = pipe.decode(latents);
  b.done();
  const seconds = (Date.now() - t0) / 1000;
  const png = join(env.out, `${file}.png`);
  await writePng(png, images, { cols: perRow, labels: labels.map((l) => pipe.classes?.[l] ?? String(l)) });
  if (env.p.command === 'sample') {
    const lat = { shape: latents.shape, data: (await latents.data()) as Float32Array };
    await writeFile(join(env.out, `${file}.safetensors`), encodeSafetensors({ latents: lat, labels: { shape: [labels.length], data: Int32Array.from(labels) } }, { layout: 'NHWC', generator }));
  }
  latents.dispose();
  return { seconds, png, images };
}

/**
 * Inputs [B, S, S, 3] in [0, 1] -> reconstructions; writes a grid with the inputs in the top row
 * (labelled IN) and their reconstructions below (OUT); PSNR against the inputs (grey for digits).
 */
async function reconstructGrid(env: Env, pipe: FaePipeline, input: tf.Tensor4D, file: string) {
  const n = input.shape[0];
  const r = pipe.reconstructAll(input);
  const both = tf.tidy(() => tf.concat([input, r.images], 0)); // originals, then reconstructions
  const png = join(env.out, `${file}.png`);
  await writePng(png, both, { cols: n, labels: [...Array(n).fill('IN'), ...Array(n).fill('OUT')] });
  const cos = featureCosine(r.features, r.reconFeatures);
  const cosines = Array.from(await cos.data());
  const digits = isDigitPipeline(pipe);
  const [a, b] = tf.tidy(() => (digits ? [tf.mean(r.images, 3, true), tf.slice(input, [0, 0, 0, 0], [-1, -1, -1, 1])] : [tf.clone(r.images), tf.clone(input)]));
  const { psnrSsimBatch } = await import('@fae/eval');
  const q = await psnrSsimBatch(a, b, { dataRange: 1, ssim: false });
  tf.dispose([r.features, r.latents, r.reconFeatures, r.images, both, cos, a, b]);
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  return { png, n, featureCosine: mean(cosines), psnr: mean(q.psnr) };
}

async function trainContext(env: Env, modelsDir: string): Promise<TrainContext> {
  const stepScale = Number(process.env.FAE_STEP_SCALE ?? 1);
  const split = await splitMnist();
  const classifierTrain = split.train;
  // The FAE and the generators train on the first TRAIN_DIGITS training digits (a 2-core CPU budget);
  // smoke runs (tests, CI) on 300.
  split.train = sliceDigits(split.train, 0, stepScale < 1 ? 300 : TRAIN_DIGITS);
  return {
    modelsDir, workDir: join(env.out, 'work'), split, classifierTrain, seed: env.p.global.seed, backend: env.backend,
    stepScale, steps: env.p.options.steps, batch: env.p.options.batch, lr: env.p.options.lr, continueTraining: env.p.options.continueTraining, resume: env.p.options.resume, curvePerClass: env.p.options.curvePerClass,
    quiet: env.p.global.quiet, log: env.log,
  };
}

const FULL_EVAL = { perClass: 50, reconstructionDigits: 300, linearProbe: { trainDigits: 600, testDigits: 300, epochs: 30 } };
/** A quick evaluation for smoke runs (FAE_STEP_SCALE < 1: tests, CI). */
const QUICK_EVAL = { perClass: 2, reconstructionDigits: 100, linearProbe: { trainDigits: 300, testDigits: 100, epochs: 3 } };
const fullEval = () => (Number(process.env.FAE_STEP_SCALE ?? 1) < 1 ? QUICK_EVAL : FULL_EVAL);

async function evaluate(env: Env, m: DigitModels, o: { perClass: number; reconstructionDigits: number; linearProbe: false | { trainDigits: number; testDigits: number; epochs: number }; generators?: Generator[] }): Promise<DigitMetrics> {
  let current: ProgressBar | null = null;
  let what = '';
  const metrics = await evaluateDigits(m, await splitMnist(), {
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
  try {
    await mkdir(out, { recursive: true });
  } catch (e) {
    throw new InputFileError(out, `cannot create the output folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): give --out a folder you can write to`, e);
  }
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
      if (p.options.recipe) {
        print(await trainOnData(env, resolve(p.global.models!)));
        return;
      }
      const modelsDir = resolve(p.global.models ?? join(out, 'checkpoints'));
      const ctx = await trainContext(env, modelsDir);
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
        const ctx = await trainContext(env, models);
        await runTrainStage(ctx, 'all', 'fae demo --train');
      }
      const e2: Env = { ...env, p: { ...p, global: { ...p.global, models } } };
      const m = await loadModels(e2, ['encoder', 'fae', 'pixelDecoder', 'dit', 'tarflow', 'classifier']);
      try {
        const per = p.options.perClass ?? 8;
        const labels = labelsFor({ ...p, options: { ...p.options, perClass: per } }, per);
        const byRow = Array.from({ length: 10 }, (_, c) => labels.filter((l) => l === c)).flat();
        const pipe = digitPipeline(m);
        const dit = await sampleGrid(e2, pipe, 'dit', byRow, per, 'demo-dit');
        const flow = await sampleGrid(e2, pipe, 'tarflow', byRow, per, 'demo-tarflow');
        const heldInput = digitsToUnitImages(sliceDigits((await splitMnist()).heldOut, 0, 16));
        const rec = await reconstructGrid(e2, pipe, heldInput, 'demo-reconstructions');
        heldInput.dispose();
        // Quick metrics of the demo's own samples (the full evaluation is `fae eval`; the shipped
        // checkpoints' numbers are printed below as shippedFullEvaluation).
        const held = (await splitMnist()).heldOut;
        const real = await classifyReal(m, held);
        const judge = async (g: typeof dit, generator: Generator) => {
          const j = await judgeSamples(m.classifier!, g.images, byRow, real.features);
          g.images.dispose();
          return { ...j, seconds: Number(g.seconds.toFixed(1)), steps: generator === 'dit' ? p.options.steps ?? m.sampling.ditSteps : undefined, guidance: generator === 'dit' ? p.options.cfg ?? m.sampling.ditCfg : p.options.cfg ?? m.sampling.flowGuidance };
        };
        let correct = 0;
        for (let i = 0; i < real.predictions.length; i++) if (real.predictions[i] === held.labels[i]) correct++;
        const recMetrics = await evaluateDigits(m, await splitMnist(), { perClass: 0, generators: [], reconstructionDigits: 100, linearProbe: false, seed: p.global.seed });
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
      const pipe = await loadPipeline(env, { parts: ['adapter', 'featureDecoder', 'pixelDecoder', 'generators'], generators: p.options.generator ? [p.options.generator] : undefined });
      try {
        const gen = p.options.generator ?? pipe.generatorNames[0];
        const classes = pipe.classes?.length ?? Math.max(1, pipe.generator(gen).numClasses);
        const per = p.options.perClass ?? 8;
        const labels = labelsFor({ ...p, options: { ...p.options, labels: p.options.labels ?? Array.from({ length: classes }, (_, i) => i) } }, per);
        const r = await sampleGrid(env, pipe, gen, labels, per, `samples-${gen}`);
        r.images.dispose();
        print({ generator: gen, labels: labels.length, png: r.png, latents: join(out, `samples-${gen}.safetensors`), seconds: r.seconds });
      } finally {
        pipe.dispose();
      }
      return;
    }
    case 'reconstruct':
    case 'encode': {
      const pipe = await loadPipeline(env, { parts: p.command === 'encode' ? ['encoder', 'adapter'] : ['encoder', 'adapter', 'featureDecoder', 'pixelDecoder'] });
      try {
        let input: tf.Tensor4D;
        let from: string;
        let labels: Int32Array;
        if (isDigitPipeline(pipe)) {
          const d = await inputDigits(env);
          input = digitsToUnitImages(d.set);
          from = d.from;
          labels = Int32Array.from(d.set.labels);
        } else {
          if (!p.positionals.length) throw new UsageError(`give image files to ${p.command} (the MNIST default applies to the digits models only)`, p.command);
          input = await readPipelineImages(env, pipe, p.positionals);
          from = `${p.positionals.length} image file(s)`;
          labels = new Int32Array(p.positionals.length).fill(-1);
        }
        try {
          if (p.command === 'reconstruct') {
            print({ input: from, ...(await reconstructGrid(env, pipe, input, 'reconstructions')) });
            return;
          }
          const r = pipe.encode(input);
          const data = (await r.data()) as Float32Array;
          const path = join(out, 'latents.safetensors');
          await writeFile(path, encodeSafetensors({ latents: { shape: r.shape, data }, labels: { shape: [labels.length], data: labels } }, { layout: 'NHWC', normalised: 'true' }));
          let mean = 0;
          let sq = 0;
          for (const v of data) {
            mean += v / data.length;
            sq += (v * v) / data.length;
          }
          r.dispose();
          print({ input: from, latents: path, shape: r.shape, mean, std: Math.sqrt(Math.max(0, sq - mean * mean)) });
        } finally {
          input.dispose();
        }
      } finally {
        pipe.dispose();
      }
      return;
    }
    case 'eval': {
      if (p.options.data) {
        const result = await evaluateOnData(env, modelsSource(p));
        await saveJson(join(out, 'metrics.json'), result);
        print(result);
        return;
      }
      const m = await loadModels(env, ['encoder', 'fae', 'pixelDecoder', 'dit', 'tarflow', 'classifier']);
      try {
        const metrics = await evaluate(env, m, { ...fullEval(), perClass: p.options.perClass ?? fullEval().perClass, generators: p.options.generator ? [p.options.generator] : undefined });
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
