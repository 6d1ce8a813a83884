// LightningDiT as a component: save -> load round trip with identical velocities, the stored config
// (upstream's snake_case constructor arguments), and an upstream training checkpoint (.pt with
// {model, ema, opt}) beside a config.json loading through the same loadComponent call (EMA weights).
import * as tf from '@tensorflow/tfjs-core';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends, expectClose, ref64, weightsBuilders as wb } from '@fae/testing';
import { loadComponent, saveComponent } from '@fae/core';
import { LightningDiT, loadLightningDiT, type LightningDiTConfig } from '@fae/diffusion';

const TINY: Partial<LightningDiTConfig> = { inputSize: 4, patchSize: 2, inChannels: 3, hiddenSize: 16, depth: 2, numHeads: 2, numClasses: 5, useSwiglu: true, useRope: true, useRmsnorm: true, useQknorm: true };

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function randomize(m: LightningDiT, seed: number): Promise<void> {
  const sd = await m.stateDict();
  const tensors: Record<string, tf.Tensor> = {};
  let s = seed;
  for (const [k, v] of sd) tensors[k] = ref64.toTensor(ref64.randomNd(v.shape, s++, 0.3));
  await m.loadStateDict(tensors);
  tf.dispose(Object.values(tensors));
}

describeBackends('LightningDiT component', () => {
  it('round-trips with identical velocities; config.json holds upstream arguments; pos_embed stays frozen', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fae-dit-component-'));
    dirs.push(root);
    const a = new LightningDiT(TINY, { seed: 3 });
    await randomize(a, 4);
    await saveComponent(join(root, 'dit'), a, { metadata: { steps: '10' } });
    const json = JSON.parse(await readFile(join(root, 'dit', 'config.json'), 'utf8'));
    expect(json).toMatchObject({ class: 'LightningDiT', fae_format: 1, config: { input_size: 4, hidden_size: 16, use_swiglu: true }, metadata: { steps: '10' } });
    const b = await loadComponent<LightningDiT>(join(root, 'dit'), { expectClass: 'LightningDiT' });
    expect(b.config).toEqual(a.config);
    b.setTrainable(true);
    expect([...b.trainableVariables().keys()]).not.toContain('pos_embed');
    const x = ref64.toTensor(ref64.randomNd([2, 4, 4, 3], 5));
    const t = tf.tensor1d([0.2, 0.7]);
    const y = tf.tensor1d([1, 5], 'int32');
    const [va, vb] = [a.forward(x, t, y), b.forward(x, t, y)];
    await expectClose(vb, va, 0);
    const c = await loadLightningDiT(join(root, 'dit'));
    const vc = c.forward(x, t, y);
    await expectClose(vc, va, 0, 'loadLightningDiT');
    tf.dispose([x, t, y, va, vb, vc]);
    [a, b, c].forEach((m) => m.dispose());
  });

  it("an upstream .pt ({model, ema, opt}) beside config.json loads by naming it: 'dir/ckpt.pt' (EMA weights)", async () => {
    const root = await mkdtemp(join(tmpdir(), 'fae-dit-pt-'));
    dirs.push(root);
    const a = new LightningDiT(TINY, { seed: 5 });
    await randomize(a, 6);
    await saveComponent(root, a); // config.json (+ model.safetensors, which the .pt source ignores)
    const sd = await a.stateDict();
    const storages: Record<string, wb.StorageSpec> = {};
    const ema: Record<string, wb.PyValue> = {};
    const model: Record<string, wb.PyValue> = {};
    let i = 0;
    for (const [k, v] of sd) {
      const data = v.data as Float32Array;
      storages[String(i)] = { type: 'FloatStorage', bytes: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
      storages[`z${i}`] = { type: 'FloatStorage', bytes: new Uint8Array(data.byteLength) };
      ema[k] = wb.tensorSpec(String(i), v.shape);
      model[`module.${k}`] = wb.tensorSpec(`z${i}`, v.shape, { parameter: true });
      i++;
    }
    await writeFile(join(root, 'ckpt.pt'), wb.buildTorchCheckpoint({ model, ema, opt: { lr: 0.0002 } }, storages));
    const b = await loadComponent<LightningDiT>(join(root, 'ckpt.pt'));
    const x = ref64.toTensor(ref64.randomNd([1, 4, 4, 3], 7));
    const t = tf.tensor1d([0.4]);
    const y = tf.tensor1d([2], 'int32');
    const [va, vb] = [a.forward(x, t, y), b.forward(x, t, y)];
    await expectClose(vb, va, 0);
    // Another safetensors file named directly ('dir/ema.safetensors') goes through the same hook.
    await copyFile(join(root, 'model.safetensors'), join(root, 'ema.safetensors'));
    const c = await loadComponent<LightningDiT>(join(root, 'ema.safetensors'));
    const vc = c.forward(x, t, y);
    await expectClose(vc, va, 0);
    tf.dispose([x, t, y, va, vb, vc]);
    a.dispose();
    b.dispose();
    c.dispose();
  });
}, { backends: ['cpu'] });
