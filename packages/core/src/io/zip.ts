// A small zip reader and writer: what torch.save (zip of stored entries, 64-byte aligned) and numpy's
// savez / savez_compressed (stored or deflated .npy entries) produce. Reads the central directory
// (ZIP64 included), then entries on demand; inflates with fflate into a buffer of the declared size.
// Every offset and size is checked against the file before anything is allocated, and each entry's
// CRC-32 is verified.
import { deflateSync, inflateSync } from 'fflate';
import { WeightsFormatError } from '../errors.js';
import { BytesSource, checkRange, type ByteSource } from './byte-source.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local header. */
  localOffset: number;
  /** General-purpose flags of the directory entry (bit 3: sizes in a data descriptor). */
  flags?: number;
  /** The name's bytes as the directory holds them (compared with the local header's). */
  rawName?: Uint8Array;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
/** Deflate cannot expand more than ~1032:1; a larger declared size is a lie (or a bomb). */
const MAX_DEFLATE_RATIO = 1032;

/** CRC-32 tables for slicing-by-8 (table k maps a byte k positions back). */
const CRC_TABLES = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k * 256 + n] = t[t[(k - 1) * 256 + n] & 0xff] ^ (t[(k - 1) * 256 + n] >>> 8);
  return t;
})();

/** CRC-32 (IEEE, as zip uses), slicing-by-8. */
export function crc32(data: Uint8Array, crc = 0): number {
  const t = CRC_TABLES;
  let c = ~crc;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    const a = (c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0;
    c = t[1792 + (a & 0xff)] ^ t[1536 + ((a >>> 8) & 0xff)] ^ t[1280 + ((a >>> 16) & 0xff)] ^ t[1024 + (a >>> 24)]
      ^ t[768 + data[i + 4]] ^ t[512 + data[i + 5]] ^ t[256 + data[i + 6]] ^ t[data[i + 7]];
  }
  for (; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function u16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}
function u64(b: Uint8Array, o: number, src: string): number {
  const v = u32(b, o) + u32(b, o + 4) * 2 ** 32;
  if (!Number.isSafeInteger(v)) throw new WeightsFormatError(src, 'zip: a 64-bit size or offset is out of range');
  return v;
}

/** A zip archive read through a ByteSource: central directory now, entry data on demand. */
export class ZipArchive {
  private constructor(private readonly src: ByteSource, readonly entries: Map<string, ZipEntry>) {}

  get name(): string {
    return this.src.name;
  }

  static async open(src: ByteSource): Promise<ZipArchive> {
    const name = src.name;
    if (src.size < 22) throw new WeightsFormatError(name, `bad zip: ${src.size} bytes is too short for a zip archive`);
    const tailLen = Math.min(src.size, 22 + 65535);
    const tailStart = src.size - tailLen;
    const tail = await src.read(tailStart, tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (u32(tail, i) === SIG_EOCD && i + 22 + u16(tail, i + 20) <= tailLen) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new WeightsFormatError(name, 'bad zip: no end-of-central-directory record (not a zip file, or truncated)');
    let count = u16(tail, eocd + 10);
    let cdSize = u32(tail, eocd + 12);
    let cdOffset = u32(tail, eocd + 16);
    let cdEnd = tailStart + eocd; // where the directory must end: the end record (or the ZIP64 one)
    // torch.save (miniz) writes a ZIP64 end record and locator even for small archives.
    if (eocd >= 20 && u32(tail, eocd - 20) === SIG_EOCD64_LOCATOR) cdEnd = u64(tail, eocd - 20 + 8, name);
    if (u16(tail, eocd + 4) !== 0 || u16(tail, eocd + 6) !== 0) throw new WeightsFormatError(name, 'bad zip: multi-disk archives are not supported');
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || u32(tail, loc) !== SIG_EOCD64_LOCATOR) throw new WeightsFormatError(name, 'bad zip: ZIP64 sizes without a ZIP64 locator');
      const recOffset = u64(tail, loc + 8, name);
      checkRange(src, recOffset, 56, 'zip: ZIP64 end record');
      const rec = await src.read(recOffset, 56);
      cdEnd = recOffset;
      if (u32(rec, 0) !== SIG_EOCD64) throw new WeightsFormatError(name, 'bad zip: ZIP64 end record signature missing');
      count = u64(rec, 32, name);
      cdSize = u64(rec, 40, name);
      cdOffset = u64(rec, 48, name);
    }
    checkRange(src, cdOffset, cdSize, 'zip: central directory');
    if (count * 46 > cdSize) throw new WeightsFormatError(name, `bad zip: ${count} entries cannot fit a ${cdSize}-byte central directory`);
    const cd = await src.read(cdOffset, cdSize);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    const dec = new TextDecoder('utf-8');
    for (let i = 0; i < count; i++) {
      const p0 = p;
      if (p + 46 > cd.length || u32(cd, p) !== SIG_CENTRAL) throw new WeightsFormatError(name, `bad zip: central directory entry ${i} is corrupt`);
      const flags = u16(cd, p + 8);
      const method = u16(cd, p + 10);
      const crc = u32(cd, p + 16);
      let compressedSize = u32(cd, p + 20);
      let size = u32(cd, p + 24);
      const nameLen = u16(cd, p + 28), extraLen = u16(cd, p + 30), commentLen = u16(cd, p + 32);
      let localOffset = u32(cd, p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw new WeightsFormatError(name, `bad zip: central directory entry ${i} runs past the directory`);
      const entryName = dec.decode(cd.subarray(p + 46, p + 46 + nameLen));
      // ZIP64 extra field: the 64-bit values of whichever fields were 0xFFFFFFFF, in this order.
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = u16(cd, e), len = u16(cd, e + 2);
        if (e + 4 + len > extraEnd) break;
        if (id === 0x0001) {
          let q = e + 4;
          const next = () => {
            if (q + 8 > e + 4 + len) throw new WeightsFormatError(name, `bad zip: ZIP64 field of '${entryName}' is too short`);
            const v = u64(cd, q, name);
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = next();
          if (compressedSize === 0xffffffff) compressedSize = next();
          if (localOffset === 0xffffffff) localOffset = next();
        }
        e += 4 + len;
      }
      p = extraEnd + commentLen;
      if (flags & 1) throw new WeightsFormatError(name, `zip entry '${entryName}' is encrypted (not supported)`);
      if (method !== 0 && method !== 8) throw new WeightsFormatError(name, `zip entry '${entryName}' uses compression method ${method} (only stored and deflate are supported)`);
      if (method === 0 && size !== compressedSize) throw new WeightsFormatError(name, `bad zip: stored entry '${entryName}' has size ${size} but compressed size ${compressedSize}`);
      if (method === 8 && size > Math.max(1024, compressedSize * MAX_DEFLATE_RATIO)) {
        throw new WeightsFormatError(name, `bad zip: entry '${entryName}' claims ${size} bytes from ${compressedSize} deflated bytes (more than deflate can produce)`);
      }
      checkRange(src, localOffset, 30 + nameLen + compressedSize, `zip entry '${entryName}'`);
      if (entries.has(entryName)) throw new WeightsFormatError(name, `bad zip: duplicate entry '${entryName}'`);
      entries.set(entryName, { name: entryName, method, crc32: crc, compressedSize, size, localOffset, flags, rawName: cd.slice(p0 + 46, p0 + 46 + nameLen) });
    }
    // The directory must hold exactly `count` entries and end where its end record begins (a lowered
    // count would hide entries; Python's zipfile walks the directory by its size, not by the count).
    if (p !== cdSize) throw new WeightsFormatError(name, `bad zip: the central directory holds ${cdSize} bytes but its ${count} entries take ${p} (entry count or directory size is wrong)`);
    if (cdOffset + cdSize !== cdEnd) throw new WeightsFormatError(name, `bad zip: the central directory ends at ${cdOffset + cdSize}, but its end record is at ${cdEnd}`);
    // Entries must not overlap (overlapping entries are how zip bombs amplify).
    const spans = [...entries.values()].map((en) => [en.localOffset, en.localOffset + 30 + new TextEncoder().encode(en.name).length + en.compressedSize, en.name] as const);
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) {
      if (spans[i][0] < spans[i - 1][1]) throw new WeightsFormatError(name, `bad zip: entries '${spans[i - 1][2]}' and '${spans[i][2]}' overlap`);
    }
    return new ZipArchive(src, entries);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** An entry's uncompressed bytes (CRC-32 checked unless `verify` is false). */
  async read(entryName: string, opts: { verify?: boolean } = {}): Promise<Uint8Array> {
    const en = this.entries.get(entryName);
    if (!en) throw new WeightsFormatError(this.src.name, `zip has no entry '${entryName}'`);
    const lh = await this.src.read(en.localOffset, 30);
    if (u32(lh, 0) !== SIG_LOCAL) throw new WeightsFormatError(this.src.name, `bad zip: local header of '${entryName}' is missing`);
    this.crossCheck(en, lh, await this.src.read(en.localOffset + 30, Math.min(u16(lh, 26), Math.max(0, this.src.size - en.localOffset - 30))));
    const dataStart = en.localOffset + 30 + u16(lh, 26) + u16(lh, 28);
    checkRange(this.src, dataStart, en.compressedSize, `zip entry '${entryName}'`);
    const raw = await this.src.read(dataStart, en.compressedSize);
    let out: Uint8Array;
    if (en.method === 0) out = raw;
    else {
      try {
        out = inflateSync(raw, { out: new Uint8Array(en.size) });
      } catch (e) {
        throw new WeightsFormatError(this.src.name, `bad zip: entry '${entryName}' does not inflate (${(e as Error).message})`, e);
      }
      if (out.byteLength !== en.size) throw new WeightsFormatError(this.src.name, `bad zip: entry '${entryName}' inflated to ${out.byteLength} bytes, expected ${en.size}`);
    }
    if ((opts.verify ?? true) && crc32(out) !== en.crc32) throw new WeightsFormatError(this.src.name, `bad zip: CRC-32 mismatch in entry '${entryName}' (corrupt data)`);
    return out;
  }

  /** The local header must agree with the directory: name, method, and (unless in a data descriptor) CRC and sizes. */
  private crossCheck(en: ZipEntry, lh: Uint8Array, localName: Uint8Array): void {
    const bad = (what: string) => new WeightsFormatError(this.src.name, `bad zip: the local header of '${en.name}' disagrees with the central directory (${what})`);
    const dirName = en.rawName ?? new TextEncoder().encode(en.name);
    if (localName.length !== dirName.length || localName.some((b, i) => b !== dirName[i])) {
      throw bad(`its name is '${new TextDecoder().decode(localName).slice(0, 80)}'`);
    }
    if (u16(lh, 8) !== en.method) throw bad(`method ${u16(lh, 8)} vs ${en.method}`);
    const flags = u16(lh, 6);
    if (flags & 1) throw bad('the local entry is encrypted');
    if (flags & 8) return; // CRC and sizes follow the data
    const crc = u32(lh, 14), csize = u32(lh, 18), size = u32(lh, 22);
    if (crc !== en.crc32) throw bad(`CRC-32 ${crc.toString(16)} vs ${en.crc32.toString(16)}`);
    if (csize !== 0xffffffff && csize !== en.compressedSize) throw bad(`compressed size ${csize} vs ${en.compressedSize}`);
    if (size !== 0xffffffff && size !== en.size) throw bad(`size ${size} vs ${en.size}`);
  }

  async close(): Promise<void> {
    await this.src.close?.();
  }
}

/** Opens a zip archive from bytes or any ByteSource. */
export function openZip(input: Uint8Array | ByteSource, name = 'zip'): Promise<ZipArchive> {
  return ZipArchive.open(input instanceof Uint8Array ? new BytesSource(input, name) : input);
}

export interface ZipWriteEntry {
  name: string;
  data: Uint8Array;
  /** Deflate this entry (default false: stored). */
  deflate?: boolean;
}

export interface ZipWriteOptions {
  /** Align each stored entry's data to this many bytes via local extra-field padding (torch.save uses 64). */
  align?: number;
}

/** Encodes a zip archive (no ZIP64: the archive must stay under 4 GiB). */
export function encodeZip(entries: ZipWriteEntry[], opts: ZipWriteOptions = {}): Uint8Array {
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const en of entries) {
    const name = enc.encode(en.name);
    const data = en.deflate ? deflateSync(en.data) : en.data;
    const crc = crc32(en.data);
    let pad = 0;
    if (opts.align && !en.deflate) {
      const start = offset + 30 + name.length;
      pad = (opts.align - ((start + 4) % opts.align)) % opts.align + 4; // 4-byte extra header + padding
    }
    const lh = new Uint8Array(30 + name.length + pad);
    const lv = new DataView(lh.buffer);
    lv.setUint32(0, SIG_LOCAL, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(6, 0x0800, true); // UTF-8 names
    lv.setUint16(8, en.deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, en.data.length, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, pad, true);
    lh.set(name, 30);
    if (pad) {
      lv.setUint16(30 + name.length, 0x4246, true); // 'FB', the id torch.save uses for padding
      lv.setUint16(32 + name.length, pad - 4, true);
    }
    const ch = new Uint8Array(46 + name.length);
    const cv = new DataView(ch.buffer);
    cv.setUint32(0, SIG_CENTRAL, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(8, 0x0800, true);
    cv.setUint16(10, en.deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, en.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    ch.set(name, 46);
    locals.push(lh, data);
    centrals.push(ch);
    offset += lh.length + data.length;
  }
  const cdSize = centrals.reduce((n, c) => n + c.length, 0);
  if (offset + cdSize + 22 > 0xffffffff || entries.length > 0xffff) throw new WeightsFormatError('encodeZip', 'archive too large for a non-ZIP64 zip');
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, SIG_EOCD, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + cdSize + 22);
  let p = 0;
  for (const b of [...locals, ...centrals, eocd]) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}
