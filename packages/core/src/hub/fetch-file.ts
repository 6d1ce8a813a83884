// One file of a model: from a local directory, from the cache, or downloaded into the cache with
// progress events, byte-count and sha256 checks, retries and a stall timeout. Concurrent requests for
// the same file in one process share one download.
import { ConfigError, HubError } from '../errors.js';
import { selectCache, type CacheChoice, type CachedFile, type HubCache } from './cache.js';
import { createSha256 } from './hash.js';
import { FORMAT_VERIFIABLE, verifyDownloadedFormat, type DownloadVerification } from './verify.js';
import { fatalHubError, request, withRetries, type HttpOptions } from './http.js';
import { ProgressTracker, type ProgressCallback } from './progress.js';
import { envVar, isNode } from './env.js';
import { modelCacheSubdir, checkModelFileName, modelFileUrl, parseSource, type ModelSource, type SourceOptions } from './source.js';

export interface HubOptions extends SourceOptions {
  /** Hub token (default env HF_TOKEN); sent to the hub endpoint only, or to a URL source when given here. */
  token?: string;
  /** Filesystem cache directory (Node); default `${FAE_CACHE_DIR}/hub` (env), else ~/.cache/fae/hub. */
  cacheDir?: string;
  /** 'auto' (filesystem in Node, Cache API in browsers), 'fs', 'browser', false (no cache), or a cache object. */
  cache?: CacheChoice;
  /** Use only the cache; a missing file is a HubError (default env FAE_OFFLINE=1). */
  offline?: boolean;
  onProgress?: ProgressCallback;
  /** Re-hash cached files against their recorded sha256 before use (default true). */
  verifyCache?: boolean;
  /** Retries after a failed or interrupted download (default 2). */
  retries?: number;
  /** Give up on a transfer that receives nothing for this long, in ms (default 30000). */
  timeoutMs?: number;
  /**
   * Overall deadline of one file's download, retries included, in ms (default none). Unlike timeoutMs
   * (a stall), this also ends a server that drips bytes slowly forever.
   */
  deadlineMs?: number;
  /** Expected sha256 of files, by file name (checked in addition to what the server says). */
  sha256?: Record<string, string>;
  fetch?: typeof fetch;
}

/** A file ready to read. */
export interface ResolvedFile {
  file: string;
  /** Local path (a local source, or the filesystem cache), else null. */
  path: string | null;
  /** Where it was (or would be) downloaded from; null for local sources. */
  url: string | null;
  size: number;
  sha256: string | null;
  /** True when no download happened (cache hit or local directory). */
  fromCache: boolean;
  /**
   * For a download: how it was verified before it was cached: the sha256 (server's or opts.sha256), the
   * announced size only, or (when the server gave neither) by parsing the file as its format.
   */
  verified?: DownloadVerification;
  /** The file's bytes (reads the file for paths). */
  bytes(): Promise<Uint8Array>;
}

/** Per-call state shared by the files of one model. */
export interface HubContext {
  source: ModelSource;
  cache: HubCache;
  tracker: ProgressTracker;
  offline: boolean;
  verifyCache: boolean;
  retries: number;
  /** Overall deadline of one file's download in ms (null: none). */
  deadlineMs: number | null;
  http: Omit<HttpOptions, 'what'>;
  expectedSha: Record<string, string>;
}

async function nodeImport<T>(name: string): Promise<T> {
  return import(/* @vite-ignore */ name) as Promise<T>;
}
type Fs = typeof import('node:fs/promises');

export async function isLocalDir(p: string): Promise<boolean> {
  if (!isNode) return false;
  const fs = await nodeImport<Fs>('node:fs/promises');
  return fs.stat(p).then((s) => s.isDirectory(), () => false);
}

export async function defaultHubCacheDir(): Promise<string> {
  const env = envVar('FAE_CACHE_DIR');
  if (env) return `${env.replace(/\/+$/, '')}/hub`;
  const os = await nodeImport<typeof import('node:os')>('node:os');
  return `${os.homedir()}/.cache/fae/hub`;
}

