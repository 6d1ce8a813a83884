// PyTorch checkpoints (.pt / .pth, the zip format torch.save writes since 1.6): `<archive>/data.pkl`
// is a pickle of the saved object whose tensors refer, through persistent ids, to raw storages in
// `<archive>/data/<key>`. The pickle runs in our restricted VM (pickle.ts) with the allowlist of
// `torch.load(weights_only=True)`: any other global is refused with UnsafePickleError, never executed.
// Tensors are materialised from (storage, offset, size, stride), so views (transposes, slices, several
// tensors sharing one storage) come out exactly as torch.load gives them.
import { WeightsFormatError } from '../errors.js';
import { BytesSource, openUrlSource, type ByteSource, type UrlSourceOptions } from './byte-source.js';
import { decodeTensorBytes } from './dtypes.js';
import { openFileSource } from './file-source.js';
import { isPickleDict, newPickleDict, PyGlobal, setDictItem, unpickle, unpickleAt, type PickleHooks } from './pickle.js';
import { DTYPE_BYTES, MemoryTensorStore, shapeSize, type DType, type TypedArray } from './store.js';
import { ZipArchive } from './zip.js';
import { isLegacyTorchFile, readLegacyPreamble, readLegacyStorageData, readLegacyTar } from './torch-legacy.js';

/** A tensor of a checkpoint, materialised (contiguous, row-major), values decoded as TensorStore.read does. */
export class TorchTensor {
  /** Decoded values: F16/BF16 as Float32Array, BOOL as Uint8Array (0/1), I64 as BigInt64Array. */
  data: TypedArray = new Float32Array(0);
  requiresGrad = false;
  /** Saved as an nn.Parameter. */
  isParameter = false;
  constructor(readonly dtype: DType, readonly shape: number[]) {}
  /** torch's name of the dtype, e.g. 'torch.float32'. */
  get torchDtype(): string {
    return `torch.${TORCH_NAME_OF[this.dtype]}`;
  }
}

/** A storage the pickle referred to without a tensor around it (its bytes are not loaded). */
export class TorchStorage {
  /**
   * `key` names the bytes (a zip entry, a legacy root storage); `base` is where this storage starts in
   * them, in elements (legacy storage views), and `numel` its length.
   */
  constructor(readonly key: string, readonly dtype: DType | 'untyped', readonly numel: number, readonly device: string, readonly base = 0) {}
}

/** What loadTorchCheckpoint returns: plain JS values, with TorchTensor leaves. */
export type TorchValue =
  | null | boolean | number | bigint | string | Uint8Array | TorchTensor | TorchStorage
  | { real: number; imag: number } | TorchValue[] | Set<TorchValue> | { [key: string]: TorchValue };

