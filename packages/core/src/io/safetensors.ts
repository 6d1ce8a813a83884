// safetensors: parse (from bytes) and encode. Format: u64 little-endian header length N, N bytes of
// JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}, then the data.
// Readers for files (header first, tensors on demand) and URLs (HTTP Range) build on parseHeader.
import { WeightsFormatError } from '../errors.js';
import { DTYPE_BYTES, shapeSize, type DType, type TensorInfo, type TensorStore, type TypedArray, dtypeOfArray } from './store.js';
import { decodeTensorBytes, encodeTensorBytes } from './dtypes.js';
import type { ByteSource } from './byte-source.js';

export interface SafetensorsEntry extends TensorInfo {
  /** Byte range inside the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Size of the header JSON in bytes; data starts at 8 + headerSize. */
  headerSize: number;
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** Largest header we accept (the reference implementation's limit is 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Reads the 8-byte length prefix. `fileSize` bounds it when known. */
export function readHeaderLength(prefix: Uint8Array, source: string, fileSize?: number): number {
  if (prefix.byteLength < 8) throw new WeightsFormatError(source, `file is ${prefix.byteLength} bytes, too short for a safetensors header`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new WeightsFormatError(source, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const len = Number(n);
  if (fileSize !== undefined && 8 + len > fileSize) {
    throw new WeightsFormatError(source, `header length ${len} runs past the end of the ${fileSize}-byte file`);
  }
  return len;
}

/** A short description of a JSON value for error messages (never recurses: hostile headers nest deeply). */
function brief(v: unknown): string {
  if (Array.isArray(v)) return v.length <= 8 && v.every((x) => typeof x === 'number') ? `[${v.join(',')}]` : `an array of ${v.length}`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (v === null || typeof v !== 'object') return String(v);
  return 'an object';
}

/**
 * Validates a header's JSON as the reference implementation (the `safetensors` crate) does, and more.
 * `dataSize` (file size - 8 - headerSize) is the data section's size when known. Checks: the header is a
 * JSON object; `__metadata__` is an object of strings; known dtypes; integer shapes; byte counts that
 * match dtype x shape; and, with `dataSize`, that the tensors tile the data section exactly (sorted by
 * offset, the first starts at 0, each starts where the previous ended, the last ends at `dataSize`):
 * no gaps, no overlaps, no trailing bytes.
 */
export function parseHeaderJson(jsonBytes: Uint8Array, source: string, dataSize?: number): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(jsonBytes);
  } catch (e) {
    throw new WeightsFormatError(source, `header is not valid UTF-8 JSON (${(e as Error).message})`, e);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // A RangeError here is JSON nested beyond the parser's stack: still a malformed header.
    throw new WeightsFormatError(source, `header is not valid UTF-8 JSON (${(e as Error).message})`, e);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new WeightsFormatError(source, 'header JSON is not an object');
  // The reference implementation requires the header to start with '{' (trailing spaces are padding).
  if (!text.startsWith('{')) throw new WeightsFormatError(source, 'header JSON must start with \'{\' (leading bytes before the object)');
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WeightsFormatError(source, '__metadata__ is not an object');
      metadata = {};
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new WeightsFormatError(source, `__metadata__ '${k.slice(0, 80)}' is ${brief(v)}, not a string (safetensors metadata is str -> str)`);
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new WeightsFormatError(source, `tensor '${name}': entry is not an object`);
    if (typeof v.dtype !== 'string' || !Object.prototype.hasOwnProperty.call(DTYPE_BYTES, v.dtype)) throw new WeightsFormatError(source, `tensor '${name}': unknown dtype ${brief(v.dtype)}`);
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new WeightsFormatError(source, `tensor '${name}': shape ${brief(v.shape)} is not a list of non-negative integers`);
    }
    const off = v.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[1] < off[0]) {
      throw new WeightsFormatError(source, `tensor '${name}': data_offsets ${brief(off)} is not [begin, end] with 0 <= begin <= end`);
    }
    const dtype = v.dtype as DType;
    const shape = v.shape as number[];
    const expected = shapeSize(shape) * DTYPE_BYTES[dtype];
    if (off[1] - off[0] !== expected) {
      throw new WeightsFormatError(source, `tensor '${name}': ${dtype}${brief(shape)} needs ${expected} bytes but data_offsets span ${off[1] - off[0]}`);
    }
    if (dataSize !== undefined && off[1] > dataSize) {
      throw new WeightsFormatError(source, `tensor '${name}': data_offsets end ${off[1]} is past the ${dataSize}-byte data section`);
    }
    tensors.set(name, { dtype, shape, begin: off[0], end: off[1] });
  }
  // Tiling, as the reference implementation's validate(): sorted by (begin, end), each tensor starts
  // where the previous one ended (empty tensors included), and the last one ends at the data's end.
  const sorted = [...tensors.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let end = 0;
  let prev = '';
  for (const [name, e] of sorted) {
    if (e.begin < end) throw new WeightsFormatError(source, `tensors '${prev}' and '${name}' overlap in the data section`);
    if (e.begin > end) throw new WeightsFormatError(source, `tensor '${name}' starts at ${e.begin} but ${prev ? `'${prev}' ends` : 'the data section starts'} at ${end}: a ${e.begin - end}-byte gap (offsets must tile the data section)`);
    end = e.end;
    prev = name;
  }
  if (dataSize !== undefined && end !== dataSize) {
    throw new WeightsFormatError(source, `the tensors cover ${end} bytes but the data section holds ${dataSize}: ${dataSize - end} trailing bytes (a wrong header length, or bytes inserted)`);
  }
  return { headerSize: jsonBytes.byteLength, tensors, metadata };
}

/** What every safetensors store shares: the parsed header, names, shapes and metadata. */
abstract class SafetensorsHeaderStore {
  protected constructor(readonly header: SafetensorsHeader, protected readonly dataStart: number) {}
  abstract readonly source: string;
  abstract read(key: string): Promise<TypedArray>;
  get metadata(): Record<string, string> {
    return this.header.metadata;
  }
  keys(): string[] {
    return [...this.header.tensors.keys()];
  }
  info(key: string): TensorInfo | undefined {
    const e = this.header.tensors.get(key);
    return e && { dtype: e.dtype, shape: e.shape.slice() };
  }
  /** The header entry of `key`, or a WeightsFormatError naming the file. */
  protected entry(key: string): SafetensorsEntry {
    const e = this.header.tensors.get(key);
    if (!e) throw new WeightsFormatError(this.source, `no tensor named '${key}'`);
    return e;
  }
}

/** A TensorStore over a whole safetensors file already in memory. */
export class SafetensorsBytes extends SafetensorsHeaderStore implements TensorStore {
  constructor(private readonly bytes: Uint8Array, readonly source = 'safetensors bytes') {
    const n = readHeaderLength(bytes, source, bytes.byteLength);
    super(parseHeaderJson(bytes.subarray(8, 8 + n), source, bytes.byteLength - 8 - n), 8 + n);
  }
  async read(key: string): Promise<TypedArray> {
    return this.readSync(key);
  }
  readSync(key: string): TypedArray {
    const e = this.entry(key);
    return decodeTensorBytes(this.bytes.subarray(this.dataStart + e.begin, this.dataStart + e.end), e.dtype);
  }
}

/**
 * A TensorStore over a safetensors file reached through a ByteSource (a local file, a URL): the
 * header is read first, then each tensor's byte range only when it is asked for.
 */
export class SafetensorsSourceStore extends SafetensorsHeaderStore implements TensorStore {
  private constructor(private readonly src: ByteSource, header: SafetensorsHeader, dataStart: number) {
    super(header, dataStart);
  }

