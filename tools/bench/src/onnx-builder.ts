// A minimal ONNX model writer (protobuf encoding by hand), enough to build the benchmark graphs
// programmatically: MatMul, Add, Mul, LayerNormalization, Softmax, Transpose, Reshape, Erf, Gather.
// Field numbers follow onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto).

/**
 * A growing protobuf message: small fields as bytes, large payloads (initializer data) and nested
 * messages as chunks, so a 300 MB model never becomes one JS array (V8 caps array lengths).
 */
class Bytes {
  private readonly chunks: Uint8Array[] = [];
  private pending: number[] = [];
  length = 0;
  push(...bytes: number[]): void {
    for (const b of bytes) this.pending.push(b);
    this.length += bytes.length;
  }
  append(data: Uint8Array | Bytes): void {
    this.flush();
    if (data instanceof Bytes) {
      data.flush();
      this.chunks.push(...data.chunks);
    } else this.chunks.push(data);
    this.length += data.length;
  }
  private flush(): void {
    if (this.pending.length) this.chunks.push(Uint8Array.from(this.pending));
    this.pending = [];
  }
  toUint8Array(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function varint(n: number | bigint, out: Bytes): void {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n; // two's complement for negative int64
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
}
const key = (field: number, wire: number, out: Bytes) => varint((field << 3) | wire, out);
function bytesField(field: number, data: Uint8Array | Bytes, out: Bytes): void {
  key(field, 2, out);
  varint(data.length, out);
  out.append(data);
}
const str = (field: number, s: string, out: Bytes) => bytesField(field, new TextEncoder().encode(s), out);
function int(field: number, n: number | bigint, out: Bytes): void {
  key(field, 0, out);
  varint(n, out);
}
function float32(field: number, f: number, out: Bytes): void {
  key(field, 5, out);
  const b = new Uint8Array(new Float32Array([f]).buffer);
  out.push(...b);
}

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, number | number[] | { f: number }>;
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  float?: Float32Array;
  int64?: number[];
}

export interface OnnxIO {
  name: string;
  dims: number[];
}

function node(n: OnnxNode, i: number): Bytes {
  const out = new Bytes();
  for (const x of n.inputs) str(1, x, out);
  for (const y of n.outputs) str(2, y, out);
  str(3, `${n.op}_${i}`, out);
  str(4, n.op, out);
  for (const [name, v] of Object.entries(n.attrs ?? {})) {
    const a = new Bytes();
    str(1, name, a);
    if (typeof v === 'object' && !Array.isArray(v)) {
      float32(2, v.f, a);
      int(20, 1, a); // FLOAT
    } else if (Array.isArray(v)) {
      for (const x of v) int(8, x, a);
      int(20, 7, a); // INTS
    } else {
      int(3, v, a);
      int(20, 2, a); // INT
    }
    bytesField(5, a, out);
  }
  return out;
}

function tensor(t: OnnxInitializer): Bytes {
  const out = new Bytes();
  for (const d of t.dims) int(1, d, out);
  if (t.float) {
    int(2, 1, out); // FLOAT
    str(8, t.name, out);
    bytesField(9, new Uint8Array(t.float.buffer, t.float.byteOffset, t.float.byteLength), out);
  } else {
    int(2, 7, out); // INT64
    str(8, t.name, out);
    const raw = new Uint8Array(new BigInt64Array((t.int64 ?? []).map((x) => BigInt(x))).buffer);
    bytesField(9, raw, out);
  }
  return out;
}

function valueInfo(io: OnnxIO): Bytes {
  const shape = new Bytes();
  for (const d of io.dims) {
    const dim = new Bytes();
    int(1, d, dim);
    bytesField(1, dim, shape);
  }
  const tensorType = new Bytes();
  int(1, 1, tensorType); // FLOAT
  bytesField(2, shape, tensorType);
  const type = new Bytes();
  bytesField(1, tensorType, type);
  const out = new Bytes();
  str(1, io.name, out);
  bytesField(2, type, out);
  return out;
}

/** n uniform values in [-scale, scale) from a seeded LCG: initializer weights for speed graphs (values do not matter, bytes must be real). */
export function randomInitializerValues(n: number, seed: number, scale = 0.05): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = scale * ((s / 4294967296) * 2 - 1);
  }
  return out;
}

/** Serialises a single-graph ONNX model (opset `opset`, default domain). */
export function buildOnnxModel(graph: { nodes: OnnxNode[]; initializers: OnnxInitializer[]; inputs: OnnxIO[]; outputs: OnnxIO[] }, opset = 17): Uint8Array {
  const g = new Bytes();
  graph.nodes.forEach((n, i) => bytesField(1, node(n, i), g));
  str(2, 'fae_bench', g);
  for (const t of graph.initializers) bytesField(5, tensor(t), g);
  for (const x of graph.inputs) bytesField(11, valueInfo(x), g);
  for (const y of graph.outputs) bytesField(12, valueInfo(y), g);
  const m = new Bytes();
  int(1, 8, m); // ir_version 8
  str(2, 'fae-bench', m);
  bytesField(7, g, m);
  const opsetId = new Bytes();
  str(1, '', opsetId);
  int(2, opset, opsetId);
  bytesField(8, opsetId, m);
  return m.toUint8Array();
}
