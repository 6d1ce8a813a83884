// FaePipeline.load over http(s): the shipped digits checkpoints served by a local HTTP server load
// as from the folder (no pipeline.json there: the optional file's 404 is not an error) and generate
// the same samples; a missing component is a typed error naming the URL.
import * as tf from '@tensorflow/tfjs-core';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, normalize, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IN_CI } from '@fae/testing';
import { FaePipeline } from '@fae/pipeline';

const SHIPPED = resolve(__dirname, '../../../examples/cli/checkpoints');
const present = existsSync(join(SHIPPED, 'dit', 'model.safetensors'));
if (!present && IN_CI) throw new Error(`${SHIPPED} is missing (the shipped checkpoints must be in CI)`);

describe.skipIf(!present)('FaePipeline.load from an http URL (skipped where examples/cli/checkpoints is absent; fails in CI)', () => {
  let server: Server;
  let base = '';
  const requests: string[] = [];
  beforeAll(async () => {
    await tf.setBackend('cpu');
    server = createServer((req, res) => {
      const url = decodeURIComponent((req.url ?? '').split('?')[0]);
      requests.push(`${req.method} ${url}`);
      const file = normalize(join(SHIPPED, url));
      if (!file.startsWith(SHIPPED) || !existsSync(file) || !statSync(file).isFile()) {
        res.statusCode = 404;
        res.end('not found');
        return;
      }
      res.setHeader('Content-Length', statSync(file).size);
      res.end(req.method === 'HEAD' ? undefined : readFileSync(file));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('loads the folder layout over http and samples as from disk', async () => {
    const opts = { parts: ['adapter', 'featureDecoder', 'pixelDecoder', 'generators'] as const, generators: ['dit'], cache: false as const };
    const [remote, local] = [await FaePipeline.load(base, { ...opts, parts: [...opts.parts] }), await FaePipeline.load(SHIPPED, { ...opts, parts: [...opts.parts] })];
    try {
      expect(remote.latentStats).toEqual(local.latentStats);
      const [a, b] = [await remote.generate({ labels: [4], seed: 3, steps: 3 }), await local.generate({ labels: [4], seed: 3, steps: 3 })];
      expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
      tf.dispose([a, b]);
      expect(requests.some((r) => r.endsWith('/pipeline.json'))).toBe(true);
      expect(requests.some((r) => r.endsWith('/dit/model.safetensors'))).toBe(true);
    } finally {
      remote.dispose();
      local.dispose();
    }
    await expect(FaePipeline.load(`${base}/dit`, { cache: false })).rejects.toThrow(/adapter\/config\.json/);
  });
});
