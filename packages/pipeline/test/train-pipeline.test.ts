// trainPipeline with the smoke recipe on a generated folder of class sub-folders (mixed PNG / JPEG,
// grey / RGB / RGBA, several sizes): every stage runs, the result loads as a FaePipeline that
// generates and reconstructs; an interrupted run resumes from where it stopped.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBackends } from '@fae/testing';
import { FaePipeline, ImageFolderDataset, SMOKE_RECIPE, TRAIN_STAGES, imageBatches, trainPipeline, type TrainStageName } from '@fae/pipeline';
import { writeClassFolder } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'fae-pipeline-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describeBackends('trainPipeline (smoke recipe)', ({ backend }) => {
  let data: ImageFolderDataset;
  beforeAll(async () => {
    const root = join(tmp, `data-${backend}`);
    writeClassFolder(root);
    data = await ImageFolderDataset.open(root);
  });

  it('trains every stage on an image folder; the result generates and reconstructs', async () => {
    const dir = join(tmp, `models-${backend}`);
    const seen = new Set<TrainStageName>();
    const before = tf.memory().numTensors;
    const r = await trainPipeline(SMOKE_RECIPE, data, dir, { onProgress: (e) => seen.add(e.stage) });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.state.done).toEqual([...TRAIN_STAGES]);
    expect([...seen].sort()).toEqual([...TRAIN_STAGES].sort());
    for (const l of r.state.logs.filter((x) => x.losses)) for (const [, loss] of l.losses!) expect(Number.isFinite(loss)).toBe(true);
    expect(existsSync(join(dir, 'work'))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(dir, 'pipeline.json'), 'utf8'));
    expect(manifest.classes).toEqual(['circle', 'square', 'triangle']);
    expect(manifest.latentStats.std.every((s: number) => s > 0)).toBe(true);

    const pipe = await FaePipeline.load(dir);
    try {
      for (const generator of ['dit', 'tarflow']) {
        const x = await pipe.generate({ labels: [0, 1, 2], generator, seed: 1 });
        expect(x.shape).toEqual([3, 32, 32, 3]);
        const v = await x.data();
        expect(v.every((a) => a >= 0 && a <= 1 && Number.isFinite(a))).toBe(true);
        x.dispose();
      }
      const it0 = imageBatches(data, { batchSize: 4, shuffle: false, transform: { imageSize: 32, crop: 'center' } });
      const b = (await it0.next()).value!;
      const rec = pipe.reconstruct(b.images);
      expect(rec.shape).toEqual([4, 32, 32, 3]);
      tf.dispose([rec, b.images]);
      await it0.return(undefined);
    } finally {
      pipe.dispose();
    }
  });

  it.skipIf(backend !== 'cpu')('an interrupted run resumes: finished stages are skipped, the rest continue', async () => {
    const dir = join(tmp, `resume-${backend}`);
    let stop = true;
    await expect(trainPipeline(SMOKE_RECIPE, data, dir, {
      keepWork: true,
      onProgress: (e) => {
        if (stop && e.stage === 'stage-ia' && e.done === 2) throw new Error('interrupted');
      },
    })).rejects.toThrow('interrupted');
    const state = JSON.parse(readFileSync(join(dir, 'train-state.json'), 'utf8'));
    expect(state.done).toEqual(['encoder', 'features', 'stage-ib']);
    stop = false;
    const started: string[] = [];
    const r = await trainPipeline(SMOKE_RECIPE, data, dir, { log: (l) => started.push(l) });
    expect(started.filter((l) => !l.includes('done'))).toEqual(['[train] stage-ia', '[train] stage-ii', '[train] latents', '[train] dit', '[train] tarflow']);
    expect(r.state.done).toEqual([...TRAIN_STAGES]);
    // the resumed stage Ia ran only the steps after its last checkpoint
    const ia = r.state.logs.find((l) => l.stage === 'stage-ia')!;
    expect(ia.losses!.at(-1)![0]).toBe(SMOKE_RECIPE.stages.ia.steps);
    await expect(trainPipeline({ ...SMOKE_RECIPE, seed: 9 }, data, dir)).rejects.toThrow(/holds a run of recipe/);
  });
});