/** Builds the context of one call: parsed source, cache, tracker, token. */
export async function createHubContext(source: string | ModelSource, opts: HubOptions = {}): Promise<HubContext> {
  let src: ModelSource;
  if (typeof source === 'string') {
    const exists = await isLocalDir(source);
    src = parseSource(source, opts, () => exists);
  } else src = source;
  if (src.kind === 'local' && !isNode) throw new ConfigError(src.name, 'local directories can be read only in Node; in a browser, use a URL or a hub id');
  const offlineEnv = envVar('FAE_OFFLINE');
  const offline = opts.offline ?? (offlineEnv === '1' || offlineEnv === 'true');
  const token = opts.token ?? (src.kind === 'hub' ? envVar('HF_TOKEN') ?? envVar('HUGGING_FACE_HUB_TOKEN') : undefined);
  const needsDir = isNode && (opts.cache === undefined || opts.cache === 'auto' || opts.cache === 'fs');
  const cache = selectCache(opts.cache, needsDir ? opts.cacheDir ?? (await defaultHubCacheDir()) : opts.cacheDir);
  const retries = opts.retries ?? 2;
  if (!Number.isInteger(retries) || retries < 0) throw new ConfigError('retries', `must be an integer >= 0, got ${retries}`);
  if (opts.deadlineMs !== undefined && !(opts.deadlineMs > 0)) throw new ConfigError('deadlineMs', `must be > 0, got ${opts.deadlineMs}`);
  return {
    source: src,
    cache,
    tracker: new ProgressTracker(src.name, opts.onProgress),
    offline,
    verifyCache: opts.verifyCache ?? true,
    retries,
    deadlineMs: opts.deadlineMs ?? null,
    http: { fetch: opts.fetch, token, timeoutMs: opts.timeoutMs ?? 30_000 },
    expectedSha: Object.fromEntries(Object.entries(opts.sha256 ?? {}).map(([k, v]) => [k, v.toLowerCase()])),
  };
}

const what = (ctx: HubContext, file: string) => `${ctx.source.name}: ${file}`;

/** What is known about a file before fetching it. */
export type Located =
  | { state: 'local'; path: string; size: number }
  | { state: 'cached'; entry: CachedFile; repaired: boolean }
  | { state: 'remote'; url: string; size: number | null; sha256: string | null; repaired: boolean }
  | { state: 'missing'; why: string; corrupt?: boolean };

/**
 * Finds a file without downloading it: stat in a local dir, a verified cache lookup, else (online and
 * unless `network: false`) a HEAD request for its size and sha256. 404 and offline misses give
 * `missing`; other errors throw. `repaired` marks a file whose corrupt cache entry was already removed.
 */
export async function locateModelFile(ctx: HubContext, file: string, opts: { network?: boolean; repaired?: boolean } = {}): Promise<Located> {
  checkModelFileName(file);
  const src = ctx.source;
  if (src.kind === 'local') {
    const fs = await nodeImport<Fs>('node:fs/promises');
    const path = `${src.dir}/${file}`;
    const st = await fs.stat(path).catch(() => null);
    return st?.isFile() ? { state: 'local', path, size: st.size } : { state: 'missing', why: `${path} does not exist` };
  }
  const url = modelFileUrl(src, file);
  const found = await ctx.cache.lookup(modelCacheSubdir(src), file, url, ctx.verifyCache);
  if ('hit' in found) return { state: 'cached', entry: found.hit, repaired: false };
  const repaired = found.miss === 'corrupt' || !!opts.repaired;
  if (opts.network === false) return { state: 'missing', why: `${file} is not in the cache`, corrupt: repaired };
  if (ctx.offline) return { state: 'missing', why: `offline mode and ${file} is not in the cache (${ctx.cache.location})${repaired ? `: the cached copy was corrupt (${found.detail}) and was removed` : ''}` };
  try {
    const info = await withRetries(ctx.retries, () => request(url, 'HEAD', { ...ctx.http, what: what(ctx, file) }));
    await info.response.body?.cancel().catch(() => undefined);
    return { state: 'remote', url, size: info.size, sha256: info.sha256, repaired };
  } catch (e) {
    if (e instanceof HubError && e.status === 404) return { state: 'missing', why: e.message.slice(e.resource.length + 2) };
    if (e instanceof HubError && e.status === 405) return { state: 'remote', url, size: null, sha256: null, repaired };
    throw e;
  }
}

