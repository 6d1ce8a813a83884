// `fae train <generator> --resume`: a run interrupted after a checkpoint and resumed ends with the
// same weights, optimizer moments, EMA, losses and curve as the uninterrupted run (bit for bit),
// refuses state made with another recipe, and leaves no resume folder behind.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends } from '@fae/testing';
import { AdamW, ConfigError, EMA, Linear, Rng, Trainer, indexBatches } from '@fae/core';
import type { TrainContext } from '../src/pipeline/context.js';
import { chunkSteps, resumeCheckpointOptions, resumeDir, runInChunks, type RunKey } from '../src/pipeline/resumable.js';

const tmp = mkdtempSync(join(tmpdir(), 'fae-resume-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const STEPS = 250; // chunks of 100: checkpoints at 100 and 200
const KEY: RunKey = { stage: 'toy', steps: STEPS, batch: 8, lr: 0.01, seed: 3, stepScale: 1 };

function ctx(modelsDir: string, resume = false): TrainContext {
  return { modelsDir, workDir: join(modelsDir, 'work'), split: {} as TrainContext['split'], seed: 3, backend: 'cpu', stepScale: 1, resume, quiet: true, log: () => {} };
}

/** A small regression trainer (Linear 6 -> 2, AdamW, EMA, clipping, seeded data and noise); `failAt` throws inside that step. */
function toyRun(c: TrainContext, failAt = 0) {
  const model = new Linear(6, 2, { seed: 11 });
  const x = tf.randomNormal([64, 6], 0, 1, 'float32', 5);
  const y = tf.randomNormal([64, 2], 0, 1, 'float32', 6);
  const optimizer = new AdamW(model.trainableVariables(), { lr: KEY.lr });
  const ema = new EMA(model, { decay: 0.9 });
  const trainer = new Trainer({
    modules: model, optimizer, ema, steps: STEPS, clipNorm: 0.5, rng: new Rng(7),
    data: indexBatches(64, (idx) => tf.tidy(() => ({ x: tf.gather(x, Array.from(idx)), y: tf.gather(y, Array.from(idx)) })), { batchSize: KEY.batch, seed: 9 }),
    checkpoint: resumeCheckpointOptions(c, KEY.stage),
    lossFn: (b: { x: tf.Tensor; y: tf.Tensor }, rng: Rng, sc) => {
      if (failAt && sc.step + 1 === failAt) throw new Error('interrupted');
      return tf.tidy(() => tf.mean(tf.square(tf.sub(tf.add(model.forward(b.x), tf.mul(rng.normal([KEY.batch, 2]), 0.01)), b.y))) as tf.Scalar);
    },
  });
  const curve = async (step: number) => ({ step, w: Array.from(await ema.get('weight')!.data()).slice(0, 3) });
  const dispose = () => (tf.dispose([x, y]), optimizer.dispose(), ema.dispose(), model.dispose());
  return { model, trainer, curve, dispose, optimizer };
}

describeBackends('resumable generator stages', () => {
  it('chunks are ~1/20 of a run and at least 100 steps', () => {
    expect(chunkSteps(7200)).toBe(360);
    expect(chunkSteps(250)).toBe(100);
  });

  it('interrupted after a checkpoint, then --resume: the same bits as one uninterrupted run', async () => {
    const a = toyRun(ctx(join(tmp, 'a')));
    const full = await runInChunks({ ctx: ctx(join(tmp, 'a')), key: KEY, trainer: a.trainer, curveEvery: 125, curve: a.curve });
    expect(full.points.map((p) => p.step)).toEqual([125, 250]);
    expect(full.losses).toHaveLength(STEPS);
    expect(existsSync(resumeDir(ctx(join(tmp, 'a')), KEY.stage))).toBe(false); // cleaned up

    const dir = join(tmp, 'b');
    const b1 = toyRun(ctx(dir), 180); // dies in step 180: checkpoints at 100 and 125 (curve) exist
    await expect(runInChunks({ ctx: ctx(dir), key: KEY, trainer: b1.trainer, curveEvery: 125, curve: b1.curve })).rejects.toThrow('interrupted');
    b1.dispose();
    expect(readdirSync(resumeDir(ctx(dir), KEY.stage)).sort()).toEqual(['progress.json', 'step-00000125.safetensors']); // one checkpoint at rest

    const before = tf.memory().numTensors;
    const b2 = toyRun(ctx(dir, true));
    const resumed = await runInChunks({ ctx: ctx(dir, true), key: KEY, trainer: b2.trainer, curveEvery: 125, curve: b2.curve });
    expect(resumed.resumedAt).toBe(125);
    expect(resumed.losses).toEqual(full.losses);
    expect(resumed.points).toEqual(full.points);
    expect(Array.from(await b2.model.weight.data())).toEqual(Array.from(await a.model.weight.data()));
    const [sa, sb] = [await a.optimizer.exportState(), await b2.optimizer.exportState()];
    for (const [k, t] of sa.tensors) expect(Array.from(sb.tensors.get(k)!.data), k).toEqual(Array.from(t.data));
    expect(existsSync(join(dir, 'resume'))).toBe(false);
    b2.dispose();
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
  });

  it('refuses missing or mismatched state with the file named, and a fresh run replaces stale state', async () => {
    const dir = join(tmp, 'c');
    const r = toyRun(ctx(dir, true));
    await expect(runInChunks({ ctx: ctx(dir, true), key: KEY, trainer: r.trainer, curveEvery: 0 })).rejects.toThrow(/progress\.json.*no saved progress of 'toy'/);
    const stale = resumeDir(ctx(dir), KEY.stage);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(stale, { recursive: true });
    writeFileSync(join(stale, 'progress.json'), JSON.stringify({ run: { ...KEY, lr: 0.02 }, step: 100, checkpoint: 'x', losses: [], points: [], seconds: 0, evalSeconds: 0 }));
    const err = await runInChunks({ ctx: ctx(dir, true), key: KEY, trainer: r.trainer, curveEvery: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String(err.message)).toMatch(/"lr":0\.02.*resume with the same/);
    const done = await runInChunks({ ctx: ctx(dir), key: KEY, trainer: r.trainer, curveEvery: 0 });
    expect(done.resumedAt).toBe(0);
    expect(existsSync(stale)).toBe(false);
    r.dispose();
  });
}, { backends: ['cpu', 'wasm'] });