const TORCH_NAME_OF: Record<DType, string> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const DTYPE_OF_TORCH: Record<string, DType> = Object.fromEntries(Object.entries(TORCH_NAME_OF).map(([d, t]) => [`torch.${t}`, d as DType]));
const DTYPE_OF_STORAGE: Record<string, DType> = {
  FloatStorage: 'F32', DoubleStorage: 'F64', HalfStorage: 'F16', BFloat16Storage: 'BF16', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

/** The globals torch.load(weights_only=True) accepts (torch/_weights_only_unpickler.py). */
export const TORCH_WEIGHTS_ONLY_GLOBALS: ReadonlySet<string> = (() => {
  const s = new Set<string>([
    'collections.OrderedDict', 'collections.Counter', 'torch.nn.parameter.Parameter', 'torch.serialization._get_layout',
    'torch.Size', 'torch.Tensor', 'torch.device', '_codecs.encode', 'builtins.bytearray', 'builtins.set', 'builtins.complex',
    'torch._tensor._rebuild_from_type_v2',
  ]);
  const dtypes = ['float32', 'float64', 'float16', 'bfloat16', 'complex32', 'complex64', 'complex128', 'uint8', 'int8', 'int16', 'int32', 'int64', 'bool',
    'qint8', 'quint8', 'qint32', 'quint4x2', 'quint2x4', 'float8_e5m2', 'float8_e4m3fn', 'float8_e5m2fnuz', 'float8_e4m3fnuz', 'float8_e8m0fnu', 'float4_e2m1fn_x2',
    'uint16', 'uint32', 'uint64', 'bits1x8', 'bits2x4', 'bits4x2', 'bits8', 'bits16'];
  for (let i = 1; i < 8; i++) dtypes.push(`uint${i}`, `int${i}`);
  for (const d of dtypes) s.add(`torch.${d}`);
  const kinds = ['Float', 'Double', 'Half', 'BFloat16', 'Long', 'Int', 'Short', 'Char', 'Byte', 'Bool', 'ComplexFloat', 'ComplexDouble'];
  for (const k of kinds) s.add(`torch.${k}Tensor`).add(`torch.cuda.${k}Tensor`).add(`torch.${k}Storage`).add(`torch.cuda.${k}Storage`);
  for (const q of ['QInt8', 'QUInt8', 'QInt32', 'QUInt4x2', 'QUInt2x4']) s.add(`torch.${q}Storage`);
  s.add('torch.UntypedStorage').add('torch.storage.TypedStorage').add('torch.storage.UntypedStorage');
  for (const q of ['per_tensor_affine', 'per_tensor_symmetric', 'per_channel_affine', 'per_channel_symmetric', 'per_channel_affine_float_qparams']) s.add(`torch.${q}`);
  for (const f of ['_rebuild_parameter', '_rebuild_parameter_with_state', '_rebuild_qtensor', '_rebuild_tensor', '_rebuild_tensor_v2', '_rebuild_tensor_v3',
    '_rebuild_sparse_tensor', '_rebuild_meta_tensor_no_storage', '_rebuild_wrapper_subclass', '_rebuild_device_tensor_from_numpy', '_rebuild_device_tensor_from_cpu_tensor']) {
    s.add(`torch._utils.${f}`);
  }
  return s;
})();

export interface LoadTorchCheckpointOptions extends UrlSourceOptions {
  /**
   * Largest tensor (bytes) to materialise. A view can be larger than its storage (stride 0, as
   * `expand` makes); by default no tensor may be larger than the file itself.
   */
  maxTensorBytes?: number;
  /** Verify each zip entry's CRC-32 (default true). */
  verifyCrc?: boolean;
  /**
   * Byte budget of the whole load (default 4 x the file size + 64 MiB): the pickle, every storage read
   * (checked before inflating), every tensor materialised (views count; identical views of one storage
   * share one array and count once) and what the pickle's allowlisted calls copy (bytearray, set,
   * OrderedDict(dict), ...: 64 bytes a copied item). Past it the load stops with a WeightsFormatError
   * before allocating. A legitimate checkpoint needs at most ~3x its size (F16 storages decode to F32).
   */
  maxBytes?: number;
}

/** Default byte budget of loadTorchCheckpoint: 4 x the file size + 64 MiB. */
export function defaultTorchLoadBudget(fileSize: number): number {
  return 4 * fileSize + 64 * 2 ** 20;
}

/** Deepest chain of nested rebuild calls (_rebuild_from_type_v2 around _rebuild_from_type_v2 ...) accepted. */
export const MAX_REBUILD_DEPTH = 16;

/** Counts bytes against a load's budget; throws a WeightsFormatError naming the file once past it. */
export class LoadBudget {
  used = 0;
  constructor(readonly file: string, readonly limit: number) {}
  charge(bytes: number, what: string): void {
    if (!(bytes >= 0)) return;
    if (this.used + bytes > this.limit) {
      throw new WeightsFormatError(this.file, `${what} would take ${bytes} bytes, past the load's ${this.limit}-byte budget (${this.used} used; raise maxBytes to allow it)`);
    }
    this.used += bytes;
  }
}

export interface PendingTensor {
  tensor: TorchTensor;
  storage: TorchStorage;
  offset: number;
  stride: number[];
}

/**
 * Loads a torch.save checkpoint from bytes, a local path (Node), a URL or any ByteSource. Returns the
 * saved object as plain JS values with TorchTensor leaves (see TorchValue). Only the weights-only
 * allowlist is accepted (UnsafePickleError otherwise); malformed files give WeightsFormatError.
 */
export async function loadTorchCheckpoint(input: Uint8Array | string | ByteSource, opts: LoadTorchCheckpointOptions = {}): Promise<TorchValue> {
  const owned = typeof input === 'string';
  const src: ByteSource = input instanceof Uint8Array ? new BytesSource(input, 'checkpoint bytes')
    : typeof input === 'string' ? (/^https?:\/\//i.test(input) ? await openUrlSource(input, opts) : await openFileSource(input))
    : input;
  try {
    return await guardDepth(src.name, () => loadFromSource(src, opts));
  } finally {
    if (owned) await src.close?.();
  }
}

/** Runs `fn`, turning a stack overflow (hostile nesting the checks missed) into a WeightsFormatError. */
export async function guardDepth<T>(file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof RangeError) throw new WeightsFormatError(file, `nesting or sizes beyond what a weights file holds (${e.message})`, e);
    throw e;
  }
}

