// ByteSource: random access to the bytes of a file, wherever it lives (memory, a local file, a URL
// read with HTTP Range requests). Readers (safetensors, zip, .pt) take a ByteSource, so each format
// is parsed once and works on all three. Every read is bounds-checked against the known size, so a
// corrupt length field can never make us allocate more than the file holds.
import { HubError, WeightsFormatError } from '../errors.js';

export interface ByteSource {
  /** File path or URL, used in error messages. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Exactly `length` bytes starting at `offset` (rejects ranges outside [0, size]). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Free file handles. Idempotent. */
  close?(): Promise<void> | void;
}

/** Throws a WeightsFormatError unless [offset, offset + length) lies inside the source. */
export function checkRange(src: { name: string; size: number }, offset: number, length: number, what = 'read'): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > src.size) {
    throw new WeightsFormatError(src.name, `${what} of ${length} bytes at offset ${offset} runs past the end of the ${src.size}-byte file (truncated or corrupt)`);
  }
}

/** A ByteSource over bytes already in memory (no copies: reads are subarrays). */
export class BytesSource implements ByteSource {
  readonly size: number;
  constructor(readonly bytes: Uint8Array, readonly name = 'bytes') {
    this.size = bytes.byteLength;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.readSync(offset, length);
  }
  readSync(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }
}

export interface UrlSourceOptions {
  /** fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /** Bytes fetched by the first request (the header usually fits). Default 64 KiB. */
  prefetch?: number;
}

/**
 * A ByteSource over HTTP(S) with Range requests. The first request fetches `prefetch` bytes and learns
 * the file size from Content-Range. A server that ignores Range (answers 200 with the whole body) is
 * accepted: the body is then kept in memory and later reads are served from it.
 */
export class UrlSource implements ByteSource {
  private constructor(
    readonly name: string,
    readonly size: number,
    private readonly head: Uint8Array,
    private readonly whole: boolean,
    private readonly opts: UrlSourceOptions,
  ) {}

  static async open(url: string, opts: UrlSourceOptions = {}): Promise<UrlSource> {
    const prefetch = Math.max(1, opts.prefetch ?? 65536);
    const res = await rangeRequest(url, 0, prefetch, opts);
    if (res.status === 200) {
      const total = contentLength(res);
      const body = await readBody(res, url, total ?? Number.MAX_SAFE_INTEGER);
      if (total !== undefined && body.byteLength !== total) throw new HubError(url, `download ended after ${body.byteLength} of ${total} bytes`);
      return new UrlSource(url, body.byteLength, body, true, opts);
    }
    const range = parseContentRange(res.headers.get('content-range'));
    if (res.status === 416) {
      // Range not satisfiable: an empty file (the server gives total 0).
      await res.body?.cancel();
      if (range && range.total === 0) return new UrlSource(url, 0, new Uint8Array(0), true, opts);
      throw new HubError(url, 'server refused the byte range (416) and did not give the file size', 416);
    }
    if (!range || range.start !== 0 || range.total === undefined) {
      await res.body?.cancel();
      throw new HubError(url, `expected Content-Range 'bytes 0-…/<size>' in the 206 response, got '${res.headers.get('content-range')}'`, res.status);
    }
    const want = Math.min(prefetch, range.total);
    const head = await readBody(res, url, want);
    if (head.byteLength !== want) throw new HubError(url, `range response held ${head.byteLength} bytes, expected ${want}`);
    return new UrlSource(url, range.total, head, want === range.total, opts);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    if (length === 0) return new Uint8Array(0);
    if (this.whole || offset + length <= this.head.byteLength) return this.head.subarray(offset, offset + length);
    const res = await rangeRequest(this.name, offset, length, this.opts);
    if (res.status !== 206) {
      await res.body?.cancel();
      throw new HubError(this.name, `expected 206 Partial Content for bytes ${offset}-${offset + length - 1}, got ${res.status}`, res.status);
    }
    const range = parseContentRange(res.headers.get('content-range'));
    if (!range || range.start !== offset || range.end !== offset + length - 1) {
      await res.body?.cancel();
      throw new HubError(this.name, `server answered range '${res.headers.get('content-range')}' for bytes ${offset}-${offset + length - 1}`);
    }
    const body = await readBody(res, this.name, length);
    if (body.byteLength !== length) throw new HubError(this.name, `range response held ${body.byteLength} bytes, expected ${length}`);
    return body;
  }
}

/** Opens a URL as a ByteSource (HTTP Range requests). */
export function openUrlSource(url: string, opts: UrlSourceOptions = {}): Promise<UrlSource> {
  return UrlSource.open(url, opts);
}

async function rangeRequest(url: string, offset: number, length: number, opts: UrlSourceOptions): Promise<Response> {
  const f = opts.fetch ?? globalThis.fetch;
  if (!f) throw new HubError(url, 'no fetch() available: pass opts.fetch');
  let res: Response;
  try {
    res = await f(url, { headers: { ...opts.headers, Range: `bytes=${offset}-${offset + length - 1}` } });
  } catch (e) {
    throw new HubError(url, `request failed: ${(e as Error).message}`, undefined, e);
  }
  if (res.status !== 200 && res.status !== 206 && res.status !== 416) {
    await res.body?.cancel();
    const hint = res.status === 401 || res.status === 403 ? ' (the file may be gated or private: pass an Authorization header)' : '';
    throw new HubError(url, `HTTP ${res.status} ${res.statusText}${hint}`, res.status);
  }
  return res;
}

function contentLength(res: Response): number | undefined {
  const v = res.headers.get('content-length');
  if (v === null || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

// Parses 'bytes START-END/TOTAL' (TOTAL may be '*'), or 'bytes * / TOTAL' without the spaces.
export function parseContentRange(v: string | null): { start?: number; end?: number; total?: number } | null {
  if (!v) return null;
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(v.trim());
  if (!m) return null;
  const num = (s: string | undefined) => (s === undefined || s === '*' ? undefined : Number(s));
  return { start: num(m[1]), end: num(m[2]), total: num(m[3]) };
}

/** Reads a response body, refusing to buffer more than `max` bytes (a server sending more is an error). */
async function readBody(res: Response, url: string, max: number): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.byteLength;
      if (n > max) {
        await reader.cancel();
        throw new HubError(url, `server sent more than the ${max} bytes asked for`);
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof HubError) throw e;
    throw new HubError(url, `download interrupted after ${n} bytes: ${(e as Error).message}`, undefined, e);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(n);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.byteLength;
  }
  return out;
}
