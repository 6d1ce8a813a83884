// A hostile HTTP server (node:http on 127.0.0.1): bodies cut short without Content-Length or ETag, bodies
// dripped one byte at a time, and orphan `.partial` files left by a killed downloader. Nothing
// unverified may reach the cache; every failure is a typed HubError; the next run cleans up.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '@fae/testing';
import { HubError, encodeSafetensors, fetchModelFile } from '@fae/core';

const WEIGHTS = encodeSafetensors({ w: { shape: [64], data: Float32Array.from({ length: 64 }, (_, i) => i) } });
const CONFIG = new TextEncoder().encode(JSON.stringify({ hidden: 8, layers: [1, 2, 3] }));

type Mode = 'whole-nolength' | 'cut-nolength' | 'drip';
let server: Server;
let base = '';
const modes = new Map<string, Mode>();
const bodies: Record<string, Uint8Array> = { 'model.safetensors': WEIGHTS, 'config.json': CONFIG, 'notes.txt': new TextEncoder().encode('hello') };

beforeAll(async () => {
  server = createServer((req, res) => {
    const file = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).split('/').pop()!;
    const body = bodies[file];
    if (!body) return void res.writeHead(404).end();
    const mode = modes.get(file) ?? 'whole-nolength';
    // No Content-Length (chunked), no ETag: the client cannot tell a short body from a whole one.
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') return void res.end();
    if (mode === 'whole-nolength') return void res.end(body);
    if (mode === 'cut-nolength') return void res.end(body.subarray(0, body.length - 7)); // a clean, short end
    let i = 0;
    const timer = setInterval(() => {
      if (i >= body.length || res.destroyed) {
        clearInterval(timer);
        return void res.end();
      }
      res.write(body.subarray(i, ++i));
    }, 100);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m/`;
});
afterAll(() => new Promise<void>((r) => {
  server.closeAllConnections();
  server.close(() => r());
}));

const tempDir = (tag: string) => mkdtemp(join(tmpdir(), `fae-hub-hostile-${tag}-`));
const allFiles = async (dir: string): Promise<string[]> => (await readdir(dir, { recursive: true })).map(String);

describe('hub: no unverified download reaches the cache', () => {
  it('a safetensors body cut short with no Content-Length and no ETag is refused (was cached as complete)', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('cut');
    modes.set('model.safetensors', 'cut-nolength');
    const err = await fetchModelFile(base, 'model.safetensors', { cacheDir, retries: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err.message).toMatch(/neither a size nor a hash, and the \d+ bytes received are not a whole safetensors file/);
    expect((await allFiles(cacheDir)).filter((f) => f.endsWith('model.safetensors') || f.endsWith('.partial'))).toEqual([]);
    // the same file sent whole (still without length or hash) is verified by its format and cached
    modes.set('model.safetensors', 'whole-nolength');
    const ok = await fetchModelFile(base, 'model.safetensors', { cacheDir });
    expect(ok.verified).toBe('format');
    expect(Array.from(await ok.bytes())).toEqual(Array.from(WEIGHTS));
    expect((await fetchModelFile(base, 'model.safetensors', { cacheDir })).fromCache).toBe(true);
  });

  it('JSON is verified by parsing; a file whose format cannot vouch for its length is refused unless its sha256 is given', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('fmt');
    modes.set('config.json', 'cut-nolength');
    const cut = await fetchModelFile(base, 'config.json', { cacheDir, retries: 0 }).catch((e) => e);
    expect(cut).toBeInstanceOf(HubError);
    expect(cut.message).toMatch(/not a whole json file/);
    modes.set('config.json', 'whole-nolength');
    expect((await fetchModelFile(base, 'config.json', { cacheDir })).verified).toBe('format');
    const txt = await fetchModelFile(base, 'notes.txt', { cacheDir }).catch((e) => e);
    expect(txt).toBeInstanceOf(HubError);
    expect(txt.message).toMatch(/cannot verify its own length: not caching an unverifiable download/);
    const { createHash } = await import('node:crypto');
    const sha = createHash('sha256').update(bodies['notes.txt']).digest('hex');
    const withSha = await fetchModelFile(base, 'notes.txt', { cacheDir, sha256: { 'notes.txt': sha } });
    expect(withSha.verified).toBe('sha256');
  });

  it('a server dripping one byte per 100 ms is ended by deadlineMs (the stall timeout never fires)', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('drip');
    modes.set('model.safetensors', 'drip');
    const t0 = Date.now();
    const err = await fetchModelFile(base, 'model.safetensors', { cacheDir, timeoutMs: 5000, deadlineMs: 1200, retries: 3 }).catch((e) => e);
    const ms = Date.now() - t0;
    expect(err).toBeInstanceOf(HubError);
    expect(err.message).toMatch(/exceeded the overall deadline of 1200 ms \(deadlineMs\) after \d+ bytes/);
    expect(ms).toBeLessThan(4000); // no retries after the deadline
    expect((await allFiles(cacheDir)).filter((f) => f.endsWith('.partial') || f.endsWith('model.safetensors'))).toEqual([]);
    modes.set('model.safetensors', 'whole-nolength');
  });
});

describe('hub: orphans of a killed downloader are removed on the next run', () => {
  it('.partial files whose writer process is gone are deleted; a live writer\'s partial is kept', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('orphan');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    expect(Number(dead)).toBeGreaterThan(0);
    // the cache folder of a URL source: find it by fetching once, then plant orphans beside the file
    const first = await fetchModelFile(base, 'config.json', { cacheDir });
    const dir = first.path!.slice(0, first.path!.lastIndexOf('/'));
    await mkdir(join(dir, '.fae-meta'), { recursive: true });
    await writeFile(join(dir, `model.safetensors.${dead}-abc123.partial`), new Uint8Array(10));
    await writeFile(join(dir, '.fae-meta', `model.safetensors.json.${dead}-def456.partial`), '{}');
    await writeFile(join(dir, `model.safetensors.${process.pid}-live99.partial`), new Uint8Array(3)); // this process: alive
    await fetchModelFile(base, 'model.safetensors', { cacheDir });
    const left = await allFiles(dir);
    expect(left.filter((f) => f.includes(`${dead}-`))).toEqual([]);
    expect(left).toContain(`model.safetensors.${process.pid}-live99.partial`);
  });
});
