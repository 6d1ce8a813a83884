// A minimal tar index (ustar, with GNU long names and pax `path`): the regular files of an archive
// with their byte offsets, read header by header, so members can be read one at a time (Node).
import { InputDataError } from './errors.js';
import { nodeFsPromises } from '../node-fs.js';

export interface TarMember {
  name: string;
  /** Byte offset of the content. */
  offset: number;
  size: number;
}

const text = new TextDecoder();
const str = (b: Uint8Array, start: number, len: number) => {
  const s = b.subarray(start, start + len);
  const end = s.indexOf(0);
  return text.decode(end < 0 ? s : s.subarray(0, end));
};
const octal = (b: Uint8Array, start: number, len: number) => parseInt(str(b, start, len).trim() || '0', 8);

/** The regular files of the tar at `path`. */
export async function indexTar(path: string): Promise<TarMember[]> {
  const fs = await nodeFsPromises(path);
  const fh = await fs.open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new InputDataError(path, `cannot open (${e.code ?? e.message})`, e);
  });
  try {
    const size = (await fh.stat()).size;
    const members: TarMember[] = [];
    const header = new Uint8Array(512);
    let pos = 0;
    let longName: string | null = null;
    while (pos + 512 <= size) {
      await fh.read(header, 0, 512, pos);
      if (header.every((v) => v === 0)) break; // end of archive
      const magic = str(header, 257, 6);
      if (pos === 0 && magic !== 'ustar' && magic !== 'ustar ') {
        const sum = header.reduce((s, v, i) => s + (i >= 148 && i < 156 ? 32 : v), 0);
        if (sum !== octal(header, 148, 8)) throw new InputDataError(path, 'not a tar archive (bad header checksum)');
      }
      const len = octal(header, 124, 12);
      const type = String.fromCharCode(header[156] || 48);
      const body = pos + 512;
      if (type === 'L' || type === 'x') {
        const data = new Uint8Array(len);
        await fh.read(data, 0, len, body);
        if (type === 'L') longName = str(data, 0, len);
        else {
          const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(text.decode(data));
          if (m) longName = m[1];
        }
      } else {
        const prefix = magic.startsWith('ustar') ? str(header, 345, 155) : '';
        const name = longName ?? (prefix ? `${prefix}/${str(header, 0, 100)}` : str(header, 0, 100));
        longName = null;
        if (type === '0' || type === '7') members.push({ name, offset: body, size: len });
      }
      pos = body + Math.ceil(len / 512) * 512;
    }
    return members;
  } finally {
    await fh.close();
  }
}

/** Bytes of one member. */
export async function readTarMember(path: string, m: TarMember): Promise<Uint8Array> {
  const fs = await nodeFsPromises(path);
  const fh = await fs.open(path, 'r');
  try {
    const out = new Uint8Array(m.size);
    await fh.read(out, 0, m.size, m.offset);
    return out;
  } finally {
    await fh.close();
  }
}

/** A tar archive of `files` (ustar; names up to 100 bytes): for tests and small exports. */
export function writeTar(files: Array<{ name: string; data: Uint8Array }>): Uint8Array {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const f of files) {
    const h = new Uint8Array(512);
    const name = enc.encode(f.name);
    if (name.length > 100) throw new InputDataError(f.name, 'tar member names are limited to 100 bytes here');
    h.set(name, 0);
    h.set(enc.encode('0000644\0'), 100);
    h.set(enc.encode('0000000\0'), 108);
    h.set(enc.encode('0000000\0'), 116);
    h.set(enc.encode(`${f.data.length.toString(8).padStart(11, '0')}\0`), 124);
    h.set(enc.encode('00000000000\0'), 136);
    h[156] = 48; // '0'
    h.set(enc.encode('ustar\0'), 257);
    h.set(enc.encode('00'), 263);
    h.fill(32, 148, 156);
    const sum = h.reduce((s, v) => s + v, 0);
    h.set(enc.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    chunks.push(h, f.data, new Uint8Array((512 - (f.data.length % 512)) % 512));
  }
  chunks.push(new Uint8Array(1024));
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
