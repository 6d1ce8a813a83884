// Decoder components: PatchDiscriminator and FeatureAutoEncoder round-trip through saveComponent /
// loadComponent with identical outputs; an RAE decoder folder (transformers' ViTMAEConfig config.json
// beside RAE's model.pt state dict) loads as a PixelDecoder through the same loadComponent call.
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends, expectClose, ref64, weightsBuilders as wb } from '@fae/testing';
import { checkGeometry, loadComponent, readComponentConfig, saveComponent } from '@fae/core';
import { FeatureAutoEncoder, PatchDiscriminator, PixelDecoder, isRaeDecoderConfig, loadPixelDecoder, pixelDecoderConfigFromRae } from '@fae/decoders';
import { randomize } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'fae-dec-component-'));
  dirs.push(d);
  return d;
};

describeBackends('decoder components', () => {
  it('PatchDiscriminator round-trips with identical logits', async () => {
    const root = await tmp();
    const d = new PatchDiscriminator({ inChannels: 3, ndf: 4, nLayers: 2 });
    await randomize(d, 1, 0.3);
    await saveComponent(join(root, 'disc'), d);
    const back = await loadComponent<PatchDiscriminator>(join(root, 'disc'), { expectClass: 'PatchDiscriminator' });
    expect(back.config).toEqual(d.config);
    const x = ref64.toTensor(ref64.randomNd([2, 12, 12, 3], 2));
    const [a, b] = [d.forward(x), back.forward(x)];
    await expectClose(b, a, 0);
    tf.dispose([x, a, b]);
    d.dispose();
    back.dispose();
  });

  it('FeatureAutoEncoder round-trips as one folder (keys encoder.*, decoder.*), latent statistics included', async () => {
    const root = await tmp();
    const fae = new FeatureAutoEncoder({ inputDim: 8, latentChannels: 2, heads: 2, headDim: 4, gridSize: 2 }, { depth: 1, heads: 2 });
    await randomize(fae, 5, 0.5, { latent_std: 1.5 });
    await saveComponent(join(root, 'fae'), fae);
    const back = await loadComponent<FeatureAutoEncoder>(join(root, 'fae'));
    expect(back).toBeInstanceOf(FeatureAutoEncoder);
    // The shared shape names: both halves agree (features [B, 2, 2, 8], latents [B, 2, 2, 2]).
    expect(checkGeometry({ adapter: back.encoder, decoder: back.decoder })).toEqual({ grid: 2, featureDim: 8, latentChannels: 2 });
    const f = ref64.toTensor(ref64.randomNd([2, 2, 2, 8], 7));
    const [a, b] = [fae.reconstruct(f), back.reconstruct(f)];
    await expectClose(b, a, 0);
    const [za, zb] = [fae.encode(f), back.encode(f)];
    await expectClose(zb, za, 0, 'normalised latents');
    tf.dispose([f, a, b, za, zb]);
    fae.dispose();
    back.dispose();
  });

  it("an RAE decoder folder (ViTMAEConfig + model.pt) loads as a PixelDecoder with RAE's keys", async () => {
    const root = await tmp();
    const rae = {
      model_type: 'vit_mae', hidden_size: 8, patch_size: 2, image_size: 4, decoder_hidden_size: 8, decoder_num_hidden_layers: 1,
      decoder_num_attention_heads: 2, decoder_intermediate_size: 12, layer_norm_eps: 1e-12,
    };
    expect(isRaeDecoderConfig(rae)).toBe(true);
    const reference = new PixelDecoder(pixelDecoderConfigFromRae(rae));
    await randomize(reference, 11, 0.3);
    // RAE's model.pt: torch.save(decoder.state_dict()) under RAE's key names.
    const sd = await reference.stateDict();
    const storages: Record<string, wb.StorageSpec> = {};
    const dict: Record<string, wb.PyValue> = {};
    let i = 0;
    for (const [k, v] of sd) {
      const data = v.data as Float32Array;
      storages[String(i)] = { type: 'FloatStorage', bytes: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
      dict[k] = wb.tensorSpec(String(i), v.shape);
      i++;
    }
    expect(Object.keys(dict)).toContain('decoder_layers.0.attention.attention.query.weight');
    const dir = join(root, 'rae');
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify(rae));
    await writeFile(join(dir, 'model.pt'), wb.buildTorchCheckpoint(dict, storages));
    expect(await readComponentConfig(dir)).toMatchObject({ name: 'PixelDecoder', upstream: true });
    const loaded = await loadPixelDecoder(dir);
    expect(loaded.config.clsToken).toBe(true);
    expect(loaded.config.gridSize).toBe(2);
    const f = ref64.toTensor(ref64.randomNd([1, 2, 2, 8], 12));
    const [a, b] = [reference.forward(f), loaded.forward(f)];
    await expectClose(b, a, 0);
    // The same weights named directly: 'dir/model.pt'.
    const direct = await loadComponent<PixelDecoder>(join(dir, 'model.pt'));
    const c = direct.forward(f);
    await expectClose(c, a, 0);
    tf.dispose([f, a, b, c]);
    for (const m of [reference, loaded, direct]) m.dispose();
  });
}, { backends: ['cpu'] });
