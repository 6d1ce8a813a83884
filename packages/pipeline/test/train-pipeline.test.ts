// trainPipeline with the smoke recipe on a generated folder of class sub-folders (mixed PNG / JPEG,
// grey / RGB / RGBA, several sizes): every stage runs, the result loads as a FaePipeline that
// generates and reconstructs; the pixel stages train with the recipe's objective (L1 + adaptive GAN,
// LPIPS when given: here a procedural one); an interrupted run resumes from where it stopped, its
// discriminator with it; a paper recipe without LPIPS weights is refused before anything trains.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBackends } from '@fae/testing';
import { Lpips, proceduralSpecFor, proceduralStore } from '@fae/eval';
import {
  FaePipeline, ImageFolderDataset, MissingPerceptualLossError, SMOKE_RECIPE, TRAIN_STAGES, getRecipe, imageBatches, trainPipeline,
  type StageLog, type TrainStageName,
} from '@fae/pipeline';
import { writeClassFolder } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'fae-pipeline-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The pixel stages' logs: the objective ran as the recipe says, its GAN term active after its start. */
function expectGanObjective(logs: StageLog[], perceptual: boolean) {
  for (const [stage, start] of [['stage-ia', 2], ['stage-ii', 1]] as const) {
    const l = logs.find((x) => x.stage === stage)!;
    expect(l.objective).toBe(`fae-paper: 1 x l1 + ${perceptual ? '1 x perceptual' : 'no perceptual (none given)'} + 0.75 x adaptive GAN from step ${start} (D from ${start})`);
    // the last step is past the start: every term is there and finite
    const keys = ['disc', 'gan', 'ganWeight', 'rec', ...(perceptual ? ['perceptual'] : [])].sort();
    expect(Object.keys(l.parts!).sort(), stage).toEqual(keys);
    for (const k of keys) expect(Number.isFinite(l.parts![k]), `${stage} ${k}`).toBe(true);
    expect(l.parts!.ganWeight, `${stage} adaptive weight`).toBeGreaterThan(0);
    if (perceptual) expect(l.parts!.perceptual).toBeGreaterThan(0);
  }
}

