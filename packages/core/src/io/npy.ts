// NumPy .npy and .npz: read and write. .npy = magic '\x93NUMPY', version, header length, a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded to 64 bytes, then the data.
// .npz = a zip of `<name>.npy` entries, stored (np.savez) or deflated (np.savez_compressed).
// Dtypes: f2 f4 f8 i1 i2 i4 i8 u1 b1 (little- or big-endian); Fortran-ordered arrays are returned in C order.
import { WeightsFormatError } from '../errors.js';
import { decodeTensorBytes, encodeTensorBytes } from './dtypes.js';
import { DTYPE_BYTES, dtypeOfArray, shapeSize, type DType, type TypedArray } from './store.js';
import { encodeZip, openZip } from './zip.js';

export interface NpyArray {
  dtype: DType;
  shape: number[];
  /** Values in C (row-major) order, decoded as TensorStore.read does (f2 -> Float32Array, b1 -> Uint8Array). */
  data: TypedArray;
}

export interface NpyInput {
  /** Defaults to the typed array's own type (Uint8Array -> U8). BOOL writes '|b1', F16 '<f2'. */
  dtype?: DType;
  shape: number[];
  data: TypedArray;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const DESCR_OF: Partial<Record<DType, string>> = { F64: '<f8', F32: '<f4', F16: '<f2', I64: '<i8', I32: '<i4', I16: '<i2', I8: '|i1', U8: '|u1', BOOL: '|b1' };
const DTYPE_OF_DESCR: Record<string, DType> = { f8: 'F64', f4: 'F32', f2: 'F16', i8: 'I64', i4: 'I32', i2: 'I16', i1: 'I8', u1: 'U8', b1: 'BOOL' };

/** Parses a .npy file. */
export function readNpy(bytes: Uint8Array, source = 'npy'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) throw new WeightsFormatError(source, 'not a .npy file (missing \\x93NUMPY magic)');
  const major = bytes[6];
  if (major < 1 || major > 3) throw new WeightsFormatError(source, `unsupported .npy version ${major}.${bytes[7]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw new WeightsFormatError(source, 'truncated .npy header');
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = 8 + lenBytes;
  if (start + hlen > bytes.length) throw new WeightsFormatError(source, `header length ${hlen} runs past the end of the ${bytes.length}-byte file`);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + hlen));
  const header = parseHeaderDict(text, source);
  const descr = header.descr;
  if (typeof descr !== 'string') throw new WeightsFormatError(source, `descr ${JSON.stringify(descr)} is not a simple dtype (structured arrays are not supported)`);
  const m = /^([<>|=])([fiub])(\d)$/.exec(descr);
  const dtype = m ? DTYPE_OF_DESCR[m[2] + m[3]] : undefined;
  if (!m || !dtype) throw new WeightsFormatError(source, `unsupported dtype '${descr}' (f2 f4 f8 i1 i2 i4 i8 u1 b1 are)`);
  if (typeof header.fortran_order !== 'boolean') throw new WeightsFormatError(source, "header has no boolean 'fortran_order'");
  const shape = header.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new WeightsFormatError(source, `shape ${JSON.stringify(shape)} is not a tuple of non-negative integers`);
  const size = DTYPE_BYTES[dtype];
  const n = shapeSize(shape);
  const dataStart = start + hlen;
  if (n * size !== bytes.length - dataStart) {
    throw new WeightsFormatError(source, `${descr}[${shape}] needs ${n * size} bytes of data but the file has ${bytes.length - dataStart}`);
  }
  let raw = bytes.subarray(dataStart);
  if (m[1] === '>' && size > 1) {
    raw = raw.slice();
    for (let o = 0; o < raw.length; o += size) raw.subarray(o, o + size).reverse();
  }
  if (header.fortran_order && shape.length > 1) raw = fortranToC(raw, shape as number[], size);
  return { dtype, shape: (shape as number[]).slice(), data: decodeTensorBytes(raw, dtype, source) };
}

/** Encodes a .npy file (version 1.0, header padded so the data starts at a multiple of 64). */
export function writeNpy(arr: NpyInput): Uint8Array {
  const dtype = arr.dtype ?? dtypeOfArray(arr.data);
  const descr = DESCR_OF[dtype];
  if (!descr) throw new WeightsFormatError('writeNpy', `dtype ${dtype} has no NumPy equivalent`);
  if (!arr.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new WeightsFormatError('writeNpy', `shape ${JSON.stringify(arr.shape)} is not a list of non-negative integers`);
  if (shapeSize(arr.shape) !== arr.data.length) throw new WeightsFormatError('writeNpy', `shape [${arr.shape}] holds ${shapeSize(arr.shape)} values but data has ${arr.data.length}`);
  const shapeText = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  if (dict.length > 0xffff) throw new WeightsFormatError('writeNpy', 'header too long for .npy version 1.0');
  const data = encodeTensorBytes(arr.data, dtype);
  const out = new Uint8Array(10 + dict.length + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  out.set(data, 10 + dict.length);
  return out;
}

/** Reads every array of an .npz archive, keyed by name (without '.npy'). */
export async function readNpz(bytes: Uint8Array, source = 'npz'): Promise<Map<string, NpyArray>> {
  const zip = await openZip(bytes, source);
  const out = new Map<string, NpyArray>();
  for (const name of zip.names()) {
    if (name.endsWith('/')) continue;
    const key = name.endsWith('.npy') ? name.slice(0, -4) : name;
    out.set(key, readNpy(await zip.read(name), `${source} (${name})`));
  }
  return out;
}

/** Encodes arrays as an .npz archive that np.load reads; `compress` deflates entries like np.savez_compressed. */
export function writeNpz(entries: Record<string, NpyInput> | Map<string, NpyInput>, opts: { compress?: boolean } = {}): Uint8Array {
  const list = [...(entries instanceof Map ? entries.entries() : Object.entries(entries))];
  return encodeZip(list.map(([name, arr]) => ({ name: `${name}.npy`, data: writeNpy(arr), deflate: !!opts.compress })));
}

function fortranToC(raw: Uint8Array, shape: number[], size: number): Uint8Array {
  const n = shapeSize(shape);
  const out = new Uint8Array(raw.length);
  const fStride: number[] = [];
  let s = 1;
  for (const d of shape) {
    fStride.push(s);
    s *= d;
  }
  const idx = new Array<number>(shape.length).fill(0);
  let src = 0;
  for (let o = 0; o < n; o++) {
    out.set(raw.subarray(src * size, src * size + size), o * size);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) {
        src += fStride[d];
        break;
      }
      src -= (shape[d] - 1) * fStride[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Deepest tuple nesting accepted in a .npy header (a shape is one level). */
const MAX_HEADER_NESTING = 8;

/** Parses the header's Python dict literal: string keys; str, bool, int and tuple-of-int values. */
function parseHeaderDict(text: string, source: string): Record<string, unknown> {
  let i = 0;
  const bad = (what: string): never => {
    throw new WeightsFormatError(source, `bad .npy header (${what}): ${JSON.stringify(text.slice(0, 120))}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const value = (depth = 0): unknown => {
    ws();
    const c = text[i];
    if (depth > MAX_HEADER_NESTING) bad(`tuples nested more than ${MAX_HEADER_NESTING} deep`);
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) bad('unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    if (c === '(') {
      i++;
      const items: unknown[] = [];
      for (;;) {
        ws();
        if (text[i] === ')') {
          i++;
          return items;
        }
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== ')') bad('expected , or )');
      }
    }
    if (c === '[') return bad('structured dtype');
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i, i + 24));
    if (!m) return bad(`unexpected '${c}'`);
    i += m[1].length;
    if (m[1] === 'True') return true;
    if (m[1] === 'False') return false;
    if (m[1] === 'None') return null;
    return Number(m[1].replace('L', ''));
  };
  ws();
  if (text[i] !== '{') bad('not a dict');
  i++;
  const out: Record<string, unknown> = {};
  for (;;) {
    ws();
    if (text[i] === '}') break;
    const k = value();
    if (typeof k !== 'string') bad('non-string key');
    ws();
    if (text[i] !== ':') bad('expected :');
    i++;
    Object.defineProperty(out, k as string, { value: value(), enumerable: true, writable: true, configurable: true });
    ws();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') bad('expected , or }');
  }
  return out;
}
