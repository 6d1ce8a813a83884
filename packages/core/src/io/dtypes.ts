// Byte <-> typed-array conversion for every safetensors dtype (little-endian, as the format fixes).
import { WeightsFormatError } from '../errors.js';
import type { DType, TypedArray } from './store.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half -> float32. */
export function halfToFloat(h: number): number {
  const s = (h & 0x8000) >> 15;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  let v: number;
  if (e === 0) v = f * 2 ** -24; // subnormal
  else if (e === 31) v = f ? NaN : Infinity;
  else v = (1 + f / 1024) * 2 ** (e - 15);
  return s ? -v : v;
}

/** float32 -> IEEE half, round to nearest even. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** bfloat16 bits -> float32. */
export function bf16ToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** float32 -> bfloat16 bits, round to nearest even (as torch does). */
export function floatToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) return 0x7fc0;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** True on little-endian hosts (all current browsers and Node platforms): typed arrays can view file bytes directly. */
const HOST_LE = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** A copy of `bytes` in a fresh (hence aligned) buffer. */
function alignedCopy(bytes: Uint8Array): ArrayBuffer {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out.buffer;
}

/** Decode a tensor's little-endian bytes. Half types become Float32Array, BOOL/U8 Uint8Array. */
export function decodeTensorBytes(bytes: Uint8Array, dtype: DType, source = 'tensor'): TypedArray {
  const size = ({ F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 } as Record<string, number>)[dtype];
  if (size === undefined) throw new WeightsFormatError(source, `unknown dtype ${dtype}`);
  if (bytes.byteLength % size) throw new WeightsFormatError(source, `${bytes.byteLength} bytes is not a whole number of ${dtype} values`);
  if (HOST_LE) {
    // Fast path: one memcpy into an aligned buffer, then a typed-array view (or a table-free half decode).
    switch (dtype) {
      case 'F64': return new Float64Array(alignedCopy(bytes));
      case 'F32': return new Float32Array(alignedCopy(bytes));
      case 'I64': return new BigInt64Array(alignedCopy(bytes));
      case 'I32': return new Int32Array(alignedCopy(bytes));
      case 'I16': return new Int16Array(alignedCopy(bytes));
      case 'F16': {
        const h = bytes.byteOffset % 2 ? new Uint16Array(alignedCopy(bytes)) : new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
        const o = new Float32Array(h.length);
        for (let i = 0; i < h.length; i++) o[i] = halfToFloat(h[i]);
        return o;
      }
      case 'BF16': {
        const h = bytes.byteOffset % 2 ? new Uint16Array(alignedCopy(bytes)) : new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
        const o = new Uint32Array(h.length);
        for (let i = 0; i < h.length; i++) o[i] = h[i] << 16;
        return new Float32Array(o.buffer);
      }
      default: break;
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F64': { const o = new Float64Array(bytes.byteLength / 8); for (let i = 0; i < o.length; i++) o[i] = view.getFloat64(i * 8, true); return o; }
    case 'F32': { const o = new Float32Array(bytes.byteLength / 4); for (let i = 0; i < o.length; i++) o[i] = view.getFloat32(i * 4, true); return o; }
    case 'F16': { const o = new Float32Array(bytes.byteLength / 2); for (let i = 0; i < o.length; i++) o[i] = halfToFloat(view.getUint16(i * 2, true)); return o; }
    case 'BF16': { const o = new Float32Array(bytes.byteLength / 2); for (let i = 0; i < o.length; i++) o[i] = bf16ToFloat(view.getUint16(i * 2, true)); return o; }
    case 'I64': { const o = new BigInt64Array(bytes.byteLength / 8); for (let i = 0; i < o.length; i++) o[i] = view.getBigInt64(i * 8, true); return o; }
    case 'I32': { const o = new Int32Array(bytes.byteLength / 4); for (let i = 0; i < o.length; i++) o[i] = view.getInt32(i * 4, true); return o; }
    case 'I16': { const o = new Int16Array(bytes.byteLength / 2); for (let i = 0; i < o.length; i++) o[i] = view.getInt16(i * 2, true); return o; }
    case 'I8': return new Int8Array(bytes.slice().buffer);
    case 'U8':
    case 'BOOL': return bytes.slice();
    default: throw new WeightsFormatError(source, `unknown dtype ${dtype}`);
  }
}

/** Encode values as little-endian bytes of `dtype` (float data may be narrowed to F16/BF16). */
export function encodeTensorBytes(data: TypedArray, dtype: DType): Uint8Array {
  const n = data.length;
  const size = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1 }[dtype as Exclude<DType, 'BOOL'>] ?? 1;
  // Fast path: the data already has the file's representation (little-endian host, same element type).
  const same = (dtype === 'F64' && data instanceof Float64Array) || (dtype === 'F32' && data instanceof Float32Array)
    || (dtype === 'I64' && data instanceof BigInt64Array) || (dtype === 'I32' && data instanceof Int32Array)
    || (dtype === 'I16' && data instanceof Int16Array) || (dtype === 'I8' && data instanceof Int8Array) || (dtype === 'U8' && data instanceof Uint8Array);
  if (HOST_LE && same) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  const out = new Uint8Array(n * size);
  const v = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const x = data[i] as number | bigint;
    switch (dtype) {
      case 'F64': v.setFloat64(i * 8, Number(x), true); break;
      case 'F32': v.setFloat32(i * 4, Number(x), true); break;
      case 'F16': v.setUint16(i * 2, floatToHalf(Number(x)), true); break;
      case 'BF16': v.setUint16(i * 2, floatToBf16(Number(x)), true); break;
      case 'I64': v.setBigInt64(i * 8, typeof x === 'bigint' ? x : BigInt(Math.trunc(x)), true); break;
      case 'I32': v.setInt32(i * 4, Number(x), true); break;
      case 'I16': v.setInt16(i * 2, Number(x), true); break;
      case 'I8': v.setInt8(i, Number(x)); break;
      case 'U8': v.setUint8(i, Number(x)); break;
      case 'BOOL': v.setUint8(i, Number(x) ? 1 : 0); break;
    }
  }
  return out;
}
