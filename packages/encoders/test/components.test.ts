// Encoder backbones as components: DINOv2, DINOv2 with registers and SigLIP round-trip through
// saveComponent / loadComponent with identical outputs, and Hugging Face folders (config.json with
// model_type) load through the same loadComponent call as transformers' loader reads them.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends, describeFixture, expectClose, ref64 } from '@fae/testing';
import { loadComponent, readComponentConfig, saveComponent, type Module } from '@fae/core';
import { Dinov2Model, SiglipVisionTransformer, createBackbone, loadTransformersEncoder, type ViTBackbone } from '@fae/encoders';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Random values in every parameter (so a mis-mapped tensor changes the output). */
async function randomize(m: Module, seed: number): Promise<void> {
  const sd = await m.stateDict();
  const tensors: Record<string, tf.Tensor> = {};
  let s = seed;
  for (const [k, v] of sd) tensors[k] = ref64.toTensor(ref64.randomNd(v.shape, s++, 0.3));
  await m.loadStateDict(tensors);
  tf.dispose(Object.values(tensors));
}

const CASES: Array<[string, Record<string, unknown>]> = [
  ['DINOv2', { model_type: 'dinov2', hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, image_size: 16, patch_size: 4, layerscale_value: 1 }],
  ['DINOv2 with registers (SwiGLU)', { model_type: 'dinov2_with_registers', hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, image_size: 16, patch_size: 4, num_register_tokens: 2, use_swiglu_ffn: true }],
  ['SigLIP (attention-pooling head)', { model_type: 'siglip_vision_model', hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 2, image_size: 16, patch_size: 4 }],
];

describeBackends('encoder components', () => {
  for (const [name, json] of CASES) {
    it(`${name}: saveComponent -> loadComponent gives identical features and pooled outputs`, async () => {
      const root = await mkdtemp(join(tmpdir(), 'fae-enc-component-'));
      dirs.push(root);
      const model = createBackbone(json);
      await randomize(model, 3);
      await saveComponent(join(root, 'enc'), model, { metadata: { note: name } });
      const stored = JSON.parse(await readFile(join(root, 'enc', 'config.json'), 'utf8'));
      expect(stored.class).toBe(model instanceof Dinov2Model ? 'Dinov2Model' : 'SiglipVisionTransformer');
      expect(stored.config.model_type).toBe(json.model_type); // transformers' config.json fields
      const back = await loadComponent<ViTBackbone>(join(root, 'enc'));
      expect(back.constructor).toBe(model.constructor);
      expect(back.config).toEqual(model.config);
      const x = ref64.toTensor(ref64.randomNd([2, 16, 16, 3], 9));
      const [a, b] = [model.run(x), back.run(x)];
      await expectClose(b.lastHiddenState, a.lastHiddenState, 0, 'last_hidden_state');
      if (a.poolerOutput) await expectClose(b.poolerOutput!, a.poolerOutput, 0, 'pooler_output');
      tf.dispose([x, a.lastHiddenState, b.lastHiddenState, a.poolerOutput ?? [], b.poolerOutput ?? []].flat());
      model.dispose();
      back.dispose();
    });
  }
}, { backends: ['cpu'] });

for (const fixture of ['dinov2_0', 'dinov2_reg_2', 'siglip_3']) {
  describeFixture(`a Hugging Face folder through loadComponent (${fixture})`, ['encoders', fixture], (dir) => {
    describeBackends(`Hugging Face ${fixture}`, () => {
      it('loads as the registered backbone, with the same outputs as loadTransformersEncoder', async () => {
        const desc = await readComponentConfig(dir);
        expect(desc.upstream).toBe(true);
        expect(desc.name).toBe(fixture.startsWith('siglip') ? 'SiglipVisionTransformer' : 'Dinov2Model');
        const viaComponent = await loadComponent<ViTBackbone>(dir, { expectClass: desc.name });
        expect(viaComponent).toBeInstanceOf(fixture.startsWith('siglip') ? SiglipVisionTransformer : Dinov2Model);
        const enc = await loadTransformersEncoder(dir);
        const s = enc.model.config.imageSize;
        const x = ref64.toTensor(ref64.randomNd([1, s, s, 3], 4));
        const [a, b] = [enc.model.run(x).lastHiddenState, viaComponent.run(x).lastHiddenState];
        await expectClose(b, a, 0);
        tf.dispose([x, a, b]);
        enc.dispose();
        viaComponent.dispose();
      });
    }, { backends: ['cpu'] });
  });
}
