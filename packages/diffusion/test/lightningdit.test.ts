import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeBackends, describeFixture, expectClose, expectNoLeaks, ref64, weightsBuilders as wb } from '@fae/testing';
import { runLightningDiTParity, lightningDiTHandler } from '@fae/testing/parity/handlers/lightningdit.js';
import { ConfigError, ShapeError, StateDictError, parseSafetensors, readFloat32 } from '@fae/core';
import {
  LightningDiT, PRESETS, parameterCountOf, lightningDiTConfigFromJson, lightningDiTConfigToJson, lightningDiTFromStore,
  lightningDiTFromTorchCheckpoint, exportLightningDiT, createFromPreset, loadLightningDiT, type LightningDiTConfig,
} from '@fae/diffusion';

const TINY: Partial<LightningDiTConfig> = { inputSize: 4, patchSize: 2, inChannels: 3, hiddenSize: 16, depth: 2, numHeads: 2, numClasses: 5 };

for (const name of ['lightningdit_0', 'lightningdit_1']) {
  describeFixture(`LightningDiT parity ${name}`, ['generators', name], (dir) => {
    describeBackends(`LightningDiT ${name}`, () => {
      it('the parity handler recognises the fixture and the output matches upstream to 1e-4', async () => {
        const files = readdirFixture(dir);
        expect(lightningDiTHandler.detect(files)).toBe(true);
        const before = tf.memory().numTensors;
        const [out] = await runLightningDiTParity(dir);
        expect(tf.memory().numTensors).toBe(before);
        expect(out.rel, `rel ${out.rel}`).toBeLessThanOrEqual(1e-4);
        expect(out.pass).toBe(true);
      });

      it('every upstream key loads strictly, in upstream order', async () => {
        const store = parseSafetensors(readFileSync(join(dir, 'model.safetensors')), name);
        const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
        const { model, report } = await lightningDiTFromStore(config, store);
        expect(report.missing).toEqual([]);
        expect(report.unexpected).toEqual([]);
        expect(new Set(report.loaded)).toEqual(new Set(store.keys()));
        expect(model.parameterCount()).toBe(parameterCountOf(model.config));
        model.dispose();
      });
    });
  });
}

function readdirFixture(dir: string) {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const io = parseSafetensors(readFileSync(join(dir, 'io.safetensors')));
  return { dir, files: ['config.json', 'io.safetensors', 'meta.json', 'model.safetensors'], config, ioKeys: io.keys() };
}