  static async open(src: ByteSource): Promise<SafetensorsSourceStore> {
    const n = readHeaderLength(await src.read(0, Math.min(8, src.size)), src.name, src.size);
    const header = parseHeaderJson(await src.read(8, n), src.name, src.size - 8 - n);
    return new SafetensorsSourceStore(src, header, 8 + n);
  }
  get source(): string {
    return this.src.name;
  }
  /** The tensor's raw little-endian bytes. */
  async readBytes(key: string): Promise<Uint8Array> {
    const e = this.entry(key);
    return this.src.read(this.dataStart + e.begin, e.end - e.begin);
  }
  async read(key: string): Promise<TypedArray> {
    const e = this.entry(key);
    return decodeTensorBytes(await this.readBytes(key), e.dtype, this.src.name);
  }
  async close(): Promise<void> {
    await this.src.close?.();
  }
}

/** Opens safetensors from any ByteSource (header now, tensors on demand). */
export function openSafetensors(src: ByteSource): Promise<SafetensorsSourceStore> {
  return SafetensorsSourceStore.open(src);
}

/** Parse safetensors bytes. */
export function parseSafetensors(bytes: Uint8Array, source?: string): SafetensorsBytes {
  return new SafetensorsBytes(bytes, source);
}

export interface TensorToWrite {
  dtype?: DType;
  shape: number[];
  data: TypedArray;
}

/** The header bytes (length prefix + padded JSON) and the tensors in file order, for writers. */
export interface SafetensorsLayout {
  prefix: Uint8Array;
  entries: Array<{ name: string; dtype: DType; tensor: TensorToWrite; bytes: number }>;
  totalBytes: number;
}

/** Validates tensors and lays them out: keys sorted (as the reference writer does), header padded to 8 bytes. */
export function planSafetensors(tensors: Record<string, TensorToWrite> | Map<string, TensorToWrite>, metadata?: Record<string, string>, source = 'encodeSafetensors'): SafetensorsLayout {
  const list = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new WeightsFormatError(source, `metadata '${k}' must be a string (safetensors allows only str -> str), got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  const entries: SafetensorsLayout['entries'] = [];
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new WeightsFormatError(source, "a tensor cannot be named '__metadata__'");
    const dtype = t.dtype ?? dtypeOfArray(t.data);
    if (!(dtype in DTYPE_BYTES)) throw new WeightsFormatError(source, `tensor '${name}': unknown dtype ${dtype}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new WeightsFormatError(source, `tensor '${name}': shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
    const n = shapeSize(t.shape);
    if (t.data.length !== n) throw new WeightsFormatError(source, `tensor '${name}': shape ${JSON.stringify(t.shape)} holds ${n} values but data has ${t.data.length}`);
    const bytes = n * DTYPE_BYTES[dtype];
    Object.defineProperty(header, name, { value: { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] }, enumerable: true, writable: true, configurable: true });
    entries.push({ name, dtype, tensor: t, bytes });
    offset += bytes;
  }
  const text = JSON.stringify(header);
  const raw = new TextEncoder().encode(text).byteLength;
  const json = new TextEncoder().encode(text + ' '.repeat((8 - (raw % 8)) % 8));
  const prefix = new Uint8Array(8 + json.byteLength);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  prefix.set(json, 8);
  return { prefix, entries, totalBytes: prefix.byteLength + offset };
}

/** The file's bytes as a sequence of chunks (header, then one chunk per tensor), encoded lazily. */
export function* safetensorsChunks(layout: SafetensorsLayout): Generator<Uint8Array> {
  yield layout.prefix;
  for (const e of layout.entries) yield encodeTensorBytes(e.tensor.data, e.dtype);
}

/**
 * Encode tensors as safetensors bytes that PyTorch's `safetensors.torch.load_file` reads back.
 * Keys are written sorted (as the reference writer does); data is 8-byte aligned via header padding.
 * Float32 data may be written as F16/BF16/F64 by setting `dtype`.
 */
export function encodeSafetensors(tensors: Record<string, TensorToWrite> | Map<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const layout = planSafetensors(tensors, metadata);
  const out = new Uint8Array(layout.totalBytes);
  let p = 0;
  for (const c of safetensorsChunks(layout)) {
    out.set(c, p);
    p += c.byteLength;
  }
  return out;
}
