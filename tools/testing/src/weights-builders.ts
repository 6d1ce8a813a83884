// Builders of weights files for tests: pickles written opcode by opcode (to make exactly the bytes a
// test needs, malicious ones included) and torch.save-style zip checkpoints around them, written the
// way torch.save lays them out (`<archive>/data.pkl`, `byteorder`, `data/<key>`, 64-byte aligned).
// Written from the pickle and torch.save formats; no torch needed.
import { encodeZip, mulberry32 } from '@fae/core';

/** Pickle opcodes by name (protocols 0-5). */
export const OP = {
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32, FLOAT: 0x46, INT: 0x49, BININT: 0x4a, BININT1: 0x4b, LONG: 0x4c,
  BININT2: 0x4d, NONE: 0x4e, PERSID: 0x50, BINPERSID: 0x51, REDUCE: 0x52, STRING: 0x53, BINSTRING: 0x54, SHORT_BINSTRING: 0x55,
  UNICODE: 0x56, BINUNICODE: 0x58, APPEND: 0x61, BUILD: 0x62, GLOBAL: 0x63, DICT: 0x64, EMPTY_DICT: 0x7d, APPENDS: 0x65, GET: 0x67,
  BINGET: 0x68, INST: 0x69, LONG_BINGET: 0x6a, LIST: 0x6c, EMPTY_LIST: 0x5d, OBJ: 0x6f, PUT: 0x70, BINPUT: 0x71, LONG_BINPUT: 0x72,
  SETITEM: 0x73, TUPLE: 0x74, EMPTY_TUPLE: 0x29, SETITEMS: 0x75, BINFLOAT: 0x47, PROTO: 0x80, NEWOBJ: 0x81, EXT1: 0x82, TUPLE1: 0x85,
  TUPLE2: 0x86, TUPLE3: 0x87, NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a, LONG4: 0x8b, BINBYTES: 0x42, SHORT_BINBYTES: 0x43,
  SHORT_BINUNICODE: 0x8c, BINUNICODE8: 0x8d, BINBYTES8: 0x8e, EMPTY_SET: 0x8f, ADDITEMS: 0x90, FROZENSET: 0x91, NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93, MEMOIZE: 0x94, FRAME: 0x95, BYTEARRAY8: 0x96, NEXT_BUFFER: 0x97, READONLY_BUFFER: 0x98,
} as const;

