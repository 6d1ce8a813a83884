// Learning-rate schedules as pure functions of the optimizer step (0-based: the step about to be
// taken). Warm-up is linear and reaches the peak at step warmupSteps - 1, so no step has lr 0.
import { ConfigError } from '../errors.js';

export type LrSchedule = (step: number) => number;

export interface WarmupOptions {
  /** Peak (base) learning rate. */
  lr: number;
  /** Linear warm-up steps from lr/warmupSteps up to lr (0 = none). */
  warmupSteps?: number;
}

export interface DecayOptions extends WarmupOptions {
  /** Step at which the decay reaches `minLr` (the run's total steps). */
  totalSteps: number;
  /** Floor the decay ends at (default 0). */
  minLr?: number;
}

function checkStep(step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new ConfigError('LrSchedule', `step must be a non-negative integer, got ${step}`);
}

function warmupFactor(step: number, warmupSteps: number): number {
  return warmupSteps > 0 && step < warmupSteps ? (step + 1) / warmupSteps : 1;
}

function validate(o: WarmupOptions & { totalSteps?: number; minLr?: number }, name: string): void {
  const w = o.warmupSteps ?? 0;
  if (!(o.lr >= 0) || !Number.isInteger(w) || w < 0) throw new ConfigError(name, `need lr >= 0 and an integer warmupSteps >= 0, got lr=${o.lr} warmupSteps=${w}`);
  if (o.totalSteps !== undefined && (!Number.isInteger(o.totalSteps) || o.totalSteps < w)) {
    throw new ConfigError(name, `totalSteps (${o.totalSteps}) must be an integer >= warmupSteps (${w})`);
  }
  if (o.minLr !== undefined && !(o.minLr >= 0 && o.minLr <= o.lr)) throw new ConfigError(name, `minLr (${o.minLr}) must be in [0, lr=${o.lr}]`);
}

/** Constant lr, after an optional linear warm-up. */
export function constantSchedule(opts: WarmupOptions | number): LrSchedule {
  const o = typeof opts === 'number' ? { lr: opts } : opts;
  validate(o, 'constantSchedule');
  const w = o.warmupSteps ?? 0;
  return (step) => {
    checkStep(step);
    return o.lr * warmupFactor(step, w);
  };
}

/**
 * Linear warm-up to lr, then `decay(lr, minLr, progress)` with progress going 0 -> 1 from step
 * warmupSteps to totalSteps (and staying 1 after).
 */
function warmupThenDecay(opts: DecayOptions, name: string, decay: (lr: number, floor: number, progress: number) => number): LrSchedule {
  validate(opts, name);
  const w = opts.warmupSteps ?? 0;
  const floor = opts.minLr ?? 0;
  const span = Math.max(1, opts.totalSteps - w);
  return (step) => {
    checkStep(step);
    if (step < w) return opts.lr * warmupFactor(step, w);
    return decay(opts.lr, floor, Math.min(1, (step - w) / span));
  };
}

/**
 * Linear warm-up, then half-cosine from lr (at step warmupSteps) to minLr (at step totalSteps),
 * then minLr: lr(s) = minLr + (lr - minLr) (1 + cos(pi (s - W) / (T - W))) / 2.
 */
export function cosineSchedule(opts: DecayOptions): LrSchedule {
  return warmupThenDecay(opts, 'cosineSchedule', (lr, floor, progress) => floor + (lr - floor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Linear warm-up, then linear decay from lr (at warmupSteps) to minLr (at totalSteps), then minLr. */
export function linearSchedule(opts: DecayOptions): LrSchedule {
  return warmupThenDecay(opts, 'linearSchedule', (lr, floor, progress) => lr + (floor - lr) * progress);
}
