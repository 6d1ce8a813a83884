import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64 } from '@fae/testing';
import { ConfigError, loadComponent } from '@fae/core';
import { SingleAttentionEncoder, loadSingleAttentionEncoder, saveSingleAttentionEncoder } from '@fae/adapter';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describeBackends('adapter checkpoints', () => {
  it('round-trips config, weights and latent statistics through a folder', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fae-adapter-'));
    dirs.push(root);
    const cfg = { inputDim: 8, latentChannels: 3, heads: 2, headDim: 4, gridSize: 2, positions: 'rope' as const, preNorm: true };
    const enc = new SingleAttentionEncoder(cfg);
    enc.setLatentStats({ mean: Float64Array.of(0.1, 0.2, 0.3), std: Float64Array.of(1.5, 2, 2.5) });
    const dir = join(root, 'adapter');
    await saveSingleAttentionEncoder(enc, dir, { step: '7' });
    await saveSingleAttentionEncoder(enc, dir); // overwriting an existing folder
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors']);
    expect((await readdir(root)).sort()).toEqual(['adapter']); // no temporary folders left behind
    const json = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(json.class).toBe('SingleAttentionEncoder');
    expect(json.config.positions).toBe('rope');
    expect(json.metadata).toBeUndefined(); // the second save had none

    const loaded = await loadSingleAttentionEncoder(dir);
    expect(loaded.config).toEqual(enc.config);
    expect(Array.from((await loaded.latentStats()).std)).toEqual([1.5, 2, 2.5]);
    const x = ref64.toTensor(ref64.randomNd([1, 2, 2, 8], 3));
    const a = enc.forward(x);
    const b = await expectNoLeaks(() => loaded.forward(x));
    await expectClose(b, a, 0, 'same outputs');
    tf.dispose([x, a, b]);
    enc.dispose();
    loaded.dispose();
  });

  it('refuses a folder holding another class, and a missing folder', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fae-adapter-'));
    dirs.push(root);
    const enc = new SingleAttentionEncoder({ inputDim: 8, latentChannels: 2, heads: 1, headDim: 4, gridSize: 2 });
    await saveSingleAttentionEncoder(enc, join(root, 'a'));
    const cfgPath = join(root, 'a', 'config.json');
    const json = JSON.parse(await readFile(cfgPath, 'utf8'));
    await writeFile(cfgPath, JSON.stringify({ ...json, class: 'FeatureDecoder' }));
    await expect(loadSingleAttentionEncoder(join(root, 'a'))).rejects.toThrow(ConfigError);
    await expect(loadComponent(join(root, 'missing'))).rejects.toThrow(/missing/);
    enc.dispose();
  });
});
