import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFixture, ref64 } from '@fae/testing';
import { encodeSafetensors, parseSafetensors } from '@fae/core';
import { openWeights } from '@fae/eval';

const tensors = {
  'lin0.model.1.weight': { shape: [1, 4, 1, 1], data: Float32Array.from(ref64.randomNd([4], 1).data) },
  'features.0.bias': { shape: [3], data: Float32Array.from(ref64.randomNd([3], 2).data) },
};
const bytes = encodeSafetensors(tensors);
let server: Server;
let base = '';
let cache = '';
const hits: string[] = [];

beforeAll(async () => {
  cache = await mkdtemp(join(tmpdir(), 'fae-eval-hub-'));
  // serves /w.safetensors (with HTTP Range) and a hub layout /org/inception/resolve/main/w.safetensors
  server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url} ${req.headers.range ?? ''}`);
    if (!req.url?.endsWith('/w.safetensors')) {
      res.writeHead(404).end();
      return;
    }
    const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
    if (m) {
      const start = Number(m[1]);
      const end = m[2] ? Math.min(Number(m[2]), bytes.length - 1) : bytes.length - 1;
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${bytes.length}`, 'Content-Length': end - start + 1, 'Accept-Ranges': 'bytes' });
      res.end(Buffer.from(bytes.subarray(start, end + 1)));
    } else {
      res.writeHead(req.method === 'HEAD' ? 200 : 200, { 'Content-Length': bytes.length, 'Accept-Ranges': 'bytes' });
      res.end(req.method === 'HEAD' ? undefined : Buffer.from(bytes));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  if (cache) await rm(cache, { recursive: true, force: true });
});

async function expectSame(store: Awaited<ReturnType<typeof openWeights>>): Promise<void> {
  expect(store.keys().sort()).toEqual(Object.keys(tensors).sort());
  for (const [k, t] of Object.entries(tensors)) {
    expect(store.info(k)!.shape).toEqual(t.shape);
    expect(Array.from(await store.read(k) as Float32Array)).toEqual(Array.from(t.data));
  }
  await store.close?.();
}

describe('weights sources', () => {
  it('bytes and an http(s) URL (Range requests)', async () => {
    await expectSame(await openWeights(bytes));
    hits.length = 0;
    await expectSame(await openWeights(`${base}/w.safetensors`));
    expect(hits.some((h) => h.includes('bytes='))).toBe(true);
  });

  it('a hub location org/name/file through core hub loading (local endpoint, filesystem cache)', async () => {
    const store = await openWeights('org/inception/w.safetensors', { endpoint: base, cacheDir: cache });
    await expectSame(store);
    await expect(openWeights('org/inception/missing.safetensors', { endpoint: base, cacheDir: cache })).rejects.toThrow(/missing\.safetensors/);
  });
});

describeFixture('weights sources: torch.save checkpoints', ['generators', 'torch_checkpoint'], (dir) => {
  it('a .pt path goes through the weights-only reader; nested state dicts are found by a probe key', async () => {
    const expected = parseSafetensors(new Uint8Array(await readFile(join(dir, 'expected.safetensors'))));
    const all = await openWeights(join(dir, 'checkpoint.pt'));
    expect(all.keys().sort()).toEqual(expected.keys().sort());
    expect(Array.from(await all.read('model.w32') as Float32Array)).toEqual(Array.from(expected.readSync('model.w32') as Float32Array));
    const nested = await openWeights(join(dir, 'checkpoint.pt'), { probeKey: 'view_t' });
    expect(nested.keys()).toContain('view_t');
    expect(nested.keys()).not.toContain('ema.w32');
  });
});
