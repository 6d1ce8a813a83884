// The legacy torch.save containers (before the zip format of torch 1.6), read into plain records that
// torch-checkpoint.ts turns into tensors with the same pickle VM and allowlist as zip checkpoints:
//  - stream (torch 0.4 - 1.5, `_use_new_zipfile_serialization=False`): five pickles and raw data back to
//    back: magic number 0x1950a86a20f9469cfc6c, protocol version 1001, sys info, the object (storages as
//    persistent ids ('storage', type, root_key, location, numel, view_metadata)), the list of storage
//    keys; then per key an int64 element count and the storage's little-endian bytes.
//  - tar (torch <= 0.3): a tar with members `sys_info`, `pickle` (the object; tensors as persistent
//    ids = keys), `storages` (a pickled count, then per storage a pickled (key, location, type), an
//    int64 element count and the bytes; then a pickled list of views (key, root key, offset, numel)) and
//    `tensors` (a pickled count, then per tensor a pickled (key, storage key, type), int32 ndim, 4 pad
//    bytes, ndim int64 sizes, ndim int64 strides, int64 storage offset).
// Every count, length and offset is checked against the bytes there are before anything is allocated.
import { WeightsFormatError } from '../errors.js';
import { PyGlobal, unpickleAt, type PickleHooks } from './pickle.js';

/** torch.save's legacy magic number and protocol version. */
export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
export const LEGACY_PROTOCOL_VERSION = 1001;

/** Whether the first bytes (up to 512) are a legacy torch.save file: a pickle (stream) or a tar. */
export function isLegacyTorchFile(head: Uint8Array, size: number): boolean {
  if (size >= 2 && head[0] === 0x80 && head[1] <= 5) return true; // a pickle: the magic number
  return isTar(head);
}

function isTar(head: Uint8Array): boolean {
  if (head.length < 263) return false;
  const magic = String.fromCharCode(...head.subarray(257, 262));
  return magic === 'ustar';
}

export interface LegacyStorageRecord {
  key: string;
  /** Storage class name, e.g. 'FloatStorage'. */
  typeName: string;
  numel: number;
  /** The storage's bytes (little-endian). */
  bytes: Uint8Array;
}

export interface LegacyViewRecord {
  key: string;
  root: string;
  /** Element offset into the root storage. */
  offset: number;
  numel: number;
}

export interface LegacyTensorRecord {
  key: string;
  storage: string;
  shape: number[];
  stride: number[];
  offset: number;
}

export interface LegacyTar {
  /** The object's pickle (member `pickle`). */
  pickle: Uint8Array;
  storages: LegacyStorageRecord[];
  views: LegacyViewRecord[];
  tensors: LegacyTensorRecord[];
}

/** A reader over bytes with bounds-checked little-endian fields and pickles. */
class Cursor {
  constructor(readonly bytes: Uint8Array, public pos: number, readonly source: string, readonly hooks: PickleHooks) {}
  bad(problem: string): never {
    throw new WeightsFormatError(this.source, `legacy torch.save: ${problem} (at byte ${this.pos})`);
  }
  need(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.bytes.length) this.bad(`${what} needs ${n} bytes, ${this.bytes.length - this.pos} left (truncated or corrupt)`);
  }
  i64(what: string): number {
    this.need(8, what);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 8).getBigInt64(0, true);
    this.pos += 8;
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) this.bad(`${what} ${v} is out of range`);
    return Number(v);
  }
  i32(what: string): number {
    this.need(4, what);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getInt32(0, true);
    this.pos += 4;
    return v;
  }
  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  pickle(): unknown {
    const r = unpickleAt(this.bytes.subarray(this.pos), this.hooks, this.source);
    this.pos += r.end;
    return r.value;
  }
}

/** Hooks for the metadata pickles: allowlisted globals become markers; nothing is called. */
function metadataHooks(allowed: ReadonlySet<string>, source: string): PickleHooks {
  return {
    allowed,
    call: (fn) => {
      throw new WeightsFormatError(source, `legacy torch.save: a metadata pickle calls ${fn.fullName}`);
    },
  };
}

