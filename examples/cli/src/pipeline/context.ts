// What every training stage gets: the data split, the models folder, the seed, step overrides and
// a progress-bar factory; and what it records (a JSON log of curves and timings).
import type { MnistSplit } from '../data/mnist.js';
import { STAGE_DEFAULTS, type StageHyperparameters, type TrainedStage } from '../digits/config.js';
import { ProgressBar } from '../progress.js';

export interface StageLog {
  stage: string;
  steps: number;
  seconds: number;
  /** [step, loss] pairs (subsampled). */
  losses: Array<[number, number]>;
  [key: string]: unknown;
}

export interface TrainContext {
  /** Local folder the components are read from and written to. */
  modelsDir: string;
  /** Scratch folder (feature cache). */
  workDir: string;
  /** The digits the FAE and the generators train on (the shipped run: the first 2,000 of the training split). */
  split: MnistSplit;
  /** The digits the classifier trains on (the whole training split). */
  classifierTrain?: MnistSplit['train'];
  seed: number;
  backend: string;
  /** Multiplies every stage's default step count (1 = the shipped run; tests use small values). */
  stepScale: number;
  /** Explicit steps / batch / lr for a single-stage run (`fae train <stage> --steps ...`). */
  steps?: number;
  batch?: number;
  lr?: number;
  /** Generators: start from the weights already in the models folder (a longer run in parts). */
  continueTraining?: boolean;
  /** Generators: go on from the stage's last checkpoint in <models>/resume/<stage> (same run). */
  resume?: boolean;
  /** DiTs: samples per class at each point of the sample-quality curve (default 3; 2 below stepScale 1). */
  curvePerClass?: number;
  quiet: boolean;
  log: (line: string) => void;
}

/**
 * A stage's steps, batch and learning rate: its defaults (steps times FAE_STEP_SCALE), unless the
 * command line says otherwise. `--batch n` alone keeps the samples seen: steps x (default batch / n),
 * at least 1, and the learning rate x sqrt(n / default batch) (the square-root rule for Adam), so that
 * `fae train all --batch 256` is the same recipe in fewer, larger steps (a GPU's shape of work).
 * `--steps` and `--lr` are taken as given.
 */
export function stageHyperparameters(ctx: TrainContext, stage: TrainedStage): StageHyperparameters {
  const d = STAGE_DEFAULTS[stage];
  const batch = ctx.batch ?? d.batch;
  const ratio = batch / d.batch;
  const steps = ctx.steps ?? Math.max(1, Math.round((d.steps * ctx.stepScale) / ratio));
  const lr = ctx.lr ?? d.lr * Math.sqrt(ratio);
  return { steps, batch, lr };
}

export function progress(ctx: TrainContext, label: string, total: number): ProgressBar {
  return new ProgressBar(label, total, { silent: ctx.quiet });
}

/** Keeps every `every`-th loss (and the last) as [step, loss]. */
export function subsample(losses: number[], every = 10, offset = 0): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < losses.length; i++) if ((i + 1) % every === 0 || i === losses.length - 1) out.push([offset + i + 1, Number(losses[i].toPrecision(5))]);
  return out;
}
