// TensorStore: the one interface every weights reader (safetensors bytes/file/URL, PyTorch .pt,
// in-memory maps) implements. Readers expose names, dtypes and shapes up front and read a tensor's
// data only when asked, so loading a large checkpoint never holds two copies of it.
import * as tf from '@tensorflow/tfjs-core';

/** safetensors dtype names; PyTorch dtypes map onto these. */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<DType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export type TypedArray =
  | Float64Array | Float32Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface TensorInfo {
  dtype: DType;
  shape: number[];
}

export interface TensorStore {
  /** Where the tensors come from (file path, URL, 'memory'): used in error messages. */
  readonly source: string;
  keys(): string[];
  info(key: string): TensorInfo | undefined;
  /**
   * The tensor's values, decoded: F64 -> Float64Array, F32/F16/BF16 -> Float32Array,
   * I64 -> BigInt64Array, I32/I16/I8 -> their typed arrays, U8/BOOL -> Uint8Array.
   */
  read(key: string): Promise<TypedArray>;
  /** Free file handles etc. Idempotent. */
  close?(): Promise<void> | void;
}

/** Values of a tensor as float32 (int and bool types converted), for loading into float parameters. */
export async function readFloat32(store: TensorStore, key: string): Promise<Float32Array> {
  const data = await store.read(key);
  if (data instanceof Float32Array) return data;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  return out;
}

/** Product of a shape's dims (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export interface MemoryTensor {
  dtype?: DType;
  shape: number[];
  data: TypedArray;
}

/** A TensorStore over values already in memory: plain arrays or tfjs tensors (read asynchronously). */
export class MemoryTensorStore implements TensorStore {
  readonly source: string;
  private readonly entries = new Map<string, MemoryTensor | tf.Tensor>();
  constructor(entries: Record<string, MemoryTensor | tf.Tensor> | Map<string, MemoryTensor | tf.Tensor>, source = 'memory') {
    this.source = source;
    const it = entries instanceof Map ? entries.entries() : Object.entries(entries);
    for (const [k, v] of it) this.entries.set(k, v);
  }
  keys(): string[] {
    return [...this.entries.keys()];
  }
  info(key: string): TensorInfo | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e instanceof tf.Tensor) return { dtype: e.dtype === 'int32' ? 'I32' : e.dtype === 'bool' ? 'BOOL' : 'F32', shape: e.shape.slice() };
    return { dtype: e.dtype ?? dtypeOfArray(e.data), shape: e.shape.slice() };
  }
  async read(key: string): Promise<TypedArray> {
    const e = this.entries.get(key);
    if (!e) throw new Error(`${this.source}: no tensor '${key}'`);
    if (e instanceof tf.Tensor) return (await e.data()) as TypedArray;
    return e.data;
  }
}

export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float64Array) return 'F64';
  if (a instanceof Float32Array) return 'F32';
  if (a instanceof BigInt64Array) return 'I64';
  if (a instanceof Int32Array) return 'I32';
  if (a instanceof Int16Array) return 'I16';
  if (a instanceof Int8Array) return 'I8';
  return 'U8';
}
