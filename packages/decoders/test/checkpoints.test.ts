import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64 } from '@fae/testing';
import { ConfigError, parseSafetensors } from '@fae/core';
import {
  FeatureAutoEncoder, FeatureDecoder, PixelDecoder, loadFeatureAutoEncoder, loadFeatureDecoder, loadPixelDecoder, saveFeatureAutoEncoder,
  saveFeatureDecoder, savePixelDecoder,
} from '@fae/decoders';
import { randomize } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'fae-ckpt-'));
  dirs.push(d);
  return d;
};

describeBackends('decoder checkpoints', () => {
  it('FeatureDecoder and PixelDecoder round-trip through component folders (RAE key names on disk)', async () => {
    const root = await tmp();
    const fd = new FeatureDecoder({ latentChannels: 3, outputDim: 8, depth: 1, heads: 2, gridSize: 2 });
    await randomize(fd, 1);
    await saveFeatureDecoder(fd, join(root, 'fd'));
    const fd2 = await loadFeatureDecoder(join(root, 'fd'));
    expect(fd2.config).toEqual(fd.config);
    const z = ref64.toTensor(ref64.randomNd([1, 2, 2, 3], 2));
    const [a, b] = [fd.forward(z), await expectNoLeaks(() => fd2.forward(z))];
    await expectClose(b, a, 0);

    const pd = new PixelDecoder({ inputDim: 8, width: 8, depth: 1, heads: 2, mlpDim: 8, gridSize: 2, imageSize: 4, noise: { mode: 'uniform', sigma: 0.8 } });
    await randomize(pd, 3);
    await savePixelDecoder(pd, join(root, 'pd'));
    const file = parseSafetensors(new Uint8Array(await readFile(join(root, 'pd', 'model.safetensors'))));
    expect(file.keys()).toContain('decoder_layers.0.attention.attention.query.weight');
    expect(file.keys()).toContain('decoder_layers.0.intermediate.dense.weight');
    const pd2 = await loadPixelDecoder(join(root, 'pd'));
    expect(pd2.config.noise).toEqual({ mode: 'uniform', sigma: 0.8 });
    const f = ref64.toTensor(ref64.randomNd([1, 2, 2, 8], 4));
    const [c, d] = [pd.forward(f), pd2.forward(f)];
    await expectClose(d, c, 0);
    await expect(loadFeatureDecoder(join(root, 'pd'))).rejects.toThrow(ConfigError);
    tf.dispose([z, a, b, f, c, d]);
    for (const m of [fd, fd2, pd, pd2]) m.dispose();
  });

  it('a FeatureAutoEncoder is two sibling component folders; latent statistics travel with the adapter', async () => {
    const root = await tmp();
    const fae = new FeatureAutoEncoder({ inputDim: 8, latentChannels: 2, heads: 2, headDim: 4, gridSize: 2 }, { depth: 1, heads: 2 });
    await randomize(fae, 5, 0.5, { latent_std: 1.5 });
    const feats = [0, 1].map((i) => ref64.toTensor(ref64.randomNd([2, 2, 2, 8], 10 + i)));
    const stats = await fae.fitLatentStats(feats.map((t) => tf.clone(t)));
    expect(stats.count).toBe(16);
    await saveFeatureAutoEncoder(fae, join(root, 'fae'));
    expect((await readdir(join(root, 'fae'))).sort()).toEqual(['adapter', 'feature-decoder']);
    const back = await loadFeatureAutoEncoder(join(root, 'fae'));
    const lat = fae.encode(feats[0]);
    const lat2 = await expectNoLeaks(() => back.encode(feats[0]));
    await expectClose(lat2, lat, 0, 'normalised latents');
    const dec = await expectNoLeaks(() => back.decode(lat2));
    await expectClose(dec, fae.decoder.forward(fae.encoder.denormalize(lat)), 1e-6, 'decode = decoder(denormalize(latents))');
    const rec = back.reconstruct(feats[0]);
    await expectClose(dec, rec, 1e-5, 'decode(encode(x)) = reconstruct(x)');
    tf.dispose([...feats, lat, lat2, dec, rec]);
    fae.dispose();
    back.dispose();
  });
});
