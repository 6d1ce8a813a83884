import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, describeFixture, relError, ref64, ref64flow } from '@fae/testing';
import { parseSafetensors, readFloat32 } from '@fae/core';
import { compareWithNonFinite, runTarflowParity, tarflowHandler } from '@fae/testing/parity/handlers/tarflow.js';

describeFixture('tarflow_0 parity (apple/ml-tarflow)', ['generators', 'tarflow_0'], (dir) => {
  describeBackends('TarFlow fixture', () => {
    it('forward (z, first block output, logdets) and three sampling settings match at 1e-4', async () => {
      const before = tf.memory().numTensors;
      const results = await runTarflowParity(dir);
      console.log(results.map((r) => `${r.name}: rel ${r.rel.toExponential(2)}${r.note ? ` (${r.note})` : ''}`).join('\n'));
      expect(results.map((r) => r.name)).toEqual(['z', 'block0', 'logdets', 'sample_g0', 'sample_g1.5', 'sample_g1.5_annealed_t0.9']);
      for (const r of results) expect(r.pass, `${r.name}: rel ${r.rel} ${r.note ?? ''}`).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  describeBackends('float64 reference on the fixture', () => {
    it('the float64 reference itself reproduces upstream (forward and the unguided sample)', async () => {
      const weights = parseSafetensors(await readFile(join(dir, 'model.safetensors')));
      const io = parseSafetensors(await readFile(join(dir, 'io.safetensors')));
      const sd: ref64flow.StateDict64 = new Map();
      for (const k of weights.keys()) sd.set(k, ref64.nd(weights.info(k)!.shape, await readFloat32(weights, k)));
      const xNchw = ref64.nd([2, 4, 8, 8], await readFloat32(io, 'input.x'));
      const cfg = { layers: [2, 2], headDim: 64, nvp: true, grid: 4 };
      const r = ref64flow.tarflowForward(sd, ref64flow.patchify(ref64.transpose(xNchw, [0, 2, 3, 1]), 2), [1, 3], cfg);
      expect(relError(r.z.data, await readFloat32(io, 'output.z')).rel).toBeLessThan(1e-5);
      expect(relError(r.logdet, await readFloat32(io, 'output.logdets')).rel).toBeLessThan(1e-5);
      const s = ref64flow.tarflowReverse(sd, ref64.nd([2, 16, 16], await readFloat32(io, 'input.noise')), [1, 3], cfg);
      // tokens -> NCHW image (inverse of unfold) to compare with output.sample_g0
      const img = ref64.nd([2, 4, 8, 8]);
      for (let b = 0; b < 2; b++) for (let t = 0; t < 16; t++) for (let f = 0; f < 16; f++) {
        const [c, i, j] = [Math.floor(f / 4), Math.floor(f / 2) % 2, f % 2];
        const [row, col] = [Math.floor(t / 4) * 2 + i, (t % 4) * 2 + j];
        img.data[((b * 4 + c) * 8 + row) * 8 + col] = s.data[(b * 16 + t) * 16 + f];
      }
      expect(relError(img.data, await readFloat32(io, 'output.sample_g0')).rel).toBeLessThan(1e-5);
    });

    it('the handler recognises the fixture by content; non-finite references must be reproduced exactly', () => {
      expect(tarflowHandler.detect({ dir, files: ['config.json', 'model.safetensors', 'io.safetensors'], config: { class: 'TarFlow' }, ioKeys: ['input.x', 'input.noise'] })).toBe(true);
      expect(tarflowHandler.detect({ dir, files: ['config.json', 'model.safetensors', 'io.safetensors'], config: { class: 'LightningDiT' }, ioKeys: ['input.x'] })).toBe(false);
      const ref = [1, 2, NaN, Infinity, 5, 6, 7, 8];
      expect(compareWithNonFinite('s', [1, 2, NaN, Infinity, 5, 6, 7, 8.0001], ref, 1e-4, 2).pass).toBe(true);
      expect(compareWithNonFinite('s', [1, 2, 3, Infinity, 5, 6, 7, 8], ref, 1e-4, 2).pass).toBe(false); // NaN not reproduced
      expect(compareWithNonFinite('s', [1, 2, NaN, -Infinity, 5, 6, 7, 8], ref, 1e-4, 2).pass).toBe(false); // wrong sign of Inf
      expect(compareWithNonFinite('s', [1, 2.5, NaN, Infinity, 5, 6, 7, 8], ref, 1e-4, 2).pass).toBe(false); // diverged sample off by 25%
      expect(compareWithNonFinite('s', [1, 2, NaN, Infinity, 5, 6, 7, 8.01], ref, 1e-4, 2).pass).toBe(false); // finite sample off
    });
  }, { backends: ['cpu'] });
});