describeFixture('LightningDiT from an upstream .pt training checkpoint', ['generators', 'lightningdit_0'], (dir) => {
  describeBackends('LightningDiT .pt', () => {
    it('loads {model, ema, opt} checkpoints (EMA weights by default, module. prefixes stripped)', async () => {
      const store = parseSafetensors(readFileSync(join(dir, 'model.safetensors')));
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      const storages: Record<string, wb.StorageSpec> = {};
      const ema: Record<string, wb.PyValue> = {};
      const model: Record<string, wb.PyValue> = {};
      let i = 0;
      for (const k of store.keys()) {
        const data = await readFloat32(store, k);
        const shape = store.info(k)!.shape;
        storages[String(i)] = { type: 'FloatStorage', bytes: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
        ema[k] = wb.tensorSpec(String(i), shape);
        const zeros = new Float32Array(data.length);
        storages[`z${i}`] = { type: 'FloatStorage', bytes: new Uint8Array(zeros.buffer) };
        model[`module.${k}`] = wb.tensorSpec(`z${i}`, shape, { parameter: true });
        i++;
      }
      const bytes = wb.buildTorchCheckpoint({ model, ema, opt: { lr: 0.0002 }, steps: 42 }, storages);
      const fromPt = await lightningDiTFromTorchCheckpoint(config, bytes);
      const fromSt = await lightningDiTFromStore(config, store);
      const io = parseSafetensors(readFileSync(join(dir, 'io.safetensors')));
      const x = tf.transpose(tf.tensor(await readFloat32(io, 'input.x'), io.info('input.x')!.shape), [0, 2, 3, 1]);
      const t = tf.tensor1d(await readFloat32(io, 'input.t'));
      const y = tf.tensor1d(Int32Array.from(await readFloat32(io, 'input.y')), 'int32');
      const a = fromPt.model.forward(x, t, y);
      const b = fromSt.model.forward(x, t, y);
      await expectClose(a, b, 0);
      // The raw 'model' entry is all zeros: choosing it gives a different (zero-weight) network.
      const zeroModel = await lightningDiTFromTorchCheckpoint(config, bytes, { which: 'model' });
      expect(await zeroModel.model.posEmbed.data()).toEqual(new Float32Array(zeroModel.model.posEmbed.size));
      tf.dispose([x, t, y, a, b]);
      [fromPt.model, fromSt.model, zeroModel.model].forEach((m) => m.dispose());
    });
  }, { backends: ['cpu'] });
});

describeBackends('LightningDiT', () => {
  it('parameterCountOf matches the built module for every option combination', () => {
    const combos: Array<Partial<LightningDiTConfig>> = [
      {}, { useSwiglu: true }, { useRmsnorm: true, useQknorm: true }, { useQknorm: true }, { woShift: true, useRope: true },
      { learnSigma: true, patchSize: 1 }, { classDropoutProb: 0 }, { useSwiglu: true, useRope: true, useRmsnorm: true, useQknorm: true, mlpRatio: 3 },
    ];
    for (const extra of combos) {
      const m = new LightningDiT({ ...TINY, ...extra });
      expect(m.parameterCount(), JSON.stringify(extra)).toBe(parameterCountOf({ ...TINY, ...extra }));
      m.dispose();
    }
  });

  it('presets: LightningDiT-XL/1 on 16x16x32 latents has the paper\'s 675.26M parameters', () => {
    expect(PRESETS['LightningDiT-XL/1'].parameters).toBe(675_256_736);
    expect((PRESETS['LightningDiT-XL/1'].parameters / 1e6).toFixed(2)).toBe('675.26');
    expect(PRESETS['SiT-XL/2'].parameters).toBe(parameterCountOf({ ...PRESETS['SiT-XL/2'].config }));
    expect(Object.keys(PRESETS)).toEqual(expect.arrayContaining(['LightningDiT-S/1', 'LightningDiT-B/2', 'LightningDiT-L/1', 'LightningDiT-XL/2', 'SiT-S/2']));
    const s = createFromPreset('LightningDiT-S/2', { inputSize: 4, inChannels: 2, depth: 1, numClasses: 3 });
    expect(s.parameterCount()).toBe(parameterCountOf(s.config));
    s.dispose();
  });

  it('config.json round trip (upstream snake_case) and validation', () => {
    const c = lightningDiTConfigFromJson({ class: 'LightningDiT', input_size: 8, patch_size: 1, in_channels: 8, hidden_size: 64, depth: 2, num_heads: 4, num_classes: 10, use_rope: true, use_checkpoint: false });
    expect(c.useRope).toBe(true);
    expect(c.classDropoutProb).toBe(0.1);
    expect(lightningDiTConfigFromJson(lightningDiTConfigToJson(c))).toEqual(c);
    expect(() => lightningDiTConfigFromJson({ input_size: 8, hiden_size: 3 })).toThrow(/hiden_size/);
    expect(() => lightningDiTConfigFromJson({ input_size: 7, patch_size: 2 })).toThrow(ConfigError);
    expect(() => lightningDiTConfigFromJson({ class: 'DiT' })).toThrow(ConfigError);
  });

  it('forward: NHWC shapes, upstream init (zero output), learn_sigma, pos_embed frozen, no leaks, shape errors', async () => {
    const m = new LightningDiT({ ...TINY, useRope: true, useSwiglu: true, useRmsnorm: true }, { seed: 1 });
    const x = ref64.toTensor(ref64.randomNd([2, 4, 4, 3], 3));
    const t = tf.tensor1d([0.2, 0.9]);
    const y = tf.tensor1d([1, 5], 'int32'); // 5 = null class
    const out = await expectNoLeaks(() => m.forward(x, t, y));
    expect(out.shape).toEqual([2, 4, 4, 3]);
    expect(Array.from(await out.data()).every((v) => v === 0)).toBe(true); // adaLN-Zero + zero final layer
    expect(m.trainableVariables().has('pos_embed')).toBe(false);
    m.setTrainable(true);
    expect(m.trainableVariables().has('pos_embed')).toBe(false);
    expect(m.nullClass).toBe(5);
    expect(m.latentShape).toEqual([4, 4, 3]);
    const bad = tf.zeros([2, 4, 4, 4]);
    expect(() => m.forward(bad, t, y)).toThrow(ShapeError);
    const sig = new LightningDiT({ ...TINY, learnSigma: true });
    await sig.loadStateDict(new Map([...(await sig.stateDict())].map(([k, v]) => [k, tf.tensor(Float32Array.from(v.data, (_, i) => Math.sin(i + k.length)), v.shape)])));
    const full = sig.forward(x, t, y, { keepSigma: true });
    const half = sig.forward(x, t, y);
    expect(full.shape).toEqual([2, 4, 4, 6]);
    expect(half.shape).toEqual([2, 4, 4, 3]);
    await expectClose(half, tf.slice(full, [0, 0, 0, 0], [-1, -1, -1, 3]), 0);
    tf.dispose([x, t, y, out, bad, full, half]);
    m.dispose();
    sig.dispose();
  });

  it('loadLightningDiT reads a folder with config.json + model.safetensors', async () => {
    const a = new LightningDiT({ ...TINY, useRope: true, useRmsnorm: true }, { seed: 11 });
    const { configJson, weights } = await exportLightningDiT(a);
    const dir = mkdtempSync(join(tmpdir(), 'fae-ldit-'));
    writeFileSync(join(dir, 'config.json'), configJson);
    writeFileSync(join(dir, 'model.safetensors'), weights);
    const b = await loadLightningDiT(dir, { offline: true });
    expect(b.config).toEqual(a.config);
    await expectClose(b.blocks.at(1).attn.proj.weight, a.blocks.at(1).attn.proj.weight, 0);
    await expectClose(b.featRope!.freqsCos, a.featRope!.freqsCos, 0);
    rmSync(dir, { recursive: true, force: true });
    a.dispose();
    b.dispose();
  });

  it('same seed, same weights; export -> load round trip is exact; strict loading names bad keys', async () => {
    const a = new LightningDiT(TINY, { seed: 7 });
    const b = new LightningDiT(TINY, { seed: 7 });
    await expectClose(a.blocks.at(0).attn.qkv!.weight, b.blocks.at(0).attn.qkv!.weight, 0);
    const { configJson, weights } = await exportLightningDiT(a);
    const { model: c } = await lightningDiTFromStore(JSON.parse(configJson), parseSafetensors(weights, 'exported.safetensors'));
    await expectClose(c.tEmbedder.fc1.weight, a.tEmbedder.fc1.weight, 0);
    const other = new LightningDiT({ ...TINY, useSwiglu: true });
    const err = await other.loadStateDict(parseSafetensors(weights, 'exported.safetensors')).catch((e) => e);
    expect(err).toBeInstanceOf(StateDictError);
    expect(err.message).toContain('blocks.0.mlp.w12.weight');
    [a, b, c, other].forEach((m) => m.dispose());
  });
});
