// TarFlow / STARFlow as components: save -> load round trip with identical forward outputs (latent
// and log-determinant), loadTarFlow / saveTarFlow, and upstream's snake_case config.json (the
// tarflow_0 fixture folder) through the same loadComponent call.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends, describeFixture, expectClose, ref64 } from '@fae/testing';
import { loadComponent, parseSafetensors, readComponentConfig, saveComponent } from '@fae/core';
import { TarFlow, configFromUpstream, loadTarFlow, saveTarFlow, type TarFlowConfig } from '@fae/flow';
import { SMALL, randomFlow } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function sameForward(a: TarFlow, b: TarFlow, seed: number): Promise<void> {
  const [s, , c] = a.latentShape;
  const x = ref64.toTensor(ref64.randomNd([2, s, s, c], seed));
  const y = tf.tensor1d([0, 2], 'int32');
  const [ra, rb] = [a.forward(x, y), b.forward(x, y)];
  await expectClose(rb.z, ra.z, 0, 'z');
  await expectClose(rb.logdet, ra.logdet, 0, 'logdet');
  tf.dispose([x, y, ra.z, ra.logdet, rb.z, rb.logdet]);
}

const STARFLOW: TarFlowConfig = { ...SMALL, rope: true, condTopOnly: true };

describeBackends('TarFlow components', () => {
  for (const [name, config] of [['TARFlow', SMALL], ['STARFlow (RoPE, top-only conditioning, deep-shallow)', STARFLOW]] as const) {
    it(`${name}: saveTarFlow -> loadTarFlow / loadComponent give identical outputs`, async () => {
      const root = await mkdtemp(join(tmpdir(), 'fae-flow-component-'));
      dirs.push(root);
      const a = await randomFlow(config, 1, { randomVar: true });
      await saveTarFlow(a, join(root, 'flow'), { steps: '3' });
      const json = JSON.parse(await readFile(join(root, 'flow', 'config.json'), 'utf8'));
      expect(json).toMatchObject({ class: 'TarFlow', fae_format: 1, config: { inChannels: config.inChannels, rope: config.rope ?? false } });
      const b = await loadTarFlow(join(root, 'flow'));
      expect(b.config).toEqual({ ...a.config, seed: undefined });
      await sameForward(a, b, 2);
      const c = await loadComponent<TarFlow>(join(root, 'flow'));
      await sameForward(a, c, 3);
      [a, b, c].forEach((m) => m.dispose());
    });
  }
}, { backends: ['cpu'] });

describeFixture('TarFlow from upstream config.json (tarflow_0)', ['generators', 'tarflow_0'], (dir) => {
  describeBackends('TarFlow upstream folder', () => {
    it('loads through loadComponent with the same weights as configFromUpstream + loadStateDict', async () => {
      expect(await readComponentConfig(dir)).toMatchObject({ name: 'TarFlow', upstream: false });
      const viaComponent = await loadComponent<TarFlow>(dir, { expectClass: 'TarFlow' });
      const manual = new TarFlow(configFromUpstream(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))));
      await manual.loadStateDict(parseSafetensors(new Uint8Array(await readFile(join(dir, 'model.safetensors')))));
      await sameForward(manual, viaComponent, 4);
      const root = await mkdtemp(join(tmpdir(), 'fae-flow-fixture-'));
      dirs.push(root);
      await saveComponent(join(root, 'f'), viaComponent);
      const again = await loadComponent<TarFlow>(join(root, 'f'));
      await sameForward(manual, again, 5);
      [viaComponent, manual, again].forEach((m) => m.dispose());
    });
  }, { backends: ['cpu'] });
});
