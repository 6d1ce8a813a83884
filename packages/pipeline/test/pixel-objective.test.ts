// The recipes' pixel objectives as data (paper: 'fae-paper' needing LPIPS; digits: 'mnist', the same
// L2 loss the shipped decoder was trained with; smoke: L1 + adaptive GAN, LPIPS when given), and
// LPIPS-VGG16 loaded from `lpipsWeights` (a folder, or { backbone, linear } files) or refused with
// MissingPerceptualLossError.
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '@fae/testing';
import { encodeSafetensors, withSeededRandom } from '@fae/core';
import { PixelDecoder, PixelDecoderObjective } from '@fae/decoders';
import { Lpips, proceduralSpecFor, proceduralStore, proceduralValues, type ProceduralWeightsSpec } from '@fae/eval';
import { MissingPerceptualLossError, RECIPES, buildPixelObjective, checkRecipe, getRecipe, loadLpips } from '@fae/pipeline';

const tmp = mkdtempSync(join(tmpdir(), 'fae-pipeline-objective-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('recipes: pixel objectives', () => {
  beforeAll(() => tf.setBackend('cpu'));

  it('paper recipes train fae-paper (LPIPS required), digits mnist (L2), smoke fae-paper with LPIPS when given', () => {
    expect(RECIPES['paper-dinov2-g'].pixelObjective).toEqual({ preset: 'fae-paper' });
    expect(RECIPES['paper-siglip2'].pixelObjective).toEqual({ preset: 'fae-paper' });
    expect(RECIPES.digits.pixelObjective).toEqual({ preset: 'mnist' });
    expect(RECIPES.smoke.pixelObjective).toEqual({ preset: 'fae-paper', discriminator: { ndf: 8, nLayers: 2 }, perceptual: 'when-given' });
    const bad = getRecipe('smoke');
    expect(() => checkRecipe({ ...bad, pixelObjective: { preset: 'rae' as 'mnist' } })).toThrow(/recipe smoke\.pixelObjective\.preset: must be one of fae-paper, titok-stage2, mnist, got rae/);
    expect(() => checkRecipe({ ...bad, pixelObjective: { preset: 'fae-paper', perceptual: 'maybe' as 'required' } })).toThrow(/pixelObjective\.perceptual/);
  });

  it('the paper objective: L1 + LPIPS 1.0 + 0.75 x adaptive GAN from 50% of the stage, D from 37.5%; refused without LPIPS', () => {
    const r = getRecipe('paper-dinov2-g');
    const decoder = withSeededRandom(1, () => new PixelDecoder({ inputDim: 8, gridSize: 2, imageSize: 8, width: 16, depth: 1, heads: 2, mlpDim: 32 }));
    const perceptual = (a: tf.Tensor, b: tf.Tensor) => tf.mean(tf.abs(tf.sub(a, b))) as tf.Scalar;
    const o = buildPixelObjective(decoder, r, r.stages.ia.steps, 7, perceptual);
    expect(o.options).toMatchObject({ reconstruction: 'l1', reconstructionWeight: 1, perceptualWeight: 1, perceptual, gan: { weight: 0.75, adaptive: true, start: 450_000, discStart: 337_500 } });
    expect(o.discriminator!.config).toMatchObject({ ndf: 64, nLayers: 3 });
    o.dispose();
    expect(() => buildPixelObjective(decoder, r, 10, 7, null)).toThrow(MissingPerceptualLossError);
    decoder.dispose();
  });

  it("digits: the 'mnist' objective is the CLI's L2 loss, number for number", async () => {
    const decoder = withSeededRandom(1, () => new PixelDecoder({ inputDim: 8, gridSize: 2, imageSize: 8, width: 16, depth: 1, heads: 2, mlpDim: 32 }));
    const ours = buildPixelObjective(decoder, getRecipe('digits'), 1500, 7, null);
    const cli = new PixelDecoderObjective(decoder, { reconstruction: 'l2' });
    expect(ours.discriminator).toBeNull();
    const f = tf.randomNormal([2, 2, 2, 8], 0, 1, 'float32', 3);
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 4);
    const before = tf.memory().numTensors;
    const [a, b] = [ours.loss(f, x, { noise: false }), cli.loss(f, x, { noise: false })];
    expect(await a.loss.data()).toEqual(await b.loss.data());
    expect(a.perceptual).toBeNull();
    expect(a.gan).toBeNull();
    tf.dispose([a.loss, a.rec, b.loss, b.rec]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([f, x]);
    ours.dispose();
    cli.dispose();
    decoder.dispose();
  });
});

describe('lpipsWeights', () => {
  beforeAll(() => tf.setBackend('cpu'));
  const paper = getRecipe('paper-siglip2');
  const shapes = (m: { namedParameters(): Array<[string, { torchShape: number[] }]> }, prefix: string) => m.namedParameters().map(([k, p]) => [`${prefix}${k}`, p.torchShape] as [string, number[]]);
  const write = (file: string, spec: ProceduralWeightsSpec) => writeFileSync(file, encodeSafetensors(Object.fromEntries(Object.entries(spec).map(([k, s]) => [k, { shape: s.shape, data: proceduralValues(s) }]))));

  it('loads torchvision VGG16 + lpips v0.1 linear layers from a folder or from two files, as the same network', async () => {
    const direct = new Lpips();
    const vgg = proceduralSpecFor(shapes(direct.features, 'features.'), 500);
    const lin: ProceduralWeightsSpec = Object.fromEntries(direct.lins.flatMap((l, i) => shapes(l, `lin${i}.`)).map(([k, shape], i) => [k, { shape, seed: 900 + i, offset: 0.05, scale: 0.04 }]));
    await direct.loadBackbone(proceduralStore(vgg));
    await direct.loadLinearLayers(proceduralStore(lin));
    const folder = join(tmp, 'lpips');
    mkdirSync(folder, { recursive: true });
    write(join(folder, 'vgg16.safetensors'), vgg);
    write(join(folder, 'lpips_vgg_v0.1.safetensors'), lin);
    const a = tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', 5);
    const b = tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', 6);
    const want = direct.forward(a, b);
    for (const source of [folder, { backbone: join(folder, 'vgg16.safetensors'), linear: join(folder, 'lpips_vgg_v0.1.safetensors') }]) {
      const loaded = await loadLpips(source, paper);
      const got = loaded.forward(a, b);
      expect(Array.from(await got.data())).toEqual(Array.from(await want.data()));
      expect((await want.data())[0]).toBeGreaterThan(0);
      tf.dispose(got);
      loaded.dispose();
    }
    tf.dispose([a, b, want]);
    direct.dispose();
    // one file short, or a file that is not there: the typed error, naming it
    const half = join(tmp, 'lpips-half');
    mkdirSync(half, { recursive: true });
    write(join(half, 'lpips_vgg_v0.1.safetensors'), lin);
    await expect(loadLpips(half, paper)).rejects.toThrow(/lacks the VGG16 backbone \(vgg16\.safetensors \| vgg16-397923af\.pth \| vgg16\.pth\): pass trainPipeline's lpipsWeights/);
    await expect(loadLpips({ backbone: join(tmp, 'nope.pth'), linear: join(half, 'lpips_vgg_v0.1.safetensors') }, paper)).rejects.toBeInstanceOf(MissingPerceptualLossError);
  });
});
