import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { describeBackends, describeFixture, expectClose, expectNoLeaks, ref64, ref64eval } from '@fae/testing';
import { encodeSafetensors, parseSafetensors, StateDictError } from '@fae/core';
import { FidInceptionV3, loadFidInception, proceduralStore, resizeBilinearTf1 } from '@fae/eval';
import { runInceptionFixture } from '@fae/testing/parity/handlers/inception.js';

describeBackends('TF1 bilinear resize', () => {
  for (const [name, from, to] of [['upscale 5x7 -> 12x9', [5, 7], [12, 9]], ['downscale 17x13 -> 6x8', [17, 13], [6, 8]], ['64 -> 299', [64, 64], [299, 299]], ['identity 31x29', [31, 29], [31, 29]]] as const) {
    it(`matches the float64 reference (${name})`, async () => {
      const x = ref64.map(ref64.randomNd([2, from[0], from[1], 3], 3), (v) => Math.round(127.5 * (v + 1)));
      const xt = tf.tensor4d(Int32Array.from(x.data), x.shape as [number, number, number, number], 'int32');
      const y = await expectNoLeaks(() => resizeBilinearTf1(xt, [to[0], to[1]]));
      expect(y.shape).toEqual([2, to[0], to[1], 3]);
      await expectClose(y, ref64eval.resizeBilinearTf1(x, to[0], to[1]).data, 1e-6);
      tf.dispose([xt, y]);
    });
  }
});

describeFixture('inception_fid fixture', ['eval', 'inception_fid'], (dir) => {
  describeBackends('FidInceptionV3 vs torch-fidelity FeatureExtractorInceptionV3', ({ backend }) => {
    // One Inception forward costs ~5.7 GFLOP; the cpu backend and webgpu on software Vulkan run one
    // image here (a 64x64 one, so the resize runs too; the 299 -> 299 identity is covered above);
    // wasm runs the whole fixture (FAE_EVAL_FULL=1: every backend). `npm run parity` runs it all.
    // The sFID tap (Mixed_6d.branch1x1, first 7 channels, NHWC-flattened) against torch-fidelity's own
    // module with a forward hook, made on the GPU machine by tools/testing/py/make_inception_sfid_fixture.py
    // (test/fixtures/inception-sfid: the spatial outputs for this fixture's inputs, and how they were made).
    const spatialFile = fileURLToPath(new URL('./fixtures/inception-sfid/spatial.safetensors', import.meta.url));
    it('matches every feature of the fixture and the sFID tap to 1e-4', async () => {
      const rows = backend === 'wasm' || process.env.FAE_EVAL_FULL ? undefined : { 'input.images_0': [1] };
      const outputs = await expectNoLeaks(() => runInceptionFixture(dir, { rowsFor: rows, spatialFile }));
      expect(outputs.length).toBe(rows ? 7 : 14);
      expect(outputs.filter((o) => o.name.endsWith(' spatial'))).toHaveLength(rows ? 1 : 2);
      for (const o of outputs) expect(o.rel, `${o.name}: rel ${o.rel}`).toBeLessThanOrEqual(1e-4);
    });
  });

  describeBackends('FidInceptionV3 weights', () => {
    it('has torch-fidelity keys, loads procedural / safetensors copies strictly, rejects wrong files', async () => {
      const spec = JSON.parse(await readFile(join(dir, 'weights.json'), 'utf8'));
      const model = new FidInceptionV3();
      const params = model.namedParameters().map(([k]) => k);
      const buffers = model.namedBuffers().map(([k]) => k);
      // every weights.json key is a parameter or a running statistic; the counters are extra
      expect([...params, ...buffers.filter((k) => !k.endsWith('num_batches_tracked'))].sort()).toEqual(Object.keys(spec).sort());
      expect(buffers.filter((k) => k.endsWith('num_batches_tracked'))).toHaveLength(94);
      expect(model.parameterCount()).toBe(23850960); // sum of the non-running-stat shapes in weights.json
      const report = await model.loadWeights(proceduralStore(spec));
      expect(report.loaded.length).toBe(params.length + buffers.length);
      // a safetensors copy of the state dict (torch layouts, PyTorch key names) loads into a new model
      const bytes = encodeSafetensors(await model.stateDict());
      const other = await loadFidInception(bytes);
      const key = 'Mixed_7c.branch3x3dbl_3b.conv.weight';
      const a = model.namedParameters().find(([k]) => k === key)![1].variable;
      const b = other.namedParameters().find(([k]) => k === key)![1].variable;
      expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
      other.dispose();
      // a checkpoint missing a tensor fails strictly, naming it
      const sd = await model.stateDict();
      sd.delete('fc.bias');
      const err = await model.loadWeights(parseSafetensors(encodeSafetensors(sd), 'broken.safetensors')).catch((e) => e);
      expect(err).toBeInstanceOf(StateDictError);
      expect(String(err.message)).toContain('fc.bias');
      model.dispose();
    }, 120_000);
  }, { backends: ['cpu'] });
});