const keyOf = (k: unknown, c: Cursor, what: string): string => {
  if (typeof k === 'number' && Number.isSafeInteger(k)) return String(k);
  if (typeof k === 'bigint') return k.toString();
  if (typeof k === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(k)) return /^\d+$/.test(k) ? String(BigInt(k)) : k;
  return c.bad(`${what} is not a storage key`);
};
const count = (v: unknown, c: Cursor, what: string, max: number): number => {
  if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > max) c.bad(`${what} ${String(v).slice(0, 40)} is not a count of at most ${max}`);
  return v as number;
};
const typeName = (t: unknown, c: Cursor, what: string): string => (t instanceof PyGlobal ? t.name : c.bad(`${what} is not a torch type`));

/**
 * Reads the stream format's preamble (magic number, protocol version, sys info) and returns the offset
 * of the object's pickle.
 */
export function readLegacyPreamble(bytes: Uint8Array, source: string, allowed: ReadonlySet<string>): number {
  const c = new Cursor(bytes, 0, source, metadataHooks(allowed, source));
  const magic = c.pickle();
  if (magic !== LEGACY_MAGIC) c.bad(`invalid magic number ${String(magic).slice(0, 40)} (not a torch.save file, or corrupt)`);
  const version = c.pickle();
  if (version !== LEGACY_PROTOCOL_VERSION) c.bad(`protocol version ${String(version).slice(0, 40)} is not ${LEGACY_PROTOCOL_VERSION}`);
  const sys = c.pickle() as Record<string, unknown> | null;
  if (typeof sys !== 'object' || sys === null) return c.bad('sys info is not a dict');
  if (sys.little_endian === false) c.bad('big-endian legacy files are not supported');
  return c.pos;
}

/**
 * Reads the stream format's tail, from just past the object's pickle: the storage keys list, then each
 * storage's element count and bytes. `elementSize(key)` gives the element size of a key the object
 * declared (and throws for one it did not); `numel(key)` the element count it declared.
 */
export function readLegacyStorageData(
  bytes: Uint8Array, offset: number, source: string, allowed: ReadonlySet<string>,
  declared: (key: string) => { elementSize: number; numel: number },
): Map<string, Uint8Array> {
  const c = new Cursor(bytes, offset, source, metadataHooks(allowed, source));
  const keys = c.pickle();
  if (!Array.isArray(keys)) c.bad('the storage keys are not a list');
  const out = new Map<string, Uint8Array>();
  for (const k of keys as unknown[]) {
    const key = keyOf(k, c, 'storage key');
    if (out.has(key)) c.bad(`storage '${key}' is listed twice`);
    const { elementSize, numel } = declared(key);
    const n = c.i64(`element count of storage '${key}'`);
    if (n !== numel) c.bad(`storage '${key}' holds ${n} elements but the object declares ${numel}`);
    out.set(key, c.take(n * elementSize, `storage '${key}'`));
  }
  if (c.pos !== bytes.length) c.bad(`${bytes.length - c.pos} bytes follow the last storage`);
  return out;
}

interface TarMember {
  offset: number;
  size: number;
}