async function loadFromSource(src: ByteSource, opts: LoadTorchCheckpointOptions): Promise<TorchValue> {
  const name = src.name;
  const budget = new LoadBudget(name, opts.maxBytes ?? defaultTorchLoadBudget(src.size));
  const magic = await src.read(0, Math.min(src.size, 512));
  if (isLegacyTorchFile(magic, src.size)) return loadLegacyTorch(src, { budget, maxTensorBytes: opts.maxTensorBytes });
  if (!(magic[0] === 0x50 && magic[1] === 0x4b)) throw new WeightsFormatError(name, 'bad zip: not a torch.save zip checkpoint (no PK signature)');
  const zip = await ZipArchive.open(src);
  const pkl = zip.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n) || n === 'data.pkl').sort((a, b) => a.length - b.length)[0];
  if (!pkl) throw new WeightsFormatError(name, 'not a torch.save checkpoint: the zip has no <archive>/data.pkl');
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  let bigEndian = false;
  if (zip.has(`${prefix}byteorder`)) {
    const bo = new TextDecoder().decode(await zip.read(`${prefix}byteorder`)).trim();
    if (bo !== 'little' && bo !== 'big') throw new WeightsFormatError(name, `unknown byteorder '${bo.slice(0, 20)}'`);
    bigEndian = bo === 'big';
  }
  const verify = opts.verifyCrc ?? true;
  const pickleSource = `${name} (${pkl})`;
  const pending: PendingTensor[] = [];
  const storages = new Map<string, TorchStorage>();
  budget.charge(zip.entries.get(pkl)!.size, `the pickle ${pkl}`);
  const root = unpickle(await zip.read(pkl, { verify }), torchHooks(pickleSource, pending, storages, budget), pickleSource) as TorchValue;

  // Materialise every tensor, one storage entry at a time.
  const maxBytes = opts.maxTensorBytes ?? src.size;
  const byKey = new Map<string, PendingTensor[]>();
  for (const p of pending) {
    const list = byKey.get(p.storage.key);
    if (list) list.push(p);
    else byKey.set(p.storage.key, [p]);
  }
  for (const [key, list] of byKey) {
    const entry = `${prefix}data/${key}`;
    const en = zip.entries.get(entry);
    if (!en) throw new WeightsFormatError(name, `storage '${key}' is missing (no zip entry ${entry})`);
    // torch.save writes exactly the storage's bytes: check the declared size before inflating anything.
    const declared = Math.max(...list.map((p) => storageBytes(p.storage)));
    if (en.size !== declared) throw new WeightsFormatError(name, `storage '${key}': the zip entry holds ${en.size} bytes but the pickle declares ${declared}`);
    budget.charge(en.size, `storage '${key}'`);
    const raw = await zip.read(entry, { verify });
    materialiseAll(list, raw, bigEndian, maxBytes, name, budget);
  }
  return root;
}

const ELEMENT_SIZE_OF_STORAGE = (typeName: string): number | undefined => {
  const d = DTYPE_OF_STORAGE[typeName];
  return d ? DTYPE_BYTES[d] : undefined;
};

