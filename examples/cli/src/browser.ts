// What the browser app uses from the example (no Node imports): the components' configs, loading
// through a fetch-based reader, generation and reconstruction.
export * from './digits/config.js';
export * from './digits/models.js';
export * from './digits/generate.js';

import type { ReadFile } from './digits/models.js';

/** A ReadFile over http(s): `${base}/${component}/${file}`, with byte progress per file. */
export function fetchReader(base: string, onBytes?: (file: string, loaded: number, total: number) => void): ReadFile {
  return async (component, file) => {
    const url = `${base.replace(/\/$/, '')}/${component === '.' ? '' : `${component}/`}${file}`;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    const total = Number(res.headers.get('content-length') ?? 0);
    if (!res.body || !onBytes) return new Uint8Array(await res.arrayBuffer());
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      onBytes(`${component}/${file}`, loaded, total);
    }
    const out = new Uint8Array(loaded);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  };
}