const inflight = new Map<string, Promise<ResolvedFile>>();

/**
 * Delivers `file`, emitting initiate -> (download -> progress* ->) done. `known` (from locateModelFile) saves a
 * second lookup. Throws HubError naming the file when it is missing or cannot be downloaded.
 */
export async function obtainModelFile(ctx: HubContext, file: string, known?: Located): Promise<ResolvedFile> {
  const loc = known ?? (await locateModelFile(ctx, file));
  const t = ctx.tracker;
  t.initiate(file);
  if (loc.state === 'missing') throw fatalHubError(what(ctx, file), loc.why, ctx.offline ? undefined : 404);
  if (loc.state === 'local') {
    t.plan(file, loc.size);
    t.done(file, loc.size, true);
    return fileAt(file, loc.path, null, loc.size, null, true);
  }
  if (loc.state === 'cached') {
    t.plan(file, loc.entry.size);
    t.done(file, loc.entry.size, true);
    return fromEntry(file, modelFileUrl(ctx.source, file), loc.entry, true);
  }
  const subdir = modelCacheSubdir(ctx.source);
  const key = `${ctx.cache.location}|${subdir}|${file}`;
  const shared = inflight.get(key);
  if (shared) {
    const f = await shared; // another call is downloading this very file: wait for it
    t.plan(file, f.size);
    t.done(file, f.size, true);
    return { ...f, fromCache: true };
  }
  const p = (async () => {
    // A concurrent call may have finished this file since we located it (a stat, no re-hash).
    const again = await ctx.cache.lookup(subdir, file, loc.url, false);
    if ('hit' in again) {
      t.plan(file, again.hit.size);
      t.done(file, again.hit.size, true);
      return fromEntry(file, loc.url, again.hit, true);
    }
    return download(ctx, file, loc);
  })().finally(() => inflight.delete(key));
  inflight.set(key, p);
  return p;
}