/** The members of a tar archive (ustar/pax headers, checksums verified). */
export function readTarMembers(bytes: Uint8Array, source: string): Map<string, TarMember> {
  const out = new Map<string, TarMember>();
  const bad = (p: string): never => {
    throw new WeightsFormatError(source, `legacy torch.save: bad tar: ${p}`);
  };
  const text = (o: number, n: number) => {
    let e = o;
    while (e < o + n && bytes[e] !== 0) e++;
    return String.fromCharCode(...bytes.subarray(o, e));
  };
  const octal = (o: number, n: number, what: string): number => {
    const s = text(o, n).trim();
    if (!/^[0-7]{1,12}$/.test(s)) bad(`${what} field '${s.slice(0, 12)}' is not octal`);
    return parseInt(s, 8);
  };
  let pos = 0;
  let paxSize: number | null = null;
  for (;;) {
    if (pos + 512 > bytes.length) bad(`header at ${pos} runs past the end of the ${bytes.length}-byte file`);
    const h = bytes.subarray(pos, pos + 512);
    if (h.every((b) => b === 0)) break; // end of archive
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (octal(pos + 148, 8, 'checksum') !== sum) bad(`header checksum mismatch at ${pos} (corrupt)`);
    let size = octal(pos + 124, 12, 'size');
    const type = String.fromCharCode(h[156] || 0x30);
    const name = text(pos, 100);
    const start = pos + 512;
    if (paxSize !== null) size = paxSize;
    if (start + size > bytes.length) bad(`member '${name.slice(0, 80)}' (${size} bytes) runs past the end of the file`);
    paxSize = null;
    if (type === 'x') {
      // pax extended header: a 'size' record overrides the next member's size
      const rec = String.fromCharCode(...bytes.subarray(start, start + Math.min(size, 4096)));
      const m = /(?:^|\n)\d+ size=(\d+)\n/.exec(rec);
      if (m) paxSize = Number(m[1]);
    } else if (type === '0' || type === '\0') {
      if (out.has(name)) bad(`duplicate member '${name.slice(0, 80)}'`);
      out.set(name, { offset: start, size });
    } else if (type !== 'g' && type !== '5') bad(`member '${name.slice(0, 80)}' has unsupported type '${type}'`);
    pos = start + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Reads a tar-format legacy file into its records. `elementSize(typeName)` maps storage classes to bytes. */
export function readLegacyTar(bytes: Uint8Array, source: string, allowed: ReadonlySet<string>, elementSize: (typeName: string) => number | undefined): LegacyTar {
  const members = readTarMembers(bytes, source);
  const member = (name: string): Uint8Array => {
    const m = members.get(name);
    if (!m) throw new WeightsFormatError(source, `legacy torch.save: the tar has no '${name}' member`);
    return bytes.subarray(m.offset, m.offset + m.size);
  };
  const hooks = metadataHooks(allowed, source);
  // storages
  const sc = new Cursor(member('storages'), 0, `${source} (storages)`, hooks);
  const ns = count(sc.pickle(), sc, 'storage count', sc.bytes.length);
  const storages: LegacyStorageRecord[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < ns; i++) {
    const rec = sc.pickle() as unknown[];
    if (!Array.isArray(rec) || rec.length !== 3) sc.bad('a storage record is not (key, location, type)');
    const key = keyOf(rec[0], sc, 'storage key');
    const tn = typeName(rec[2], sc, `storage '${key}' type`);
    const size = elementSize(tn);
    if (size === undefined) sc.bad(`storage type ${tn} is not supported`);
    if (seen.has(key)) sc.bad(`storage '${key}' is defined twice`);
    seen.add(key);
    const numel = sc.i64(`element count of storage '${key}'`);
    storages.push({ key, typeName: tn, numel, bytes: sc.take(numel * size!, `storage '${key}'`) });
  }
  const viewList = sc.pickle() as unknown[];
  if (!Array.isArray(viewList)) sc.bad('the storage views are not a list');
  if (viewList.length > sc.bytes.length) sc.bad('too many storage views');
  const views: LegacyViewRecord[] = [];
  for (const v of viewList as unknown[]) {
    if (!Array.isArray(v) || v.length !== 4) sc.bad('a storage view is not (key, root, offset, numel)');
    const [k, r, o, n] = v as unknown[];
    views.push({ key: keyOf(k, sc, 'view key'), root: keyOf(r, sc, 'view root'), offset: count(o, sc, 'view offset', Number.MAX_SAFE_INTEGER), numel: count(n, sc, 'view size', Number.MAX_SAFE_INTEGER) });
  }
  if (sc.pos !== sc.bytes.length) sc.bad(`${sc.bytes.length - sc.pos} bytes follow the storage views`);
  // tensors
  const tc = new Cursor(member('tensors'), 0, `${source} (tensors)`, hooks);
  const nt = count(tc.pickle(), tc, 'tensor count', tc.bytes.length);
  const tensors: LegacyTensorRecord[] = [];
  for (let i = 0; i < nt; i++) {
    const rec = tc.pickle() as unknown[];
    if (!Array.isArray(rec) || rec.length !== 3) tc.bad('a tensor record is not (key, storage key, type)');
    const key = keyOf(rec[0], tc, 'tensor key');
    const storage = keyOf(rec[1], tc, `storage key of tensor '${key}'`);
    const ndim = tc.i32(`rank of tensor '${key}'`);
    if (ndim < 0 || ndim > 64) tc.bad(`tensor '${key}' has rank ${ndim}`);
    tc.take(4, 'padding');
    const shape: number[] = [];
    const stride: number[] = [];
    for (let d = 0; d < ndim; d++) shape.push(tc.i64(`size of tensor '${key}'`));
    for (let d = 0; d < ndim; d++) stride.push(tc.i64(`stride of tensor '${key}'`));
    tensors.push({ key, storage, shape, stride, offset: tc.i64(`storage offset of tensor '${key}'`) });
  }
  if (tc.pos !== tc.bytes.length) tc.bad(`${tc.bytes.length - tc.pos} bytes follow the last tensor`);
  return { pickle: member('pickle'), storages, views, tensors };
}
