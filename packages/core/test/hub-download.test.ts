// Hub loading against a real local HTTP server (node:http on 127.0.0.1, ephemeral port) serving a
// Hugging Face layout made on the fly from small safetensors: progress events and byte counts, cache
// hits without requests, offline mode, interrupted / stalled / corrupted transfers, corrupted cache
// entries, 404 and gated (401) errors, sharded weights, URL folders, local directories, a Cache-API store.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '@fae/testing';
import {
  HubError, Linear, encodeSafetensors, fetchModelFile, loadConfig, loadPreprocessorConfig, loadWeights, resolveModel,
  type DoneEvent, type FileProgressEvent, type ResolveOptions, type ProgressInfo, type ReadyEvent, type TensorStore, type TotalProgressEvent,
} from '@fae/core';

// ---------------------------------------------------------------------------------------------------
// The local hub. `.safetensors` files behave like LFS files: the resolve URL answers 302 with
// X-Linked-ETag (the sha256) and X-Linked-Size, pointing at /cdn/<sha256>. Faults can be armed per
// file for the next GET: cut the connection mid-body, corrupt one byte, or stall.
// ---------------------------------------------------------------------------------------------------
type Fault = 'cut' | 'corrupt' | 'stall';

interface Repo {
  files: Record<string, Uint8Array | string>;
  /** Requests without `Authorization: Bearer <token>` get 401. */
  token?: string;
}