/** Loads a legacy (pre-1.6) torch.save file: the stream format or the older tar format (torch-legacy.ts). */
async function loadLegacyTorch(src: ByteSource, opts: { budget: LoadBudget; maxTensorBytes?: number }): Promise<TorchValue> {
  const name = src.name;
  const { budget } = opts;
  const maxBytes = opts.maxTensorBytes ?? src.size;
  budget.charge(src.size, 'the legacy file');
  const bytes = await src.read(0, src.size);
  const pending: PendingTensor[] = [];
  const storages = new Map<string, TorchStorage>();
  const hooks = torchHooks(`${name} (pickle)`, pending, storages, budget);
  if (bytes[0] === 0x80) {
    const start = readLegacyPreamble(bytes, name, TORCH_WEIGHTS_ONLY_GLOBALS);
    const r = unpickleAt(bytes.subarray(start), hooks, `${name} (pickle)`);
    const roots = new Map<string, TorchStorage>();
    for (const s of storages.values()) if (!s.base && !roots.has(s.key)) roots.set(s.key, s);
    for (const s of storages.values()) {
      const root = roots.get(s.key);
      if (!root) throw new WeightsFormatError(name, `storage view of '${s.key}' without its root storage`);
      if (root.dtype !== s.dtype) throw new WeightsFormatError(name, `storage '${s.key}' is declared with two types`);
    }
    const data = readLegacyStorageData(bytes, start + r.end, name, TORCH_WEIGHTS_ONLY_GLOBALS, (key) => {
      const root = roots.get(key);
      if (!root) throw new WeightsFormatError(name, `legacy torch.save: storage '${key}' has data but the object never refers to it`);
      return { elementSize: root.dtype === 'untyped' ? 1 : DTYPE_BYTES[root.dtype], numel: root.numel };
    });
    const byKey = groupByStorage(pending);
    for (const [key, list] of byKey) {
      const raw = data.get(key);
      if (!raw) throw new WeightsFormatError(name, `storage '${key}' is missing (not in the file's storage list)`);
      materialiseAll(list, raw, false, maxBytes, name, budget);
    }
    return r.value as TorchValue;
  }
  // tar format
  const tar = readLegacyTar(bytes, name, TORCH_WEIGHTS_ONLY_GLOBALS, ELEMENT_SIZE_OF_STORAGE);
  const raws = new Map<string, Uint8Array>();
  const objects = new Map<string, TorchStorage | TorchTensor>();
  for (const s of tar.storages) {
    raws.set(s.key, s.bytes);
    objects.set(s.key, new TorchStorage(s.key, DTYPE_OF_STORAGE[s.typeName], s.numel, 'cpu'));
  }
  for (const v of tar.views) {
    const root = objects.get(v.root);
    if (!(root instanceof TorchStorage) || root.base) throw new WeightsFormatError(name, `storage view '${v.key}' refers to '${v.root}', which is not a storage`);
    if (v.offset + v.numel > root.numel) throw new WeightsFormatError(name, `storage view '${v.key}' (offset ${v.offset}, ${v.numel} elements) lies outside its ${root.numel}-element storage '${v.root}'`);
    if (objects.has(v.key)) throw new WeightsFormatError(name, `storage view '${v.key}' is defined twice`);
    objects.set(v.key, new TorchStorage(root.key, root.dtype, v.numel, 'cpu', v.offset));
  }
  const tarPending: PendingTensor[] = [];
  for (const t of tar.tensors) {
    const storage = objects.get(t.storage);
    if (!(storage instanceof TorchStorage)) throw new WeightsFormatError(name, `tensor '${t.key}' refers to storage '${t.storage}', which the file does not hold`);
    if (objects.has(t.key)) throw new WeightsFormatError(name, `tensor key '${t.key}' is used twice`);
    const tensor = new TorchTensor(storage.dtype as DType, t.shape);
    objects.set(t.key, tensor);
    tarPending.push({ tensor, storage, offset: t.offset, stride: t.stride });
  }
  hooks.persistentLoad = (pid: unknown) => {
    if (Array.isArray(pid)) throw new WeightsFormatError(name, 'legacy torch.save: the pickle holds a module container (not a weights file; save a state_dict)');
    const key = typeof pid === 'string' && /^\d{1,24}$/.test(pid) ? String(BigInt(pid)) : typeof pid === 'number' && Number.isSafeInteger(pid) ? String(pid) : null;
    const obj = key === null ? undefined : objects.get(key);
    if (!obj) throw new WeightsFormatError(name, `legacy torch.save: persistent id ${describe(pid)} names no tensor or storage of the file`);
    return obj;
  };
  const value = unpickle(tar.pickle, hooks, `${name} (pickle)`) as TorchValue;
  for (const [key, list] of groupByStorage(tarPending.concat(pending))) materialiseAll(list, raws.get(key)!, false, maxBytes, name, budget);
  return value;
}

function groupByStorage(pending: PendingTensor[]): Map<string, PendingTensor[]> {
  const byKey = new Map<string, PendingTensor[]>();
  for (const p of pending) {
    const list = byKey.get(p.storage.key);
    if (list) list.push(p);
    else byKey.set(p.storage.key, [p]);
  }
  return byKey;
}