/** Appends opcodes and arguments; `bytes()` gives the pickle. */
export class PickleWriter {
  private readonly out: number[] = [];
  op(...codes: number[]): this {
    this.out.push(...codes);
    return this;
  }
  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.out.push(bytes[i]);
    return this;
  }
  u32(v: number): this {
    return this.raw([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]);
  }
  proto(p = 2): this {
    return this.op(OP.PROTO, p);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.op(OP.BINUNICODE).u32(b.length).raw(b);
  }
  int(v: number | bigint): this {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 256) return this.op(OP.BININT1, v);
    if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return this.op(OP.BININT).u32(v >>> 0);
    let x = BigInt(v);
    const bytes: number[] = [];
    for (;;) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
      const sign = bytes[bytes.length - 1] & 0x80;
      if ((x === 0n && !sign) || (x === -1n && sign)) break;
    }
    return this.op(OP.LONG1, bytes.length).raw(bytes);
  }
  float(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return this.op(OP.BINFLOAT).raw(b);
  }
  global(module: string, name: string): this {
    return this.op(OP.GLOBAL).raw(new TextEncoder().encode(`${module}\n${name}\n`));
  }
  stop(): this {
    return this.op(OP.STOP);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** A tensor in a checkpoint being built: a view of `storage` (name in `storages`). */
export interface TensorSpec {
  kind: 'tensor';
  storage: string;
  offset?: number;
  shape: number[];
  /** Row-major when omitted. */
  stride?: number[];
  parameter?: boolean;
  requiresGrad?: boolean;
}

export interface StorageSpec {
  /** Legacy storage class name, e.g. 'FloatStorage', 'HalfStorage', 'BoolStorage'. */
  type: string;
  /** Raw bytes in the file's byte order. */
  bytes: Uint8Array;
  /** Element count recorded in the persistent id (default bytes / element size). */
  numel?: number;
  /** Legacy formats only: this storage is a view of `root` starting at element `offset` (its bytes are ignored). */
  viewOf?: { root: string; offset: number };
}

/** A Python tuple in a value being pickled. */
export interface TupleSpec {
  kind: 'tuple';
  items: PyValue[];
}

export type PyValue = null | boolean | number | bigint | string | TensorSpec | TupleSpec | PyValue[] | { [k: string]: PyValue };

export const tensorSpec = (storage: string, shape: number[], opts: Partial<Omit<TensorSpec, 'kind' | 'storage' | 'shape'>> = {}): TensorSpec => ({ kind: 'tensor', storage, shape, ...opts });
export const tupleSpec = (...items: PyValue[]): TupleSpec => ({ kind: 'tuple', items });

const ELEM: Record<string, number> = { FloatStorage: 4, DoubleStorage: 8, HalfStorage: 2, BFloat16Storage: 2, LongStorage: 8, IntStorage: 4, ShortStorage: 2, CharStorage: 1, ByteStorage: 1, BoolStorage: 1 };

function rowMajor(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** How tensors are pickled: the zip format, the legacy stream format (6-tuple storage ids) or the tar format (tensor keys). */
export interface PickleTorchOptions {
  format?: 'zip' | 'legacy-stream' | 'legacy-tar';
  /** legacy-tar: the key each tensor gets (called once per tensor, in pickling order). */
  tensorKey?: (t: TensorSpec) => string;
}

const numelOf = (st: StorageSpec) => st.numel ?? st.bytes.length / (ELEM[st.type] ?? 1);

/** Pickles `value` as torch.save (protocol 2) does, tensors via _rebuild_tensor_v2 / _rebuild_parameter. */
export function pickleTorchValue(value: PyValue, storages: Record<string, StorageSpec>, opts: PickleTorchOptions = {}): Uint8Array {
  const format = opts.format ?? 'zip';
  const w = new PickleWriter().proto(2);
  const tuple = (items: Array<() => void>) => {
    w.op(OP.MARK);
    for (const f of items) f();
    w.op(OP.TUPLE);
  };
  const emit = (v: PyValue): void => {
    if (v === null) w.op(OP.NONE);
    else if (typeof v === 'boolean') w.op(v ? OP.NEWTRUE : OP.NEWFALSE);
    else if (typeof v === 'bigint') w.int(v);
    else if (typeof v === 'number') (Number.isInteger(v) ? w.int(v) : w.float(v));
    else if (typeof v === 'string') w.str(v);
    else if (Array.isArray(v)) {
      w.op(OP.EMPTY_LIST, OP.MARK);
      v.forEach(emit);
      w.op(OP.APPENDS);
    } else if ((v as TupleSpec).kind === 'tuple') tuple((v as TupleSpec).items.map((x) => () => emit(x)));
    else if ((v as TensorSpec).kind === 'tensor' && format === 'legacy-tar') {
      w.str(opts.tensorKey!(v as TensorSpec));
      w.op(OP.BINPERSID);
    } else if ((v as TensorSpec).kind === 'tensor') {
      const t = v as TensorSpec;
      const st = storages[t.storage];
      if (!st) throw new Error(`no storage ${t.storage}`);
      if (t.parameter) w.global('torch._utils', '_rebuild_parameter');
      const inner = () => {
        w.global('torch._utils', '_rebuild_tensor_v2');
        tuple([
          () => {
            if (format === 'legacy-stream') {
              const root = st.viewOf ? storages[st.viewOf.root] : st;
              tuple([() => w.str('storage'), () => w.global('torch', st.type), () => w.str(st.viewOf?.root ?? t.storage), () => w.str('cpu'), () => w.int(numelOf(root)),
                () => (st.viewOf ? tuple([() => w.str(t.storage), () => w.int(st.viewOf!.offset), () => w.int(numelOf(st))]) : w.op(OP.NONE))]);
            } else tuple([() => w.str('storage'), () => w.global('torch', st.type), () => w.str(t.storage), () => w.str('cpu'), () => w.int(numelOf(st))]);
            w.op(OP.BINPERSID);
          },
          () => w.int(t.offset ?? 0),
          () => tuple(t.shape.map((d) => () => w.int(d))),
          () => tuple((t.stride ?? rowMajor(t.shape)).map((d) => () => w.int(d))),
          () => w.op(t.requiresGrad ? OP.NEWTRUE : OP.NEWFALSE),
          () => {
            w.global('collections', 'OrderedDict');
            w.op(OP.EMPTY_TUPLE, OP.REDUCE);
          },
        ]);
        w.op(OP.REDUCE);
      };
      if (t.parameter) {
        tuple([inner, () => w.op(t.requiresGrad === false ? OP.NEWFALSE : OP.NEWTRUE), () => {
          w.global('collections', 'OrderedDict');
          w.op(OP.EMPTY_TUPLE, OP.REDUCE);
        }]);
        w.op(OP.REDUCE);
      } else inner();
    } else {
      w.op(OP.EMPTY_DICT, OP.MARK);
      for (const [k, x] of Object.entries(v)) {
        w.str(k);
        emit(x);
      }
      w.op(OP.SETITEMS);
    }
  };
  emit(value);
  return w.stop().bytes();
}

/** Zips a pickle and storages the way torch.save does. */
export function torchZip(pickle: Uint8Array, storages: Record<string, StorageSpec>, opts: { archive?: string; byteorder?: 'little' | 'big' } = {}): Uint8Array {
  const a = opts.archive ?? 'archive';
  const enc = new TextEncoder();
  return encodeZip([
    { name: `${a}/data.pkl`, data: pickle },
    { name: `${a}/.format_version`, data: enc.encode('1') },
    { name: `${a}/byteorder`, data: enc.encode(opts.byteorder ?? 'little') },
    ...Object.entries(storages).map(([k, s]) => ({ name: `${a}/data/${k}`, data: s.bytes })),
    { name: `${a}/version`, data: enc.encode('3\n') },
  ], { align: 64 });
}

/** A whole torch.save-style checkpoint of `value`. */
export function buildTorchCheckpoint(value: PyValue, storages: Record<string, StorageSpec>, opts: { archive?: string; byteorder?: 'little' | 'big' } = {}): Uint8Array {
  return torchZip(pickleTorchValue(value, storages), storages, opts);
}

const i64 = (v: number | bigint): number[] => Array.from(new Uint8Array(BigInt64Array.of(BigInt(v)).buffer));
const concat = (parts: ArrayLike<number>[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** Pickles a plain value (ints, strings, lists, tuples, dicts, torch globals by name 'torch.FloatStorage'). */
function pickleMeta(v: unknown): Uint8Array {
  const w = new PickleWriter().proto(2);
  const emit = (x: unknown): void => {
    if (x === null) w.op(OP.NONE);
    else if (typeof x === 'boolean') w.op(x ? OP.NEWTRUE : OP.NEWFALSE);
    else if (typeof x === 'number' || typeof x === 'bigint') w.int(x);
    else if (typeof x === 'string' && x.startsWith('global:')) {
      const full = x.slice(7);
      w.global(full.slice(0, full.lastIndexOf('.')), full.slice(full.lastIndexOf('.') + 1));
    } else if (typeof x === 'string') w.str(x);
    else if (Array.isArray(x)) {
      w.op(OP.EMPTY_LIST, OP.MARK);
      x.forEach(emit);
      w.op(OP.APPENDS);
    } else if ((x as TupleSpec).kind === 'tuple') {
      w.op(OP.MARK);
      (x as TupleSpec).items.forEach(emit);
      w.op(OP.TUPLE);
    } else {
      w.op(OP.EMPTY_DICT, OP.MARK);
      for (const [k, y] of Object.entries(x as object)) {
        w.str(k);
        emit(y);
      }
      w.op(OP.SETITEMS);
    }
  };
  emit(v);
  return w.stop().bytes();
}

const SYS_INFO = { protocol_version: 1001, little_endian: true, type_sizes: { short: 2, int: 4, long: 4 } };

/**
 * A torch.save file in the legacy stream format (torch 0.4 - 1.5, `_use_new_zipfile_serialization=False`):
 * magic number, protocol version, sys info, the object, the storage keys, then per storage an int64
 * element count and its bytes. Storages with `viewOf` are views (legacy view metadata).
 */
export function buildLegacyTorchCheckpoint(value: PyValue, storages: Record<string, StorageSpec>): Uint8Array {
  const w = new PickleWriter().proto(2);
  w.int(0x1950a86a20f9469cfc6cn).stop();
  const roots = Object.entries(storages).filter(([, s]) => !s.viewOf);
  return concat([
    w.bytes(), pickleMeta(1001), pickleMeta(SYS_INFO), pickleTorchValue(value, storages, { format: 'legacy-stream' }),
    pickleMeta(roots.map(([k]) => k)),
    ...roots.flatMap(([, s]) => [i64(numelOf(s)), s.bytes]),
  ]);
}

/** A tar archive (ustar) of `members`, as Python's tarfile writes it. */
export function encodeTar(members: Array<{ name: string; data: Uint8Array }>): Uint8Array {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const m of members) {
    const h = new Uint8Array(512);
    const put = (o: number, s: string) => h.set(enc.encode(s), o);
    const oct = (v: number, width: number) => v.toString(8).padStart(width - 1, '0') + '\0';
    put(0, m.name);
    put(100, oct(0o644, 8));
    put(108, oct(0, 8));
    put(116, oct(0, 8));
    put(124, oct(m.data.length, 12));
    put(136, oct(0, 12));
    put(148, '        ');
    h[156] = 0x30;
    put(257, 'ustar\0');
    put(263, '00');
    let sum = 0;
    for (const b of h) sum += b;
    put(148, sum.toString(8).padStart(6, '0') + '\0 ');
    parts.push(h, m.data, new Uint8Array((512 - (m.data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  return concat(parts);
}

/**
 * A torch.save file in the oldest legacy format (torch <= 0.3): a tar with `sys_info`, `pickle` (tensors
 * as persistent ids), `storages` (count, then (key, location, type), int64 numel and bytes per storage,
 * then the views) and `tensors` (count, then (key, storage key, type), ndim, sizes, strides, offset).
 */
export function buildLegacyTarCheckpoint(value: PyValue, storages: Record<string, StorageSpec>): Uint8Array {
  const keys = new Map<string, number>(Object.keys(storages).map((k, i) => [k, 1000 + i]));
  const tensors: TensorSpec[] = [];
  const pickle = pickleTorchValue(value, storages, { format: 'legacy-tar', tensorKey: (t) => {
    tensors.push(t);
    return String(5000 + tensors.length);
  } });
  const roots = Object.entries(storages).filter(([, s]) => !s.viewOf);
  const views = Object.entries(storages).filter(([, s]) => s.viewOf);
  const storagePart = concat([
    pickleMeta(roots.length),
    ...roots.flatMap(([k, s]) => [pickleMeta(tupleSpec(keys.get(k)!, 'cpu', `global:torch.${s.type}`)), i64(numelOf(s)), s.bytes]),
    pickleMeta(views.map(([k, s]) => tupleSpec(keys.get(k)!, keys.get(s.viewOf!.root)!, s.viewOf!.offset, numelOf(s)))),
  ]);
  const tensorPart = concat([
    pickleMeta(tensors.length),
    ...tensors.flatMap((t, i) => {
      const stride = t.stride ?? rowMajor(t.shape);
      const st = storages[t.storage];
      return [pickleMeta(tupleSpec(5001 + i, keys.get(t.storage)!, `global:torch.${st.type.replace('Storage', 'Tensor')}`)),
        Array.from(new Uint8Array(Int32Array.of(t.shape.length, 0).buffer)), ...t.shape.map(i64), ...stride.map(i64), i64(t.offset ?? 0)];
    }),
  ]);
  return encodeTar([
    { name: 'sys_info', data: pickleMeta(SYS_INFO) },
    { name: 'pickle', data: pickle },
    { name: 'storages', data: storagePart },
    { name: 'tensors', data: tensorPart },
  ]);
}

/** Deterministic pseudo-random generator (@fae/core's mulberry32) for fuzzing. */
export function seededRandom(seed: number): () => number {
  return mulberry32(seed);
}

export interface RangeServerOptions {
  /** Answer every request with 200 and the whole body, as a server without Range support does. */
  ignoreRange?: boolean;
  /** Extra response headers per path. */
  headers?: Record<string, Record<string, string>>;
}

export interface RangeServer {
  /** Base URL, ending in '/'. */
  url: string;
  /** Every request seen: path and Range header. */
  requests: Array<{ path: string; range?: string }>;
  /** Bytes sent in response bodies. */
  bytesSent(): number;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 serving `files` by path, honouring single `Range: bytes=a-b` requests. */
export async function startRangeServer(files: Map<string, Uint8Array>, opts: RangeServerOptions = {}): Promise<RangeServer> {
  const http = await import('node:http');
  const requests: RangeServer['requests'] = [];
  let sent = 0;
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]).replace(/^\//, '');
    const range = req.headers.range;
    requests.push({ path, range });
    const body = files.get(path);
    const extra = opts.headers?.[path] ?? {};
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const m = range && !opts.ignoreRange ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (m) {
      const start = Number(m[1]);
      const end = Math.min(m[2] ? Number(m[2]) : body.length - 1, body.length - 1);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}`, ...extra }).end();
        return;
      }
      const part = body.subarray(start, end + 1);
      sent += part.length;
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': String(part.length), 'accept-ranges': 'bytes', ...extra });
      res.end(Buffer.from(part.buffer, part.byteOffset, part.byteLength));
      return;
    }
    sent += body.length;
    res.writeHead(200, { 'content-length': String(body.length), ...extra });
    res.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    bytesSent: () => sent,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections?.();
      server.close(() => r());
    }),
  };
}
