// Every fixture in ../shared/fixtures/encoders through the parity handlers (the same check as
// `npm run parity`), on cpu, wasm and webgpu: transformers' outputs at 1e-4 relative.
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, describeFixture } from '@fae/testing';
import { readFixtureFiles } from '@fae/testing/parity/fixture-files.js';
import { dinov2Handler } from '@fae/testing/parity/handlers/dinov2.js';
import { siglipHandler } from '@fae/testing/parity/handlers/siglip.js';
import { processorHandler } from '@fae/testing/parity/handlers/processor.js';

const CASES: Array<[string, string[]]> = [
  ['dinov2_0', ['last_hidden_state', 'pooler_output', 'hidden_states_1']],
  ['dinov2_1', ['last_hidden_state', 'pooler_output', 'hidden_states_1']],
  ['dinov2_reg_2', ['last_hidden_state', 'pooler_output', 'hidden_states_1']],
  ['siglip_3', ['last_hidden_state', 'pooler_output', 'hidden_states_1']],
  ['dinov2_processor', ['pixel_values', 'pixel_values (PIL resize)']],
  ['siglip_processor', ['pixel_values', 'pixel_values (PIL resize)']],
];
const HANDLERS = [dinov2Handler, siglipHandler, processorHandler];

for (const [name, outputs] of CASES) {
  describeFixture(`parity ${name}`, ['encoders', name], (dir) => {
    describeBackends(name, () => {
      it(`matches the PyTorch reference (${outputs.join(', ')})`, async () => {
        const files = readFixtureFiles(dir);
        const handlers = HANDLERS.filter((h) => h.detect(files));
        expect(handlers.map((h) => h.name)).toHaveLength(1);
        const before = tf.memory().numTensors;
        const results = await handlers[0].run(files);
        expect(tf.memory().numTensors).toBe(before);
        expect(results.map((r) => r.name).sort()).toEqual([...outputs].sort());
        for (const r of results) expect(r.pass, `${r.name}: rel ${r.rel} > ${r.tol}${r.note ? ` (${r.note})` : ''}`).toBe(true);
      });
    });
  });
}
