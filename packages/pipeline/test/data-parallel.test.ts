// Data-parallel training with real processes: 2 wasm replicas (each half of the batch, gradients
// averaged through the parent every step) end with the weights of 1 replica on the whole batch, to
// float32 rounding, and stay bit-identical to each other. The replicas load the built packages (dist):
// `npx turbo run build --filter=@fae/pipeline` first (turbo's test task does).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DataParallelError, replicaInfo, startReplicas } from '../src/train/data-parallel.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/dp-replica.mjs', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/node/index.js', import.meta.url)));

interface ReplicaOut {
  rank: number;
  size: number;
  backend: string;
  losses: number[];
  weights: Record<string, number[]>;
  tensors: number;
}

describe('data-parallel replicas', () => {
  it.skipIf(!built && process.env.CI !== 'true')('2 replicas x batch 8 == 1 replica x batch 16 (float32), replicas identical (skipped outside CI until `npm run build` has made the dist/ the replica processes import)', async () => {
    const run = async (n: number) => (await startReplicas(SCRIPT, n, { args: ['16', '6', '0.5'] })).map((s) => JSON.parse(s) as ReplicaOut);
    const [one] = await run(1);
    const [a, b] = await run(2);
    expect(one.backend).toBe('wasm');
    expect([a.rank, b.rank, a.size]).toEqual([0, 1, 2]);
    expect(a.weights).toEqual(b.weights); // the same mean applied everywhere: bit-identical replicas
    expect(a.tensors).toBe(b.tensors);
    let worst = 0;
    let moved = 0;
    for (const k of Object.keys(one.weights)) {
      one.weights[k].forEach((w, i) => {
        worst = Math.max(worst, Math.abs(w - a.weights[k][i]) / (1e-3 + Math.abs(w)));
        moved = Math.max(moved, Math.abs(w));
      });
    }
    expect(worst).toBeLessThan(2e-4);
    expect(moved).toBeGreaterThan(0);
    one.losses.forEach((l, i) => expect(Math.abs(l - a.losses[i])).toBeLessThan(1e-5 * (1 + l)));
    expect(one.losses.at(-1)!).toBeLessThan(one.losses[0]); // it trains
  }, 120_000);

  it('a failing replica fails the group with a typed error; bad rank/size are refused', async () => {
    await expect(startReplicas(SCRIPT, 2, { args: ['15', '2', '0'] })).rejects.toThrow(DataParallelError);
    await expect(startReplicas(SCRIPT, 2, { args: ['15', '2', '0'] })).rejects.toThrow(/replica \d of 2 exited with \d+: .*does not split over 2 replicas/);
    expect(() => replicaInfo({ FAE_DP_RANK: '2', FAE_DP_SIZE: '2' })).toThrow(/0 <= rank < size/);
    expect(replicaInfo({})).toEqual({ rank: 0, size: 1 });
  }, 60_000);
});
