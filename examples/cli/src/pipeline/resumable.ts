// The generators train in chunks. After each chunk the trainer's whole state (weights, AdamW moments,
// EMA, RNG, data position: one safetensors checkpoint) and the stage's progress (losses, curve
// points, seconds) go to <models>/resume/<stage>/, so `fae train <stage> --resume` after an
// interruption goes on exactly as the uninterrupted run would have. The folder is removed when the
// stage finishes; a run without --resume starts afresh and replaces it.
import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '@fae/core';
import type { TrainContext } from './context.js';

/** What must match for a run to be resumed: the stage and its recipe. */
export interface RunKey {
  stage: string;
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  stepScale: number;
}

interface Progress<P> {
  run: RunKey;
  step: number;
  /** The checkpoint written at `step` (the only one kept once this file names it). */
  checkpoint: string;
  losses: number[];
  points: P[];
  seconds: number;
  evalSeconds: number;
}

/** The part of a core Trainer (or DiffusionTrainer) this loop drives. */
export interface ChunkedTrainer {
  run(opts: { until: number }): Promise<{ losses: number[] }>;
  saveCheckpoint(): Promise<string>;
  resume(name?: string): Promise<number>;
}

export interface ChunkedRun<P> {
  losses: number[];
  points: P[];
  /** Training time of the whole run (earlier parts included), without the curve's evaluations. */
  seconds: number;
  evalSeconds: number;
  /** The step this invocation started at (0, or where --resume picked up). */
  resumedAt: number;
}

/** Steps between checkpoints: ~20 per run, at least 100 steps apart. */
export function chunkSteps(steps: number): number {
  return Math.max(100, Math.ceil(steps / 20));
}

export function resumeDir(ctx: TrainContext, stage: string): string {
  return join(ctx.modelsDir, 'resume', stage);
}

/** The trainer's checkpoint options for a resumable stage: no schedule of its own, runInChunks writes them. */
export function resumeCheckpointOptions(ctx: TrainContext, stage: string): { dir: string; keep: number } {
  return { dir: resumeDir(ctx, stage), keep: 2 };
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/**
 * Trains to `steps` in chunks (checkpoint + progress after each), evaluating `curve` every
 * `curveEvery` steps and at the end (curveEvery 0: never). With ctx.resume, first restores the
 * stage's saved state, refusing one made with another recipe.
 */
export async function runInChunks<P>(o: {
  ctx: TrainContext;
  key: RunKey;
  trainer: ChunkedTrainer;
  curveEvery: number;
  curve?: (step: number) => Promise<P>;
}): Promise<ChunkedRun<P>> {
  const { ctx, key, trainer } = o;
  const dir = resumeDir(ctx, key.stage);
  const file = join(dir, 'progress.json');
  let progress: Progress<P> = { run: key, step: 0, checkpoint: '', losses: [], points: [], seconds: 0, evalSeconds: 0 };
  if (ctx.resume) {
    let saved: Progress<P>;
    try {
      saved = JSON.parse(await readFile(file, 'utf8')) as Progress<P>;
    } catch {
      throw new ConfigError(file, `no saved progress of '${key.stage}' to resume (train without --resume to start the stage)`);
    }
    if (JSON.stringify(saved.run) !== JSON.stringify(key)) {
      throw new ConfigError(file, `the saved run is ${JSON.stringify(saved.run)}, this one ${JSON.stringify(key)}: resume with the same --steps/--batch/--lr/--seed, or train without --resume`);
    }
    const at = await trainer.resume(saved.checkpoint);
    if (at !== saved.step) throw new ConfigError(join(dir, saved.checkpoint), `checkpoint is at step ${at}, the progress file at ${saved.step}`);
    progress = saved;
    ctx.log(`  resuming ${key.stage} at step ${at} of ${key.steps}`);
  } else {
    await rm(dir, { recursive: true, force: true });
  }
  const resumedAt = progress.step;
  const chunk = chunkSteps(key.steps);
  const next = (step: number, every: number) => (every > 0 ? (Math.floor(step / every) + 1) * every : Infinity);
  while (progress.step < key.steps) {
    const until = Math.min(next(progress.step, chunk), next(progress.step, o.curveEvery), key.steps);
    const t0 = Date.now();
    progress.losses.push(...(await trainer.run({ until })).losses);
    progress.seconds += (Date.now() - t0) / 1000;
    progress.step = until;
    if (o.curve && (until === key.steps || until % o.curveEvery === 0)) {
      const te = Date.now();
      progress.points.push(await o.curve(until));
      progress.evalSeconds += (Date.now() - te) / 1000;
    }
    if (until < key.steps) {
      progress.checkpoint = await trainer.saveCheckpoint();
      await mkdir(dir, { recursive: true });
      await writeAtomically(file, JSON.stringify(progress));
      // Only the checkpoint progress.json names is needed now (the trainer keeps two for the moment in between).
      for (const f of await readdir(dir)) if (f.endsWith('.safetensors') && f !== progress.checkpoint) await rm(join(dir, f), { force: true });
    }
  }
  await rm(dir, { recursive: true, force: true });
  await rmdir(join(ctx.modelsDir, 'resume')).catch(() => {}); // only when no other stage left state there
  return { losses: progress.losses, points: progress.points, seconds: progress.seconds, evalSeconds: progress.evalSeconds, resumedAt };
}
