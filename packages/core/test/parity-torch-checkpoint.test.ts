// The torch_checkpoint parity handler (what `npm run parity` runs) on every backend.
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, describeFixture } from '@fae/testing';
import { readFixtureFiles } from '@fae/testing/parity/fixture-files.js';
import { loadHandlers } from '@fae/testing/parity/load-handlers.js';
import { torchCheckpointHandler } from '@fae/testing/parity/handlers/torch-checkpoint.js';

describeFixture('parity: torch_checkpoint', ['generators', 'torch_checkpoint'], (dir) => {
  describeBackends('handler', () => {
    it('is detected by content and passes every output exactly', async () => {
      const files = readFixtureFiles(dir);
      const { handlers } = await loadHandlers();
      expect(handlers.find((h) => h.detect(files))).toBe(torchCheckpointHandler);
      const before = tf.memory().numTensors;
      const outputs = await torchCheckpointHandler.run(files);
      expect(tf.memory().numTensors).toBe(before);
      expect(outputs.length).toBeGreaterThanOrEqual(9 + 8 + 2); // 9 tensors, 8 dtypes, step and args
      for (const o of outputs) expect(o.pass, `${o.name}: ${o.note ?? ''} max_abs=${o.maxAbs}`).toBe(true);
      expect(outputs.map((o) => o.name)).toEqual(expect.arrayContaining(['model.view_t', 'model.view_slice', 'ema.w32', 'value step', 'value args', 'dtype wbf16']));
    });
  });
});
