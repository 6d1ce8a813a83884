// SHA-256 for integrity checks: incremental through node:crypto in Node; in the browser the chunks
// are kept (the download is held in memory there anyway) and hashed once with WebCrypto.
import { isNode } from './env.js';

export interface Hasher {
  update(chunk: Uint8Array): void;
  /** Lower-case hex digest. */
  digest(): Promise<string>;
}

async function nodeImport<T>(name: string): Promise<T> {
  return import(/* @vite-ignore */ name) as Promise<T>;
}

const hex = (buf: ArrayBuffer | Uint8Array) => Array.from(buf instanceof Uint8Array ? buf : new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

/** SHA-256 of bytes in memory (WebCrypto; available in Node >= 19 and browsers). */
export async function sha256Bytes(bytes: Uint8Array): Promise<string> {
  if (isNode) {
    const { createHash } = await nodeImport<typeof import('node:crypto')>('node:crypto');
    return createHash('sha256').update(bytes).digest('hex');
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return hex(await globalThis.crypto.subtle.digest('SHA-256', copy.buffer));
}

export async function createSha256(): Promise<Hasher> {
  if (isNode) {
    const { createHash } = await nodeImport<typeof import('node:crypto')>('node:crypto');
    const h = createHash('sha256');
    return { update: (c) => void h.update(c), digest: async () => h.digest('hex') };
  }
  const chunks: Uint8Array[] = [];
  return {
    update: (c) => void chunks.push(c),
    digest: () => sha256Bytes(concatBytes(chunks)),
  };
}

/** SHA-256 of a local file, streamed (Node). */
export async function sha256File(path: string): Promise<string> {
  const { createHash } = await nodeImport<typeof import('node:crypto')>('node:crypto');
  const { createReadStream } = await nodeImport<typeof import('node:fs')>('node:fs');
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Uint8Array);
  return h.digest('hex');
}

export function concatBytes(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.byteLength;
  const out = new Uint8Array(n);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.byteLength;
  }
  return out;
}

/** A sha256 named by an ETag / X-Linked-ETag value ('"<64 hex>"'), or null (weak or other ETags). */
export function sha256FromEtag(etag: string | null | undefined): string | null {
  if (!etag) return null;
  const m = /^"?([0-9a-f]{64})"?$/i.exec(etag.trim());
  return m ? m[1].toLowerCase() : null;
}