describeBackends('trainPipeline (smoke recipe)', ({ backend }) => {
  let data: ImageFolderDataset;
  let uninterrupted: StageLog[] = [];
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
    expectGanObjective(r.state.logs, false);
    uninterrupted = r.state.logs;
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

  it.skipIf(backend !== 'cpu')('an interrupted run resumes: finished stages are skipped, the rest continue (cpu only: resume bookkeeping does not depend on the backend; every stage runs on each backend above)', async () => {
    const dir = join(tmp, `resume-${backend}`);
    let stop = true;
    await expect(trainPipeline(SMOKE_RECIPE, data, dir, {
      keepWork: true,
      onProgress: (e) => {
        if (stop && e.stage === 'stage-ia' && e.done === 3) throw new Error('interrupted');
      },
    })).rejects.toThrow('interrupted');
    const state = JSON.parse(readFileSync(join(dir, 'train-state.json'), 'utf8'));
    expect(state.done).toEqual(['encoder', 'features', 'stage-ib']);
    // the checkpoint after step 3 (the discriminator has trained one step) holds the discriminator
    const ckptDir = join(dir, 'work', 'checkpoints', 'stage-ia');
    const newest = readdirSync(ckptDir).sort().at(-1)!;
    expect(readFileSync(join(ckptDir, newest)).toString('latin1')).toContain('discriminator.main.0.weight');
    stop = false;
    const started: string[] = [];
    const r = await trainPipeline(SMOKE_RECIPE, data, dir, { log: (l) => started.push(l) });
    expect(started.filter((l) => !l.includes('done'))).toEqual(['[train] stage-ia', '[train] stage-ii', '[train] latents', '[train] dit', '[train] tarflow']);
    expect(r.state.done).toEqual([...TRAIN_STAGES]);
    // the resumed stage Ia ran only the steps after its last checkpoint
    const ia = r.state.logs.find((l) => l.stage === 'stage-ia')!;
    expect(ia.losses!.at(-1)![0]).toBe(SMOKE_RECIPE.stages.ia.steps);
    expectGanObjective(r.state.logs, false);
    // ... with the decoder AND the discriminator of step 3: its last step's terms equal the uninterrupted run's
    const before = uninterrupted.find((l) => l.stage === 'stage-ia')!;
    expect(before, 'the uninterrupted run ran first').toBeDefined();
    for (const k of ['rec', 'gan', 'ganWeight', 'disc']) expect(ia.parts![k], k).toBeCloseTo(before.parts![k], 5);
    await expect(trainPipeline({ ...SMOKE_RECIPE, seed: 9 }, data, dir)).rejects.toThrow(/holds a run of recipe/);
  });

  it.skipIf(backend !== 'cpu')('trains the pixel stages with a perceptual loss too: a small procedural LPIPS-VGG16 (tf.memory clean; cpu only: the objective code is backend-independent, and a VGG16 gradient costs seconds a step)', async () => {
    // eval's Lpips with procedural VGG16 + linear weights, on 2x average-pooled images (16x16: VGG16's
    // relu5_3 is 1x1 there) so that its gradients cost seconds on this CPU
    const lpips = new Lpips();
    const shapes = (m: { namedParameters(): Array<[string, { torchShape: number[] }]> }, prefix: string) => m.namedParameters().map(([k, p]) => [`${prefix}${k}`, p.torchShape] as [string, number[]]);
    await lpips.loadBackbone(proceduralStore(proceduralSpecFor(shapes(lpips.features, 'features.'), 500)));
    // non-negative linear layers, as the published ones (an LPIPS distance is >= 0)
    await lpips.loadLinearLayers(proceduralStore(Object.fromEntries(lpips.lins.flatMap((l, i) => shapes(l, `lin${i}.`)).map(([k, shape], i) => [k, { shape, seed: 900 + i, offset: 0.05, scale: 0.04 }]))));
    const pool = (x: tf.Tensor) => tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid');
    let calls = 0;
    const perceptual = (a: tf.Tensor, b: tf.Tensor) => {
      calls += 1;
      return lpips.loss(pool(a), pool(b));
    };
    const recipe = { ...structuredClone(SMOKE_RECIPE), generators: {} };
    recipe.stages.ia.batch = 2;
    recipe.stages.ii.batch = 2;
    const before = tf.memory().numTensors;
    try {
      const r = await trainPipeline(recipe, data, join(tmp, `lpips-${backend}`), { perceptual });
      expect(tf.memory().numTensors).toBe(before);
      expect(r.state.done).toEqual(TRAIN_STAGES.filter((s) => s !== 'dit' && s !== 'tarflow'));
      expectGanObjective(r.state.logs, true);
      for (const l of r.state.logs.filter((x) => x.losses)) for (const [, loss] of l.losses!) expect(Number.isFinite(loss)).toBe(true);
      // every step's loss, plus the adaptive weight's gradient of the nll on the GAN steps (2 in Ia, 1 in II)
      expect(calls).toBe(4 + 2 + 2 + 1);
    } finally {
      lpips.dispose();
    }
  });

  it('a paper recipe without LPIPS weights fails with MissingPerceptualLossError before training starts', async () => {
    const dir = join(tmp, `paper-${backend}`);
    const seen: string[] = [];
    const err = await trainPipeline(getRecipe('paper-dinov2-g'), data, dir, { onProgress: (e) => seen.push(e.stage), log: (l) => seen.push(l) }).catch((e) => e);
    expect(err).toBeInstanceOf(MissingPerceptualLossError);
    expect(err.message).toMatch(/recipe paper-dinov2-g\.pixelObjective: preset 'fae-paper' weighs LPIPS-VGG16 by 1 and neither lpipsWeights nor perceptual was given/);
    expect(seen).toEqual([]);
    expect(existsSync(join(dir, 'train-state.json'))).toBe(false);
    // a folder without the files: the same error, naming what is missing (nothing is fetched)
    const empty = join(tmp, `no-lpips-${backend}`);
    mkdirSync(empty, { recursive: true });
    const err2 = await trainPipeline(getRecipe('paper-siglip2'), data, dir, { lpipsWeights: empty }).catch((e) => e);
    expect(err2).toBeInstanceOf(MissingPerceptualLossError);
    expect(err2.message).toMatch(/lacks the VGG16 backbone \(vgg16\.safetensors .*\) and the linear layers \(lpips_vgg_v0\.1\.safetensors/);
    expect(existsSync(join(dir, 'train-state.json'))).toBe(false);
  });
});