async function download(ctx: HubContext, file: string, loc: Extract<Located, { state: 'remote' }>): Promise<ResolvedFile> {
  const t = ctx.tracker;
  t.plan(file, loc.size);
  t.download(file, loc.repaired ? 'corrupt-cache' : 'not-cached');
  const subdir = modelCacheSubdir(ctx.source);
  // Progress never goes backwards: a retry restarts from byte 0 but reports only past the best so far.
  let reported = -1;
  const report = (loaded: number, total: number | null) => {
    if (loaded > reported) t.progress(file, (reported = loaded), total);
  };
  const deadlineAt = ctx.deadlineMs === null ? null : Date.now() + ctx.deadlineMs;
  const overdueError = (loaded: number, cause?: unknown) => fatalHubError(what(ctx, file), `download exceeded the overall deadline of ${ctx.deadlineMs} ms (deadlineMs) after ${loaded} bytes`, undefined, cause);
  let verified: DownloadVerification = 'format';
  const entry = await withRetries(ctx.retries, async () => {
    if (deadlineAt !== null && Date.now() >= deadlineAt) throw overdueError(0);
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
    let stalled = false;
    let overdue = false;
    if (deadlineAt !== null) {
      deadlineTimer = setTimeout(() => {
        overdue = true;
        controller.abort();
      }, Math.max(0, deadlineAt - Date.now()));
    }
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = true;
        controller.abort();
      }, ctx.http.timeoutMs);
    };
    arm();
    const writer = await ctx.cache.begin(subdir, file, loc.url);
    let loaded = 0;
    try {
      const info = await request(loc.url, 'GET', { ...ctx.http, what: what(ctx, file) }, controller.signal);
      const total = info.size ?? loc.size;
      const expected = ctx.expectedSha[file] ?? info.sha256 ?? loc.sha256;
      const hasher = await createSha256();
      const reader = info.response.body!.getReader();
      report(0, total);
      for (;;) {
        arm();
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (overdue) throw overdueError(loaded, e);
          throw new HubError(what(ctx, file), stalled ? `download stalled: no data for ${ctx.http.timeoutMs} ms after ${loaded} bytes` : `download interrupted after ${loaded}${total !== null ? ` of ${total}` : ''} bytes: ${(e as Error).message}`, undefined, e);
        }
        if (chunk.done) break;
        const bytes = chunk.value;
        loaded += bytes.byteLength;
        if (total !== null && loaded > total) {
          await reader.cancel().catch(() => undefined);
          throw new HubError(what(ctx, file), `server sent more than the announced ${total} bytes`);
        }
        hasher.update(bytes);
        await writer.write(bytes);
        report(loaded, total);
      }
      if (total !== null && loaded !== total) throw new HubError(what(ctx, file), `download incomplete: got ${loaded} of ${total} bytes`);
      const sha256 = await hasher.digest();
      if (expected && sha256 !== expected) throw new HubError(what(ctx, file), `integrity check failed: sha256 of the download is ${sha256}, expected ${expected}`);
      verified = expected ? 'sha256' : total !== null ? 'size' : 'format';
      if (verified === 'format') {
        // Neither a size nor a hash came with the file: a body cut short would look complete. Only a
        // file whose format pins its own length is accepted, after parsing it whole.
        if (!FORMAT_VERIFIABLE.test(file) || !writer.readBack) {
          throw fatalHubError(what(ctx, file), `the server sent no Content-Length, no ETag/X-Linked-ETag sha256 and no size, and this file's format cannot verify its own length: not caching an unverifiable download (pass opts.sha256 { '${file}': '<hex>' })`);
        }
        const back = await writer.readBack();
        try {
          await verifyDownloadedFormat(file, back);
        } catch (e) {
          throw new HubError(what(ctx, file), `the server sent neither a size nor a hash, and the ${loaded} bytes received are not a whole ${file.slice(file.lastIndexOf('.') + 1)} file (a transfer cut short?): ${(e as Error).message}`, undefined, e);
        } finally {
          await back.close?.();
        }
      }
      return await writer.commit({ url: loc.url, size: loaded, sha256, etag: info.etag, downloadedAt: new Date().toISOString() });
    } catch (e) {
      await writer.abort();
      if (overdue) throw e instanceof HubError && e.message.includes('deadlineMs') ? e : overdueError(loaded, e);
      if (stalled) throw new HubError(what(ctx, file), `download stalled: no data for ${ctx.http.timeoutMs} ms after ${loaded} bytes`, undefined, e);
      throw e;
    } finally {
      clearTimeout(timer);
      clearTimeout(deadlineTimer);
    }
  });
  t.done(file, entry.size, false);
  return { ...fromEntry(file, loc.url, entry, false), verified };
}

function fileAt(file: string, path: string, url: string | null, size: number, sha256: string | null, fromCache: boolean): ResolvedFile {
  return {
    file, path, url, size, sha256, fromCache,
    async bytes() {
      const fs = await nodeImport<Fs>('node:fs/promises');
      const b = await fs.readFile(path);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },
  };
}

function fromEntry(file: string, url: string, e: CachedFile, fromCache: boolean): ResolvedFile {
  if (e.path) return fileAt(file, e.path, url, e.size, e.sha256, fromCache);
  const bytes = e.bytes!;
  return { file, path: null, url, size: e.size, sha256: e.sha256, fromCache, bytes: async () => bytes };
}

/**
 * Fetches one file of a model into the cache (or finds it there / in a local directory) and returns
 * where it is: a local path in Node, bytes in memory elsewhere.
 */
export async function fetchModelFile(source: string, file: string, opts: HubOptions = {}): Promise<ResolvedFile> {
  const ctx = await createHubContext(source, opts);
  const loc = await locateModelFile(ctx, file);
  if (loc.state === 'local') ctx.tracker.plan(file, loc.size);
  else if (loc.state === 'cached') ctx.tracker.plan(file, loc.entry.size);
  else if (loc.state === 'remote') ctx.tracker.plan(file, loc.size);
  return obtainModelFile(ctx, file, loc);
}