interface HubServer {
  endpoint: string;
  /** Number of requests served (HEAD and GET, redirects included). */
  hits(): number;
  /** GET requests that delivered (or started to deliver) a file body, by file name. */
  bodies: Map<string, number>;
  /** Authorization headers seen. */
  auth: string[];
  /** Arms a fault for the next GET of a file's body. */
  fail(file: string, fault: Fault): void;
  /** Repos served, by 'org/name' and revision ('main' unless given as 'org/name@rev'). */
  repos: Map<string, Repo>;
  /** Plain folders served at /plain/<folder>/<file> (no sha256 headers, no redirects). */
  folders: Map<string, Record<string, Uint8Array>>;
  close(): Promise<void>;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const asBytes = (v: Uint8Array | string) => (typeof v === 'string' ? new TextEncoder().encode(v) : v);

async function startHubServer(): Promise<HubServer> {
  let count = 0;
  const repos = new Map<string, Repo>();
  const folders = new Map<string, Record<string, Uint8Array>>();
  const faults = new Map<string, Fault>();
  const bodies = new Map<string, number>();
  const auth: string[] = [];
  const blobs = new Map<string, { file: string; bytes: Uint8Array }>();

  const send = (req: IncomingMessage, res: ServerResponse, file: string, bytes: Uint8Array, headers: Record<string, string>) => {
    res.writeHead(200, { 'content-length': String(bytes.byteLength), 'content-type': 'application/octet-stream', ...headers });
    if (req.method === 'HEAD') return void res.end();
    bodies.set(file, (bodies.get(file) ?? 0) + 1);
    const fault = faults.get(file);
    faults.delete(file);
    const half = Math.floor(bytes.byteLength / 2);
    if (fault === 'cut') {
      res.write(bytes.subarray(0, half), () => setTimeout(() => res.socket?.destroy(), 20));
    } else if (fault === 'stall') {
      res.write(bytes.subarray(0, half)); // then nothing: the client's stall timeout must end it
    } else if (fault === 'corrupt') {
      const bad = bytes.slice();
      bad[half] ^= 0xff;
      res.end(bad);
    } else res.end(bytes);
  };

  const server: Server = createServer((req, res) => {
    count++;
    if (req.headers.authorization) auth.push(req.headers.authorization);
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn && blobs.has(cdn[1])) {
      const b = blobs.get(cdn[1])!;
      return send(req, res, b.file, b.bytes, { etag: `"${cdn[1]}"` });
    }
    const plain = /^\/plain\/([^/]+)\/(.+)$/.exec(path);
    if (plain && folders.get(plain[1])?.[plain[2]]) return send(req, res, plain[2], folders.get(plain[1])![plain[2]], {});
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const key = m ? (m[2] === 'main' ? m[1] : `${m[1]}@${m[2]}`) : '';
    const repo = repos.get(key);
    if (!m || !repo) {
      res.writeHead(404, { 'x-error-code': 'RepoNotFound' });
      return void res.end('Repository not found');
    }
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      res.writeHead(401, { 'x-error-code': 'GatedRepo', 'x-error-message': 'Access to this model is restricted' });
      return void res.end();
    }
    const file = m[3];
    const raw = repo.files[file];
    if (raw === undefined) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-error-message': 'Entry not found' });
      return void res.end();
    }
    const bytes = asBytes(raw);
    if (file.endsWith('.safetensors')) {
      const sha = sha256(bytes);
      blobs.set(sha, { file, bytes });
      res.writeHead(302, { location: `/cdn/${sha}`, 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(bytes.byteLength), 'content-length': '0' });
      return void res.end();
    }
    send(req, res, file, bytes, { etag: `W/"${sha256(bytes).slice(0, 40)}"` });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    hits: () => count,
    bodies,
    auth,
    fail: (file, fault) => void faults.set(file, fault),
    repos,
    folders,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

// ---------------------------------------------------------------------------------------------------
// Fixtures made on the fly
// ---------------------------------------------------------------------------------------------------
const W = Float32Array.from({ length: 12 }, (_, i) => (i - 5.5) / 7);
const B = Float32Array.from([0.25, -0.5, 1]);
const WEIGHTS = encodeSafetensors({ weight: { shape: [3, 4], data: W }, bias: { shape: [3], data: B } });
const SHARD1 = encodeSafetensors({ weight: { shape: [3, 4], data: W } });
const SHARD2 = encodeSafetensors({ bias: { shape: [3], data: B } });
const CONFIG = JSON.stringify({ model_type: 'tiny-linear', in_features: 4, out_features: 3 });
const PREPROC = JSON.stringify({ image_mean: [0.5, 0.5, 0.5], size: { height: 32, width: 32 } });
const INDEX = (hashes?: Record<string, string>) => JSON.stringify({
  metadata: { total_size: 60 },
  weight_map: { weight: 'model-00001-of-00002.safetensors', bias: 'model-00002-of-00002.safetensors' },
  ...(hashes ? { sha256: hashes } : {}),
});
const byteLen = (s: string | Uint8Array) => (typeof s === 'string' ? new TextEncoder().encode(s).byteLength : s.byteLength);

let hub: HubServer;
const dirs: string[] = [];
async function tempDir(tag: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `fae-hub-${tag}-`));
  dirs.push(d);
  return d;
}
/** Every file under a directory, relative. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name), `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  await walk(dir, '');
  return out.sort();
}

beforeAll(async () => {
  hub = await startHubServer();
  hub.repos.set('org/tiny', { files: { 'config.json': CONFIG, 'preprocessor_config.json': PREPROC, 'model.safetensors': WEIGHTS } });
  hub.repos.set('org/tiny@v2', { files: { 'config.json': JSON.stringify({ model_type: 'tiny-linear', revision: 'v2' }), 'model.safetensors': WEIGHTS } });
  hub.repos.set('org/sharded', { files: { 'config.json': CONFIG, 'model.safetensors.index.json': INDEX(), 'model-00001-of-00002.safetensors': SHARD1, 'model-00002-of-00002.safetensors': SHARD2 } });
  hub.repos.set('org/badindex', { files: { 'config.json': CONFIG, 'model.safetensors.index.json': INDEX({ 'model-00001-of-00002.safetensors': '0'.repeat(64) }), 'model-00001-of-00002.safetensors': SHARD1, 'model-00002-of-00002.safetensors': SHARD2 } });
  hub.repos.set('org/noweights', { files: { 'config.json': CONFIG } });
  hub.repos.set('org/gated', { files: { 'config.json': CONFIG, 'model.safetensors': WEIGHTS }, token: 'hf_good' });
  hub.folders.set('tiny', { 'config.json': new TextEncoder().encode(CONFIG), 'model.safetensors': WEIGHTS });
});
afterAll(async () => {
  await hub.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const opts = (cacheDir: string, extra: ResolveOptions = {}): ResolveOptions => ({ endpoint: hub.endpoint, cacheDir, retries: 0, timeoutMs: 5000, ...extra });

/** Loads the weights into a Linear(4, 3) and checks them against W and B. */
async function expectTinyWeights(store: TensorStore): Promise<void> {
  const lin = new Linear(4, 3);
  await lin.loadStateDict(store);
  const w = await lin.weight.data(); // ours: [in, out]
  for (let o = 0; o < 3; o++) for (let i = 0; i < 4; i++) expect(w[i * 3 + o]).toBe(W[o * 4 + i]);
  expect(Array.from(await lin.bias!.data())).toEqual(Array.from(B));
  lin.dispose();
  await store.close?.();
}

