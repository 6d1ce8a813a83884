// Data-parallel training through core's Trainer, with real processes (2 wasm replicas forked by
// startReplicas, each with half of every global batch, gradients averaged every step):
//  - trainStageIb: 2 replicas x 8 rows == 1 process with gradAccum 2 x 8 rows, bit for bit (same rows,
//    the same random numbers through ReplicaRng, the same float32 sums), and == 1 process x 16 rows to
//    float32 rounding (the batch mean's sum is split in two partial sums); the replicas stay identical;
//  - trainPipeline with `replicas`: 2 replicas give the models of 1 process on the recipe's batch, to
//    float32 rounding, for every stage trained (Ib, Ia, II with an L2 objective, TARFlow); rank 0 alone writes.
// The replicas load the built packages (dist): `npx turbo run build --filter=@fae/pipeline` first.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, initBackend, openSafetensorsFile } from '@fae/core';
import { buildCache, startReplicas } from '../src/index.js';
import { writeClassFolder } from './helpers.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/dp-train.mjs', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/node/index.js', import.meta.url)));
const tmp = mkdtempSync(join(tmpdir(), 'fae-dp-trainer-'));
afterAll(() => (process.env.KEEP ? undefined : rmSync(tmp, { recursive: true, force: true })));

interface IbOut {
  rank: number;
  size: number;
  losses: number[];
  weights: Record<string, number[]>;
  tensors: number;
}

/** Largest |a - b| over the weights whose names `keep` accepts. */
function worstAbsolute(a: Record<string, number[]>, b: Record<string, number[]>, keep: (k: string) => boolean): number {
  let worst = 0;
  for (const k of Object.keys(a).filter(keep)) a[k].forEach((w, i) => (worst = Math.max(worst, Math.abs(w - b[k][i]))));
  return worst;
}

describe.skipIf(!built && process.env.CI !== 'true')('data-parallel Trainer (2 wasm replica processes; skipped outside CI until `npm run build` has made the dist/ the replica processes import)', () => {
  beforeAll(async () => {
    await initBackend('cpu'); // this process only writes the test cache; the replicas run wasm
  });

  it('stage Ib: 2 replicas == gradAccum 2 bit for bit, == the summed batch to float32 rounding', async () => {
    const dir = join(tmp, 'cache');
    const rng = new Rng(7);
    await buildCache(dir, async function* () {
      for (let b = 0; b < 4; b++) yield { features: rng.normal([16, 2, 2, 16]), labels: Int32Array.from({ length: 16 }, (_, i) => i % 3) };
    }, { shardSize: 20, dtype: 'F32', total: 64, meta: { test: 'dp' } });
    const run = async (n: number, batch: number, accum: number) => (await startReplicas(SCRIPT, n, { args: ['stage-ib', dir, String(batch), String(accum), '6'] })).map((s) => JSON.parse(s) as IbOut);
    const [summed] = await run(1, 16, 1);
    const [accum] = await run(1, 8, 2);
    const [a, b] = await run(2, 16, 1);
    expect([a.rank, b.rank, a.size, summed.size]).toEqual([0, 1, 2, 1]);
    expect(a.weights).toEqual(b.weights); // one mean applied everywhere
    expect(a.losses).toEqual(b.losses);
    expect(a.weights).toEqual(accum.weights); // bit for bit
    expect(a.losses).toEqual(accum.losses);
    // The batch mean is summed in another order, and that is all that differs: weights within a few
    // float32 ulps (|w| <= ~1), except the attention qkv biases. Their key third has an exactly zero
    // true gradient (softmax ignores a shift shared by all keys), so its computed gradient is rounding
    // noise, which AdamW normalises into steps of up to lr (3e-3) in either direction.
    const qkvBias = (k: string) => k.endsWith('qkv.bias');
    const worst = worstAbsolute(summed.weights, a.weights, (k) => !qkvBias(k));
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(1e-6);
    expect(worstAbsolute(summed.weights, a.weights, qkvBias)).toBeLessThan(6 * 3e-3);
    a.losses.forEach((l, i) => expect(Math.abs(l - summed.losses[i])).toBeLessThan(1e-5 * (1 + l)));
    expect(summed.losses.at(-1)!).toBeLessThan(summed.losses[0]);
    expect(a.tensors).toBe(accum.tensors);
    // a global batch that does not split over the replicas is refused with a typed error
    await expect(startReplicas(SCRIPT, 2, { args: ['stage-ib', dir, '9', '1', '1'] })).rejects.toThrow(/replica \d of 2 exited with \d+: .*9 rows does not split over 2 replicas/);
  }, 180_000);

  it('trainPipeline: 2 replicas train the models of 1 process (float32 rounding); only rank 0 writes', async () => {
    const data = join(tmp, 'images');
    writeClassFolder(data);
    const one = join(tmp, 'one');
    const two = join(tmp, 'two');
    const [single] = (await startReplicas(SCRIPT, 1, { args: ['pipeline', data, one] })).map((s) => JSON.parse(s));
    const outs = (await startReplicas(SCRIPT, 2, { args: ['pipeline', data, two] })).map((s) => JSON.parse(s));
    const stages = ['encoder', 'features', 'stage-ib', 'stage-ia', 'stage-ii', 'latents', 'tarflow'];
    expect(single.done).toEqual(stages);
    for (const o of outs) expect(o.done).toEqual(stages);
    expect(readdirSync(two).sort()).toEqual(readdirSync(one).sort());
    const worst: Record<string, number> = {};
    for (const folder of ['adapter', 'feature-decoder', 'pixel-decoder', 'tarflow']) {
      const file = readdirSync(join(one, folder)).find((f) => f.endsWith('.safetensors'))!;
      const [sa, sb] = await Promise.all([openSafetensorsFile(join(one, folder, file)), openSafetensorsFile(join(two, folder, file))]);
      try {
        let w = 0;
        for (const k of sa.keys().filter((name) => !name.endsWith('qkv.bias'))) {
          const [x, y] = [await sa.read(k), await sb.read(k)] as Float32Array[];
          x.forEach((v, i) => (w = Math.max(w, Math.abs(v - y[i]) / (1e-3 + Math.abs(v)))));
        }
        worst[folder] = w;
      } finally {
        await Promise.all([sa.close(), sb.close()]);
      }
    }
    // float32 rounding of the batch means through 4 + 4 + 2 + 4 AdamW steps (lr <= 1e-3; see the qkv
    // bias note above: the adapter's bias moves by rounding noise)
    for (const [folder, w] of Object.entries(worst)) expect(w, folder).toBeLessThan(1e-3);
  }, 300_000);
});
