// What every training stage gets: the data split, the models folder, the seed, step overrides and
// a progress-bar factory; and what it records (a JSON log of curves and timings).
import type { MnistSplit } from '../data/mnist.js';
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
  quiet: boolean;
  log: (line: string) => void;
}

export function stepsFor(ctx: TrainContext, defaultSteps: number): number {
  return ctx.steps ?? Math.max(1, Math.round(defaultSteps * ctx.stepScale));
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