/** Checks the event stream: per file initiate -> (download -> progress* ->) done; consistent totals; ready last. */
function checkEvents(events: ProgressInfo[], sizes: Record<string, number>, downloaded: string[], prefetched: string[] = []): void {
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  const totals = events.filter((e): e is TotalProgressEvent => e.status === 'progress_total');
  expect(totals.length).toBeGreaterThan(0);
  let last = -1;
  for (const t of totals) {
    expect(t.total).toBe(total); // known before the first byte, constant
    expect(t.loaded).toBeGreaterThanOrEqual(last);
    last = t.loaded;
  }
  expect(totals.at(-1)!.loaded).toBe(total);
  expect(totals.at(-1)!.progress).toBe(100);
  const perFile = events.filter((e) => e.status !== 'progress_total' && e.status !== 'ready') as Array<Exclude<ProgressInfo, TotalProgressEvent | ReadyEvent>>;
  expect([...new Set(perFile.map((e) => e.file))]).toEqual(Object.keys(sizes));
  for (const [file, size] of Object.entries(sizes)) {
    const seq = perFile.filter((e) => e.file === file);
    expect(seq[0].status).toBe('initiate');
    const done = seq.at(-1) as DoneEvent;
    expect(done).toMatchObject({ status: 'done', loaded: size, total: size, progress: 100, cached: !downloaded.includes(file) && !prefetched.includes(file) });
    if (downloaded.includes(file)) {
      expect(seq[1].status).toBe('download');
      const prog = seq.slice(2, -1) as FileProgressEvent[];
      expect(prog.length).toBeGreaterThan(0);
      expect(prog.every((p) => p.status === 'progress' && p.total === size)).toBe(true);
      for (let i = 1; i < prog.length; i++) expect(prog[i].loaded).toBeGreaterThanOrEqual(prog[i - 1].loaded);
      expect(prog.at(-1)!.loaded).toBe(size);
    } else expect(seq.map((e) => e.status)).toEqual(['initiate', 'done']);
  }
  const ready = events.at(-1) as ReadyEvent;
  expect(ready.status).toBe('ready');
  expect(ready.files).toEqual(Object.keys(sizes));
}

const TINY_SIZES = { 'config.json': byteLen(CONFIG), 'preprocessor_config.json': byteLen(PREPROC), 'model.safetensors': WEIGHTS.byteLength };