/** Bytes of a storage as the pickle declares it. */
export function storageBytes(s: TorchStorage): number {
  return s.dtype === 'untyped' ? s.numel : s.numel * DTYPE_BYTES[s.dtype];
}

/** Materialises the tensors of one storage; identical views share one array, each distinct one is charged. */
export function materialiseAll(list: PendingTensor[], raw: Uint8Array, bigEndian: boolean, maxTensorBytes: number, file: string, budget: LoadBudget): void {
  const done = new Map<string, TypedArray>();
  for (const p of list) {
    const key = `${p.tensor.dtype}|${p.storage.base}|${p.storage.numel}|${p.offset}|${p.tensor.shape}|${p.stride}`;
    const same = done.get(key);
    if (same) {
      p.tensor.data = same;
      continue;
    }
    const outBytes = shapeSize(p.tensor.shape) * (p.tensor.dtype === 'F16' || p.tensor.dtype === 'BF16' ? 4 : DTYPE_BYTES[p.tensor.dtype]);
    if (Number.isFinite(outBytes) && outBytes <= maxTensorBytes) budget.charge(outBytes, `tensor [${p.tensor.shape}] of storage '${p.storage.key}'`);
    p.tensor.data = materialise(p, raw, bigEndian, maxTensorBytes, file);
    done.set(key, p.tensor.data);
  }
}

export function materialise(p: PendingTensor, raw: Uint8Array, bigEndian: boolean, maxBytes: number, file: string): TypedArray {
  const { tensor, storage, offset, stride } = p;
  const size = DTYPE_BYTES[tensor.dtype];
  if (storage.base) {
    const start = storage.base * size;
    if (start + storageBytes(storage) > raw.byteLength) {
      throw new WeightsFormatError(file, `storage view at element ${storage.base} (${storage.numel} elements) runs past its ${raw.byteLength}-byte root storage '${storage.key}'`);
    }
    raw = raw.subarray(start);
  }
  const storageElems = storage.dtype === 'untyped' ? Math.floor(storage.numel / size) : storage.numel;
  const declaredBytes = storage.dtype === 'untyped' ? storage.numel : storage.numel * size;
  if (raw.byteLength < declaredBytes) {
    throw new WeightsFormatError(file, `storage '${storage.key}' holds ${raw.byteLength} bytes but the checkpoint declares ${declaredBytes}`);
  }
  const shape = tensor.shape;
  const numel = shapeSize(shape);
  if (numel === 0) return decodeTensorBytes(new Uint8Array(0), tensor.dtype, file);
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * stride[d];
  if (last >= storageElems) {
    throw new WeightsFormatError(file, `tensor view (offset ${offset}, size [${shape}], stride [${stride}]) reaches element ${last} of a ${storageElems}-element storage '${storage.key}'`);
  }
  if (numel * size > maxBytes) {
    throw new WeightsFormatError(file, `tensor of size [${shape}] would take ${numel * size} bytes, more than maxTensorBytes (${maxBytes}; a broadcast view of storage '${storage.key}')`);
  }
  let contiguous = true;
  for (let d = shape.length - 1, expect = 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expect) contiguous = false;
    expect *= shape[d];
  }
  let bytes: Uint8Array;
  if (contiguous) bytes = raw.subarray(offset * size, (offset + numel) * size);
  else {
    bytes = new Uint8Array(numel * size);
    // Copy whole elements through unsigned views of the element width (8-byte elements as two words).
    const words = size === 8 ? 2 : 1;
    const width = size === 1 ? 1 : size === 2 ? 2 : 4;
    const view = (b: Uint8Array): Uint8Array | Uint16Array | Uint32Array => {
      const a = b.byteOffset % width ? b.slice() : b;
      const len = Math.floor(a.byteLength / width);
      return width === 1 ? a : width === 2 ? new Uint16Array(a.buffer, a.byteOffset, len) : new Uint32Array(a.buffer, a.byteOffset, len);
    };
    const from = view(raw);
    const to = view(bytes);
    const idx = new Array<number>(shape.length).fill(0);
    let src = offset;
    for (let o = 0; o < numel; o++) {
      if (words === 1) to[o] = from[src];
      else {
        to[2 * o] = from[2 * src];
        to[2 * o + 1] = from[2 * src + 1];
      }
      for (let d = shape.length - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) {
          src += stride[d];
          break;
        }
        src -= (shape[d] - 1) * stride[d];
        idx[d] = 0;
      }
    }
  }
  if (bigEndian && size > 1) {
    if (bytes.buffer === raw.buffer) bytes = bytes.slice();
    for (let o = 0; o < bytes.length; o += size) bytes.subarray(o, o + size).reverse();
  }
  return decodeTensorBytes(bytes, tensor.dtype, file);
}

