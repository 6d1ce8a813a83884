// The download cache. A file counts as cached only once it was received whole and verified: bytes go
// to `<file>.<random>.partial` and are renamed into place after the byte count and sha256 checked out;
// a metadata JSON (`.fae-meta/<file>.json`: url, size, sha256) is written first, so a cached file whose
// size or content no longer matches its record is detected as corrupt, deleted and downloaded again.
// FileSystemCache (Node), WebCache (the browser Cache API or any object with match/put), NoCache.
import { concatBytes, sha256Bytes, sha256File } from './hash.js';
import { isNode } from './env.js';
import { BytesSource, type ByteSource } from '../io/byte-source.js';
import { openFileSource, removeOrphanTemps } from '../io/file-source.js';

export interface CacheMeta {
  url: string;
  size: number;
  sha256: string | null;
  etag: string | null;
  downloadedAt: string;
}

export interface CachedFile {
  /** Local path (FileSystemCache), else null. */
  path: string | null;
  size: number;
  sha256: string | null;
  /** The bytes, where the cache already holds them in memory (WebCache, NoCache). */
  bytes: Uint8Array | null;
}

export type CacheLookup = { hit: CachedFile } | { miss: 'absent' | 'corrupt'; detail?: string };

export interface CacheWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the file visible as cached; called only after its size and hash were verified. */
  commit(meta: CacheMeta): Promise<CachedFile>;
  /** Discards what was written (nothing becomes visible). */
  abort(): Promise<void>;
  /** What was written so far, to verify it before commit (a ByteSource; close it). */
  readBack?(): Promise<ByteSource>;
}

export interface HubCache {
  readonly location: string;
  /** `subdir`: the model's cache folder ('org/name/main'); `url`: where the file comes from. */
  lookup(subdir: string, file: string, url: string, verify: boolean): Promise<CacheLookup>;
  begin(subdir: string, file: string, url: string): Promise<CacheWriter>;
}

/** The part of the Web Cache API a cache needs (so tests and custom stores can stand in for it). */
export interface WebCacheLike {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
  delete?(key: string): Promise<boolean>;
}

async function nodeImport<T>(name: string): Promise<T> {
  return import(/* @vite-ignore */ name) as Promise<T>;
}
type Fs = typeof import('node:fs/promises');

/** Files under `root/<subdir>/<file>`, metadata under `root/<subdir>/.fae-meta/<file>.json` (Node). */
export class FileSystemCache implements HubCache {
  constructor(readonly location: string) {}

  private fs(): Promise<Fs> {
    return nodeImport<Fs>('node:fs/promises');
  }

  /** Local path of a cached file and of its metadata record. */
  paths(subdir: string, file: string): { path: string; meta: string } {
    const dir = `${this.location.replace(/\/+$/, '')}/${subdir}`;
    return { path: `${dir}/${file}`, meta: `${dir}/.fae-meta/${file}.json` };
  }

  async lookup(subdir: string, file: string, _url: string, verify: boolean): Promise<CacheLookup> {
    const fs = await this.fs();
    const { path, meta } = this.paths(subdir, file);
    let size: number;
    try {
      const st = await fs.stat(path);
      if (!st.isFile()) return { miss: 'absent' };
      size = st.size;
    } catch {
      return { miss: 'absent' };
    }
    let record: CacheMeta | null = null;
    try {
      record = JSON.parse(await fs.readFile(meta, 'utf8')) as CacheMeta;
    } catch {
      record = null;
    }
    const corrupt = async (detail: string): Promise<CacheLookup> => {
      await fs.rm(path, { force: true });
      await fs.rm(meta, { force: true });
      return { miss: 'corrupt', detail };
    };
    if (!record || typeof record.size !== 'number') return corrupt('no valid metadata record');
    if (record.size !== size) return corrupt(`size ${size} differs from the recorded ${record.size}`);
    if (verify && record.sha256) {
      const actual = await sha256File(path);
      if (actual !== record.sha256) return corrupt(`sha256 ${actual} differs from the recorded ${record.sha256}`);
    }
    return { hit: { path, size, sha256: record.sha256, bytes: null } };
  }

  async begin(subdir: string, file: string): Promise<CacheWriter> {
    const fs = await this.fs();
    const { path, meta } = this.paths(subdir, file);
    const dir = path.slice(0, path.lastIndexOf('/'));
    await fs.mkdir(dir, { recursive: true });
    await removeOrphanPartials(dir, path.slice(dir.length + 1));
    await removeOrphanPartials(meta.slice(0, meta.lastIndexOf('/')), `${file}.json`);
    const partial = `${path}.${tempTag()}.partial`;
    const fh = await fs.open(partial, 'wx');
    let closed = false;
    const close = async () => {
      if (!closed) {
        closed = true;
        await fh.close();
      }
    };
    return {
      async write(chunk) {
        let p = 0;
        while (p < chunk.byteLength) p += (await fh.write(chunk, p, chunk.byteLength - p)).bytesWritten;
      },
      async commit(m) {
        try {
          await fh.sync();
          await close();
          await fs.mkdir(meta.slice(0, meta.lastIndexOf('/')), { recursive: true });
          const metaTmp = `${meta}.${tempTag()}.partial`;
          await fs.writeFile(metaTmp, JSON.stringify(m, null, 1));
          await fs.rename(metaTmp, meta); // the record first: a crash before the next rename leaves no file
          await fs.rename(partial, path);
        } catch (e) {
          await close().catch(() => undefined);
          await fs.rm(partial, { force: true });
          throw e;
        }
        return { path, size: m.size, sha256: m.sha256, bytes: null };
      },
      async abort() {
        await close().catch(() => undefined);
        await fs.rm(partial, { force: true });
      },
      async readBack() {
        await fh.sync();
        return openFileSource(partial);
      },
    };
  }
}