// ---------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------
describe('hub loading from a local HTTP hub', () => {
  it('downloads config, preprocessor config and weights with progress events, then serves them from the cache', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('fresh');
    const events: ProgressInfo[] = [];
    const model = await resolveModel('org/tiny', opts(cacheDir, { onProgress: (e) => events.push(e) }));
    expect(model.config).toEqual(JSON.parse(CONFIG));
    expect(model.preprocessorConfig).toEqual(JSON.parse(PREPROC));
    checkEvents(events, TINY_SIZES, Object.keys(TINY_SIZES));
    const wf = model.weights!.files[0];
    expect(wf).toMatchObject({ file: 'model.safetensors', size: WEIGHTS.byteLength, sha256: sha256(WEIGHTS), fromCache: false, url: `${hub.endpoint}/org/tiny/resolve/main/model.safetensors` });
    expect(wf.path).toBe(join(cacheDir, 'org/tiny/main/model.safetensors'));
    expect(await listFiles(cacheDir)).toEqual([
      'org/tiny/main/.fae-meta/config.json.json', 'org/tiny/main/.fae-meta/model.safetensors.json', 'org/tiny/main/.fae-meta/preprocessor_config.json.json',
      'org/tiny/main/config.json', 'org/tiny/main/model.safetensors', 'org/tiny/main/preprocessor_config.json',
    ]);
    const meta = JSON.parse(await readFile(join(cacheDir, 'org/tiny/main/.fae-meta/model.safetensors.json'), 'utf8'));
    expect(meta).toMatchObject({ size: WEIGHTS.byteLength, sha256: sha256(WEIGHTS) });
    await expectTinyWeights(await loadWeights(model));

    const hits = hub.hits();
    const again: ProgressInfo[] = [];
    const cached = await resolveModel('org/tiny', opts(cacheDir, { onProgress: (e) => again.push(e) }));
    expect(hub.hits()).toBe(hits); // no request at all
    checkEvents(again, TINY_SIZES, []);
    expect(cached.weights!.files[0].fromCache).toBe(true);
    await expectTinyWeights(await loadWeights('org/tiny', opts(cacheDir)));
    expect(await loadConfig('org/tiny', opts(cacheDir))).toEqual(JSON.parse(CONFIG));
    expect(await loadPreprocessorConfig('org/tiny', opts(cacheDir))).toEqual(JSON.parse(PREPROC));
    expect(hub.hits()).toBe(hits);
  });

  it('offline mode uses only the cache and names the missing file (opts.offline and FAE_OFFLINE=1)', { timeout: 30_000 }, async () => {
    const empty = await tempDir('offline-empty');
    const hits = hub.hits();
    const e1 = await resolveModel('org/tiny', opts(empty, { offline: true })).catch((e) => e);
    expect(e1).toBeInstanceOf(HubError);
    expect(e1.message).toMatch(/org\/tiny: config\.json: offline mode and config\.json is not in the cache/);
    const warm = await tempDir('offline-warm');
    await resolveModel('org/tiny', opts(warm, { config: true, preprocessor: false, weights: false }));
    const before = hub.hits();
    process.env.FAE_OFFLINE = '1';
    try {
      expect(await loadConfig('org/tiny', opts(warm))).toEqual(JSON.parse(CONFIG));
      const e2 = await loadWeights('org/tiny', opts(warm)).catch((e) => e);
      expect(e2).toBeInstanceOf(HubError);
      expect(e2.message).toContain('model.safetensors');
      expect(e2.message).toContain('offline');
    } finally {
      delete process.env.FAE_OFFLINE;
    }
    expect(hub.hits()).toBe(before);
    expect(before - hits).toBeGreaterThan(0);
  });

  it('an interrupted download leaves nothing cached; the next call downloads it whole', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('cut');
    hub.fail('model.safetensors', 'cut');
    const err = await resolveModel('org/tiny', opts(cacheDir)).catch((e) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err.message).toMatch(/model\.safetensors: download interrupted after \d+ of (\d+) bytes/);
    expect(Number(/of (\d+) bytes/.exec(err.message)![1])).toBe(WEIGHTS.byteLength);
    const files = await listFiles(cacheDir);
    expect(files.filter((f) => f.includes('model.safetensors'))).toEqual([]); // no file, no record, no .partial
    expect(files.some((f) => f.endsWith('.partial'))).toBe(false);
    const bodies = hub.bodies.get('model.safetensors') ?? 0;
    const model = await resolveModel('org/tiny', opts(cacheDir));
    expect(hub.bodies.get('model.safetensors')).toBe(bodies + 1);
    expect(model.weights!.files[0].fromCache).toBe(false);
    await expectTinyWeights(await loadWeights(model));
  });

  it('retries by itself after an interruption or a corrupted transfer (sha256 from X-Linked-ETag)', { timeout: 30_000 }, async () => {
    for (const fault of ['cut', 'corrupt'] as const) {
      const cacheDir = await tempDir(`retry-${fault}`);
      hub.fail('model.safetensors', fault);
      const bodies = hub.bodies.get('model.safetensors') ?? 0;
      const events: ProgressInfo[] = [];
      const model = await resolveModel('org/tiny', opts(cacheDir, { retries: 2, onProgress: (e) => events.push(e) }));
      expect(hub.bodies.get('model.safetensors')).toBe(bodies + 2);
      checkEvents(events, TINY_SIZES, Object.keys(TINY_SIZES)); // progress stays monotonic across the retry
      await expectTinyWeights(await loadWeights(model));
    }
    const cacheDir = await tempDir('corrupt-noretry');
    hub.fail('model.safetensors', 'corrupt');
    const err = await resolveModel('org/tiny', opts(cacheDir)).catch((e) => e);
    expect(err.message).toMatch(/model\.safetensors: integrity check failed: sha256 of the download is [0-9a-f]{64}, expected [0-9a-f]{64}/);
    expect((await listFiles(cacheDir)).filter((f) => f.includes('model.safetensors'))).toEqual([]);
  });

  it('a stalled transfer ends with a HubError after timeoutMs', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('stall');
    hub.fail('model.safetensors', 'stall');
    const t0 = Date.now();
    const err = await resolveModel('org/tiny', opts(cacheDir, { timeoutMs: 300 })).catch((e) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err.message).toMatch(/model\.safetensors: download stalled: no data for 300 ms/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await listFiles(cacheDir)).some((f) => f.endsWith('.partial'))).toBe(false);
  });

  it('detects a corrupted or truncated cache entry and downloads it again', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('corrupt-cache');
    await resolveModel('org/tiny', opts(cacheDir));
    const path = join(cacheDir, 'org/tiny/main/model.safetensors');
    for (const damage of ['flip', 'truncate'] as const) {
      const good = await readFile(path);
      const bad = damage === 'flip' ? Uint8Array.from(good, (b, i) => (i === good.length - 3 ? b ^ 1 : b)) : good.subarray(0, 100);
      await writeFile(path, bad);
      const bodies = hub.bodies.get('model.safetensors') ?? 0;
      const events: ProgressInfo[] = [];
      const model = await resolveModel('org/tiny', opts(cacheDir, { onProgress: (e) => events.push(e) }));
      expect(hub.bodies.get('model.safetensors')).toBe(bodies + 1);
      expect(events.find((e) => e.status === 'download')).toMatchObject({ file: 'model.safetensors', reason: 'corrupt-cache' });
      expect(sha256(await readFile(path))).toBe(sha256(WEIGHTS));
      await expectTinyWeights(await loadWeights(model));
    }
  });

  it('404: the error names the repo, the revision and the file; a repo without weights names both weight files', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('404');
    const e1 = await fetchModelFile('org/tiny', 'missing.bin', opts(cacheDir)).catch((e) => e);
    expect(e1).toBeInstanceOf(HubError);
    expect(e1.status).toBe(404);
    expect(e1.message).toContain('org/tiny: missing.bin: not found (HTTP 404)');
    expect(e1.message).toContain('/org/tiny/resolve/main/missing.bin');
    expect(e1.message).toContain('EntryNotFound');
    const e2 = await resolveModel('org/noweights', opts(cacheDir)).catch((e) => e);
    expect(e2.message).toMatch(/no weights: neither model\.safetensors .* nor model\.safetensors\.index\.json/);
    const e3 = await loadConfig('org/absent', opts(cacheDir)).catch((e) => e);
    expect(e3.message).toContain('org/absent: config.json: not found (HTTP 404)');
    expect(e3.message).toContain('RepoNotFound');
  });

  it('401: explains gated repos and tokens; with a token the files load (and the token stays on the hub origin)', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('gated');
    const saved = process.env.HF_TOKEN;
    delete process.env.HF_TOKEN;
    try {
      const e = await resolveModel('org/gated', opts(cacheDir)).catch((x) => x);
      expect(e).toBeInstanceOf(HubError);
      expect(e.status).toBe(401);
      expect(e.message).toMatch(/gated or private/);
      expect(e.message).toMatch(/HF_TOKEN/);
      expect(e.message).toContain('no token was sent');
      process.env.HF_TOKEN = 'hf_good';
      hub.auth.length = 0;
      await expectTinyWeights(await loadWeights('org/gated', opts(cacheDir)));
      expect(hub.auth.length).toBeGreaterThan(0);
      expect(hub.auth.every((a) => a === 'Bearer hf_good')).toBe(true);
      const bad = await loadConfig('org/gated', opts(await tempDir('gated2'), { token: 'hf_bad' })).catch((x) => x);
      expect(bad.message).toContain('the token that was sent was refused');
    } finally {
      if (saved === undefined) delete process.env.HF_TOKEN; else process.env.HF_TOKEN = saved;
    }
  });

  it('sharded weights: index + shards, one total up front, one TensorStore; index sha256 entries are enforced', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('sharded');
    const events: ProgressInfo[] = [];
    const model = await resolveModel('org/sharded', opts(cacheDir, { onProgress: (e) => events.push(e) }));
    const sizes = {
      'config.json': byteLen(CONFIG), 'model.safetensors.index.json': byteLen(INDEX()),
      'model-00001-of-00002.safetensors': SHARD1.byteLength, 'model-00002-of-00002.safetensors': SHARD2.byteLength,
    };
    // The index is fetched while planning, so the shards' sizes are known before any progress; it then
    // reports initiate -> done (cached: false) without download/progress events of its own.
    checkEvents(events, sizes, ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'], ['model.safetensors.index.json']);
    expect(model.weights!.shardIndex!.weightMap.get('bias')).toBe('model-00002-of-00002.safetensors');
    const store = await loadWeights(model);
    expect(store.keys().sort()).toEqual(['bias', 'weight']);
    await expectTinyWeights(store);
    const hits = hub.hits();
    await expectTinyWeights(await loadWeights('org/sharded', opts(cacheDir)));
    expect(hub.hits()).toBe(hits);
    const err = await loadWeights('org/badindex', opts(await tempDir('badindex'))).catch((e) => e);
    expect(err.message).toMatch(/model-00001-of-00002\.safetensors: integrity check failed: .* expected 0{64}/);
  });

  it('revisions: org/name@rev resolves /resolve/<rev>/ and caches apart from main', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('rev');
    expect(await loadConfig('org/tiny@v2', opts(cacheDir))).toMatchObject({ revision: 'v2' });
    expect(await loadConfig('org/tiny', opts(cacheDir, { revision: 'v2' }))).toMatchObject({ revision: 'v2' });
    expect(await loadConfig('org/tiny', opts(cacheDir))).not.toHaveProperty('revision');
    expect((await listFiles(cacheDir)).filter((f) => f.endsWith('/config.json'))).toEqual(['org/tiny/main/config.json', 'org/tiny/v2/config.json']);
  });

  it('a URL folder and a local directory resolve too (local files are used in place)', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('url');
    const m = await resolveModel(`${hub.endpoint}/plain/tiny/`, opts(cacheDir));
    expect(m.config).toEqual(JSON.parse(CONFIG));
    expect(m.preprocessorConfig).toBeNull();
    expect(m.weights!.files[0].path).toBe(join(cacheDir, `url/127.0.0.1_${new URL(hub.endpoint).port}/plain/tiny/model.safetensors`));
    await expectTinyWeights(await loadWeights(m));
    const local = await tempDir('local');
    await writeFile(join(local, 'config.json'), CONFIG);
    await writeFile(join(local, 'model.safetensors'), WEIGHTS);
    const events: ProgressInfo[] = [];
    const lm = await resolveModel(local, { cacheDir, onProgress: (e) => events.push(e) });
    expect(lm.weights!.files[0]).toMatchObject({ path: join(local, 'model.safetensors'), fromCache: true, url: null });
    checkEvents(events, { 'config.json': byteLen(CONFIG), 'model.safetensors': WEIGHTS.byteLength }, []);
    await expectTinyWeights(await loadWeights(local));
    const e = await loadConfig(join(local, 'nope'), {}).catch((x) => x);
    expect(e.message).toContain('does not exist');
  });

  it('concurrent requests for one file share a single download', { timeout: 30_000 }, async () => {
    const cacheDir = await tempDir('dedup');
    const bodies = hub.bodies.get('model.safetensors') ?? 0;
    const [a, b] = await Promise.all([0, 1].map(() => fetchModelFile('org/tiny', 'model.safetensors', opts(cacheDir))));
    expect(hub.bodies.get('model.safetensors')).toBe(bodies + 1);
    expect(a.path).toBe(b.path);
    expect([a.fromCache, b.fromCache].sort()).toEqual([false, true]);
    expect(sha256(await a.bytes())).toBe(sha256(WEIGHTS));
  });

  it('the Cache API path (a Web-Cache-like store): cached bytes, no requests the second time, corruption detected', { timeout: 30_000 }, async () => {
    const entries = new Map<string, { body: Uint8Array; headers: Headers }>();
    const webCache = {
      async match(key: string) {
        const e = entries.get(key);
        return e ? new Response(e.body.slice(), { headers: e.headers }) : undefined;
      },
      async put(key: string, res: Response) {
        entries.set(key, { body: new Uint8Array(await res.arrayBuffer()), headers: new Headers(res.headers) });
      },
      async delete(key: string) {
        return entries.delete(key);
      },
    };
    const o = { endpoint: hub.endpoint, cache: webCache, retries: 0 };
    const first = await resolveModel('org/tiny', o);
    expect(first.weights!.files[0].path).toBeNull();
    expect([...entries.keys()].sort()).toEqual(['config.json', 'model.safetensors', 'preprocessor_config.json'].map((f) => `${hub.endpoint}/org/tiny/resolve/main/${f}`));
    const hits = hub.hits();
    await expectTinyWeights(await loadWeights('org/tiny', o));
    expect(hub.hits()).toBe(hits);
    const key = `${hub.endpoint}/org/tiny/resolve/main/model.safetensors`;
    entries.get(key)!.body[50] ^= 0xff;
    const bodies = hub.bodies.get('model.safetensors') ?? 0;
    await expectTinyWeights(await loadWeights('org/tiny', o));
    expect(hub.bodies.get('model.safetensors')).toBe(bodies + 1);
  });
});