export function torchHooks(source: string, pending: PendingTensor[], storages: Map<string, TorchStorage>, budget: LoadBudget): PickleHooks {
  const bad = (problem: string): never => {
    throw new WeightsFormatError(source, problem);
  };
  const unsupported = (what: string): never => bad(`${what} is allowlisted by torch but not supported by this reader`);
  const intList = (v: unknown, what: string): number[] => {
    if (!Array.isArray(v) || !v.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) bad(`${what} ${describe(v)} is not a tuple of non-negative integers`);
    return (v as number[]).slice();
  };
  const tensorArg = (v: unknown, what: string): TorchTensor => (v instanceof TorchTensor ? v : bad(`${what}: expected a tensor, got ${describe(v)}`));
  const rebuild = (storage: unknown, offset: unknown, size: unknown, stride: unknown, requiresGrad: unknown, dtypeArg?: unknown): TorchTensor => {
    if (!(storage instanceof TorchStorage)) return bad(`tensor rebuild: expected a storage, got ${describe(storage)}`);
    let dtype: DType;
    if (dtypeArg !== undefined) {
      const dn = dtypeArg instanceof PyGlobal ? dtypeArg.fullName : String(dtypeArg);
      const d = DTYPE_OF_TORCH[dn];
      if (!d) return unsupported(`dtype ${dn}`);
      if (storage.dtype !== 'untyped' && storage.dtype !== d) bad(`tensor of ${dn} on a ${storage.dtype} storage`);
      dtype = d;
    } else {
      if (storage.dtype === 'untyped') return bad('an untyped storage needs _rebuild_tensor_v3 with a dtype');
      dtype = storage.dtype;
    }
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) bad(`storage offset ${describe(offset)} is not a non-negative integer`);
    const shape = intList(size, 'tensor size');
    const strides = intList(stride, 'tensor stride');
    if (strides.length !== shape.length) bad(`tensor size [${shape}] and stride [${strides}] differ in length`);
    const t = new TorchTensor(dtype, shape);
    t.requiresGrad = requiresGrad === true;
    pending.push({ tensor: t, storage, offset: offset as number, stride: strides });
    return t;
  };
  /** Items an allowlisted call copies cost 64 bytes each against the budget (a JS value or property). */
  const copies = (n: number, what: string) => budget.charge(64 * n, `${what} copying ${n} items`);
  const call = (fn: PyGlobal, args: unknown[], kind: 'reduce' | 'newobj', depth = 0): unknown => {
    if (depth > MAX_REBUILD_DEPTH) return bad(`rebuild calls nested more than ${MAX_REBUILD_DEPTH} deep`);
    switch (fn.fullName) {
      case 'torch._utils._rebuild_tensor': return rebuild(args[0], args[1], args[2], args[3], false);
      case 'torch._utils._rebuild_tensor_v2': return rebuild(args[0], args[1], args[2], args[3], args[4]);
      case 'torch._utils._rebuild_tensor_v3': return rebuild(args[0], args[1], args[2], args[3], args[4], args[6]);
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
      case 'torch.nn.parameter.Parameter': {
        const t = tensorArg(args[0], fn.name);
        t.isParameter = true;
        t.requiresGrad = args.length > 1 ? args[1] === true : true;
        return t;
      }
      case 'torch._utils._rebuild_device_tensor_from_cpu_tensor': return tensorArg(args[0], fn.name);
      case 'torch._tensor._rebuild_from_type_v2': {
        const [f, type, inner] = args;
        if (!(f instanceof PyGlobal)) return bad('_rebuild_from_type_v2: the function is not an allowlisted global');
        if (!(type instanceof PyGlobal) || (type.fullName !== 'torch.Tensor' && type.fullName !== 'torch.nn.parameter.Parameter')) {
          return unsupported(`tensor subclass ${type instanceof PyGlobal ? type.fullName : describe(type)}`);
        }
        if (!Array.isArray(inner)) return bad('_rebuild_from_type_v2: arguments are not a tuple');
        const t = tensorArg(call(f, inner as unknown[], 'reduce', depth + 1), fn.name);
        if (type.fullName === 'torch.nn.parameter.Parameter') t.isParameter = true;
        return t;
      }
      case 'collections.OrderedDict':
      case 'collections.Counter': {
        const d = newPickleDict();
        const init = args[0];
        if (init === undefined || init === null) return d;
        if (isPickleDict(init)) copies(Object.keys(init).length, fn.name);
        else if (Array.isArray(init)) copies(init.length, fn.name);
        if (isPickleDict(init)) for (const [k, v] of Object.entries(init)) setDictItem(d, k, v, source);
        else if (Array.isArray(init)) {
          for (const pair of init) {
            if (!Array.isArray(pair) || pair.length !== 2) bad(`${fn.name}: items are not (key, value) pairs`);
            setDictItem(d, (pair as unknown[])[0], (pair as unknown[])[1], source);
          }
        } else bad(`${fn.name}: cannot build from ${describe(init)}`);
        return d;
      }
      case 'torch.Size': {
        if (Array.isArray(args[0])) copies(args[0].length, 'torch.Size');
        return intList(args[0] ?? [], 'torch.Size');
      }
      case 'torch.device': {
        const [type, index] = args;
        if (typeof type !== 'string') return bad('torch.device: type is not a string');
        return index === undefined || index === null ? type : `${type}:${index}`;
      }
      case 'torch.serialization._get_layout': return String(args[0]);
      case '_codecs.encode': {
        const [s, enc] = args;
        if (typeof s !== 'string') return bad('_codecs.encode: not a string');
        if (enc !== undefined && enc !== 'latin1' && enc !== 'latin-1') return unsupported(`_codecs.encode with encoding ${describe(enc)}`);
        budget.charge(s.length, '_codecs.encode');
        const out = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) {
          const c = s.charCodeAt(i);
          if (c > 255) bad('_codecs.encode: character outside latin-1');
          out[i] = c;
        }
        return out;
      }
      case 'builtins.bytearray': {
        const a = args[0];
        if (a === undefined) return new Uint8Array(0);
        if (a instanceof Uint8Array) budget.charge(a.byteLength, 'bytearray');
        else if (Array.isArray(a)) copies(a.length, 'bytearray');
        if (a instanceof Uint8Array) return a.slice();
        if (Array.isArray(a) && a.every((x) => Number.isInteger(x) && x >= 0 && x < 256)) return Uint8Array.from(a as number[]);
        return unsupported(`bytearray(${describe(a)})`);
      }
      case 'builtins.set': {
        const a = args[0];
        if (a === undefined) return new Set();
        if (Array.isArray(a) || a instanceof Set) copies(Array.isArray(a) ? a.length : a.size, 'set');
        if (Array.isArray(a) || a instanceof Set) return new Set(a as Iterable<unknown>);
        return bad(`set(${describe(a)})`);
      }
      case 'builtins.complex': {
        const [re, im] = args;
        if ((re !== undefined && typeof re !== 'number') || (im !== undefined && typeof im !== 'number')) return bad('complex() with non-numbers');
        return { real: (re as number) ?? 0, imag: (im as number) ?? 0 };
      }
      default:
        return unsupported(`${kind === 'newobj' ? 'constructing' : 'calling'} ${fn.fullName}`);
    }
  };
  const persistentLoad = (pid: unknown): TorchStorage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || (pid.length !== 5 && pid.length !== 6)) return bad(`persistent id ${describe(pid)} is not ('storage', type, key, location, numel[, view])`);
    const [, type, key, location, numel, view] = pid as unknown[];
    if (!(type instanceof PyGlobal)) return bad('storage type is not a global');
    if (typeof key !== 'string' && typeof key !== 'number') return bad('storage key is not a string');
    if (!Number.isSafeInteger(numel) || (numel as number) < 0) return bad(`storage size ${describe(numel)} is not a non-negative integer`);
    const untyped = type.name === 'UntypedStorage';
    const dtype: DType | 'untyped' | undefined = untyped ? 'untyped' : DTYPE_OF_STORAGE[type.name];
    if (!dtype) return unsupported(`storage type ${type.fullName}`);
    const k = String(key);
    if (!/^[A-Za-z0-9_.-]+$/.test(k) || k.includes('..')) return bad(`storage key '${k.slice(0, 40)}' is not a plain name`);
    const id = `${k}:${dtype}`;
    let s = storages.get(id);
    if (!s) storages.set(id, (s = new TorchStorage(k, dtype, numel as number, String(location))));
    else if (s.numel !== numel) return bad(`storage '${k}' is declared with ${s.numel} and ${describe(numel)} elements`);
    if (view !== undefined && view !== null) {
      // legacy stream format: (view_key, offset, size) of a view into the root storage
      if (!Array.isArray(view) || view.length !== 3) return bad(`storage view ${describe(view)} is not (key, offset, size)`);
      const [vk, off, size] = view as unknown[];
      if (!Number.isSafeInteger(off) || !Number.isSafeInteger(size) || (off as number) < 0 || (size as number) < 0 || (off as number) + (size as number) > (numel as number)) {
        return bad(`storage view (offset ${describe(off)}, size ${describe(size)}) lies outside its ${describe(numel)}-element storage '${k}'`);
      }
      const vid = `view:${String(vk)}:${dtype}`;
      let v = storages.get(vid);
      if (!v) storages.set(vid, (v = new TorchStorage(k, dtype, size as number, String(location), off as number)));
      else if (v.base !== off || v.numel !== size || v.key !== k) return bad(`storage view '${String(vk).slice(0, 40)}' is declared twice differently`);
      return v;
    }
    return s;
  };
  const build = (obj: unknown, state: unknown): unknown => {
    // _rebuild_parameter_with_state / tensor subclasses set Python attributes: nothing to keep for weights.
    if (obj instanceof TorchTensor && (state === null || isPickleDict(state) || Array.isArray(state))) return obj;
    return bad(`BUILD on ${describe(obj)} is not allowed`);
  };
  return { allowed: TORCH_WEIGHTS_ONLY_GLOBALS, call, persistentLoad, build };
}