/** `<pid>-<random>`: temp names record their writer, so the next run can tell an orphan from a live download. */
function tempTag(): string {
  return `${isNode ? process.pid : 0}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Deletes `<base>.<pid>-<random>.partial` files whose writing process is gone (a crash or kill -9 during a
 * download), and any `<base>.*.partial` older than a day (older names without a pid, other hosts).
 */
async function removeOrphanPartials(dir: string, base: string): Promise<void> {
  const prefix = `${base}.`;
  await removeOrphanTemps(dir, (n) => {
    if (!n.startsWith(prefix) || !n.endsWith('.partial')) return null;
    const m = /^(\d+)-[a-z0-9]+$/.exec(n.slice(prefix.length, -'.partial'.length));
    return m ? Number(m[1]) : -1;
  });
}

function memoryWriter(onCommit: (bytes: Uint8Array, meta: CacheMeta) => Promise<void>): CacheWriter {
  let chunks: Uint8Array[] = [];
  return {
    async write(chunk) {
      chunks.push(chunk);
    },
    async commit(meta) {
      const bytes = concatBytes(chunks);
      chunks = [];
      await onCommit(bytes, meta);
      return { path: null, size: bytes.byteLength, sha256: meta.sha256, bytes };
    },
    async abort() {
      chunks = [];
    },
    async readBack() {
      return new BytesSource(concatBytes(chunks), 'download');
    },
  };
}

/**
 * A cache over the Web Cache API (`caches.open(name)` in browsers) or any object with match/put,
 * keyed by the file URL. Size and sha256 ride along as response headers.
 */
export class WebCache implements HubCache {
  private cache: Promise<WebCacheLike> | null;
  constructor(cache: WebCacheLike | null, readonly location = 'fae-hub') {
    this.cache = cache ? Promise.resolve(cache) : null;
  }

  private open(): Promise<WebCacheLike> {
    if (!this.cache) {
      const cs = (globalThis as { caches?: { open(n: string): Promise<WebCacheLike> } }).caches;
      if (!cs) throw new Error('the Cache API is not available here');
      this.cache = cs.open(this.location);
    }
    return this.cache;
  }

  async lookup(_subdir: string, _file: string, url: string, verify: boolean): Promise<CacheLookup> {
    const cache = await this.open();
    const res = await cache.match(url);
    if (!res) return { miss: 'absent' };
    const bytes = new Uint8Array(await res.arrayBuffer());
    const size = Number(res.headers.get('x-fae-size'));
    const sha = res.headers.get('x-fae-sha256') || null;
    const corrupt = async (detail: string): Promise<CacheLookup> => {
      await cache.delete?.(url);
      return { miss: 'corrupt', detail };
    };
    if (!Number.isInteger(size) || size !== bytes.byteLength) return corrupt(`size ${bytes.byteLength} differs from the recorded ${res.headers.get('x-fae-size')}`);
    if (verify && sha) {
      const actual = await sha256Bytes(bytes);
      if (actual !== sha) return corrupt(`sha256 ${actual} differs from the recorded ${sha}`);
    }
    return { hit: { path: null, size, sha256: sha, bytes } };
  }

  async begin(_subdir: string, _file: string, url: string): Promise<CacheWriter> {
    const cache = await this.open();
    return memoryWriter(async (bytes, meta) => {
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength), 'x-fae-size': String(meta.size) };
      if (meta.sha256) headers['x-fae-sha256'] = meta.sha256;
      // A fresh copy: the Response owns its body, the caller keeps `bytes`.
      await cache.put(url, new Response(bytes.slice(), { status: 200, headers }));
    });
  }
}

/** No caching: every call downloads into memory. */
export class NoCache implements HubCache {
  readonly location = 'none';
  async lookup(): Promise<CacheLookup> {
    return { miss: 'absent' };
  }
  async begin(): Promise<CacheWriter> {
    return memoryWriter(async () => undefined);
  }
}

export type CacheChoice = 'auto' | 'fs' | 'browser' | false | WebCacheLike | HubCache;

/** The cache for an options value: 'auto' = filesystem in Node, the Cache API in browsers, else none. */
export function selectCache(choice: CacheChoice | undefined, cacheDir: string | undefined): HubCache {
  if (choice === false) return new NoCache();
  if (choice && typeof choice === 'object') {
    if ('lookup' in choice && 'begin' in choice) return choice as HubCache;
    return new WebCache(choice as WebCacheLike);
  }
  const c = choice ?? 'auto';
  if (c === 'fs' || (c === 'auto' && isNode)) return new FileSystemCache(cacheDir!);
  if (c === 'browser' || (c === 'auto' && (globalThis as { caches?: unknown }).caches)) return new WebCache(null);
  return new NoCache();
}
