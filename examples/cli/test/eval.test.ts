// `fae eval` on the shipped checkpoints (wasm, as metrics.json was measured): 500 samples per
// generator by default (50 per class), the bars (DiT accuracy >= 0.95, TARFlow >= 0.85, judge
// >= 0.985 on the held-out digits) and the shipped metrics.json reproduced.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends, IN_CI } from '@fae/testing';
import { main } from '../src/main.js';
import { SHIPPED_CHECKPOINTS } from '../src/checkpoints.js';

const present = existsSync(join(SHIPPED_CHECKPOINTS, 'tarflow', 'model.safetensors'));
if (!present && IN_CI) throw new Error(`${SHIPPED_CHECKPOINTS} is missing (the shipped checkpoints must be in CI)`);
const tmp = mkdtempSync(join(tmpdir(), 'fae-cli-eval-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describeBackends('fae eval on the shipped checkpoints', ({ backend }) => {
  it.skipIf(!present)('500 samples per generator: DiT >= 0.95, TARFlow >= 0.85, the judge >= 0.985, as in metrics.json (skipped only where the shipped checkpoints are absent)', { timeout: 900_000 }, async () => {
    const shipped = JSON.parse(readFileSync(join(SHIPPED_CHECKPOINTS, 'metrics.json'), 'utf8'));
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['eval', '--models', SHIPPED_CHECKPOINTS, '--backend', backend, '--out', tmp, '--quiet'], { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
    expect(err.join(''), err.join('')).toBe('');
    expect(code).toBe(0);
    const m = JSON.parse(out.join(''));
    expect(m.classifier.heldOutAccuracy).toBeGreaterThanOrEqual(0.985);
    expect(m.classifier.heldOutAccuracy).toBe(shipped.classifier.heldOutAccuracy);
    expect(m.classifier.realFidFloor).toBeCloseTo(shipped.classifier.realFidFloor, 6);
    for (const [g, bar] of [['dit', 0.95], ['tarflow', 0.85]] as const) {
      const got = m.generation[g];
      expect(got.n).toBe(500);
      expect(got.perClass).toHaveLength(10);
      expect(got.accuracy).toBeGreaterThanOrEqual(bar);
      // the shipped numbers, within three samples and 2% of FID (the same bytes on this machine)
      expect(Math.abs(got.accuracy - shipped.generation[g].accuracy)).toBeLessThanOrEqual(0.006);
      expect(Math.abs(got.fid / shipped.generation[g].fid - 1)).toBeLessThan(0.02);
      expect(got.fid).toBeGreaterThan(shipped.classifier.realFidFloor); // no sample set beats real digits
    }
    expect(m.generation.dit.guidance).toBe(2);
    expect(m.generation.tarflow.guidance).toBe(2);
  });
}, { backends: ['wasm'] });