function describe(v: unknown, depth = 0): string {
  if (v instanceof PyGlobal) return v.fullName;
  if (Array.isArray(v)) return depth > 2 ? '(…)' : `(${v.slice(0, 6).map((x) => describe(x, depth + 1)).join(', ')}${v.length > 6 ? ', …' : ''})`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (v instanceof TorchTensor) return `tensor[${v.shape}]`;
  if (v === null) return 'None';
  if (typeof v === 'object') return v.constructor?.name ?? 'object';
  return String(v);
}

/** Deepest nesting walked by torchTensors (a crafted pickle can nest far deeper than any checkpoint). */
const MAX_DEPTH = 512;

/**
 * Every tensor under `obj`, keyed by its dotted path ('model.blocks.0.weight'; list items by index).
 * Non-tensor leaves (numbers, strings, ...) are skipped; cycles are walked once.
 */
export function torchTensors(obj: unknown, prefix = ''): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  const seen = new Set<unknown>();
  const stack: Array<[unknown, string, number]> = [[obj, prefix.replace(/\.$/, ''), 0]];
  while (stack.length) {
    const [v, key, depth] = stack.pop()!;
    if (v instanceof TorchTensor) {
      out.set(key, v);
      continue;
    }
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    if (depth > MAX_DEPTH) throw new WeightsFormatError('torchTensors', `nesting deeper than ${MAX_DEPTH} levels at '${key.slice(0, 80)}'`);
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const)
      : Object.getPrototypeOf(v) === Object.prototype ? Object.entries(v as Record<string, unknown>) : null;
    if (!entries) continue;
    seen.add(v);
    for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i][1], key ? `${key}.${entries[i][0]}` : entries[i][0], depth + 1]);
  }
  return out;
}

/**
 * A TensorStore over the tensors of a (nested) checkpoint dict, with dotted keys, so
 * `module.loadStateDict(torchStateDictStore(ckpt.model))` works. `prefix` is prepended to every key.
 */
export function torchStateDictStore(obj: unknown, prefix = '', source = 'torch checkpoint'): MemoryTensorStore {
  const p = prefix && !prefix.endsWith('.') ? `${prefix}.` : prefix;
  const map = new Map<string, { dtype: DType; shape: number[]; data: TypedArray }>();
  for (const [k, t] of torchTensors(obj)) map.set(p + k, { dtype: t.dtype, shape: t.shape, data: t.data });
  return new MemoryTensorStore(map, source);
}

