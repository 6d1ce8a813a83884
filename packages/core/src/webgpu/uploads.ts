// Uploads of CPU-side tensor values (scalars, tensors made from arrays, CPU-computed results) through
// `queue.writeBuffer` into a pooled buffer. tfjs-backend-webgpu 4.22 asks its pool for a buffer
// "mapped at creation", which a reused buffer never is, so every upload of a reused size also created
// (and destroyed) a staging buffer; a pool miss created a new mapped buffer. On an H100 under Dawn,
// `createBuffer` from uploads was 12% of the CPU time of a DINOv2-B encode (BENCHMARKS.md, issue #18
// CPU profile). writeBuffer copies into Dawn's own staging ring instead.
// Ordering: a buffer reaches the pool only after the commands that used it were submitted (tfjs
// releases buffers of in-flight tensors at submit), and writeBuffer is ordered after all submitted
// work and before the commands recorded next, so the values are in place for every later reader.

type Backend = {
  tensorMap: { get(dataId: object): any };
  bufferManager: { acquireBuffer(size: number, usage: number): any };
  queue: { writeBuffer(buffer: any, offset: number, data: ArrayBufferLike, dataOffset: number, size: number): void };
  uploadToGPU(dataId: object): void;
};

const originals = new WeakMap<object, (dataId: object) => void>();

/** Counts uploads that took the writeBuffer path (tests read it). */
export const queueUploadStats = { uploads: 0 };

/** Replaces the backend's uploadToGPU with the writeBuffer path (idempotent). */
export function installQueueUploads(backend: Backend): void {
  if (originals.has(backend)) return;
  const original = backend.uploadToGPU;
  originals.set(backend, original);
  const usage = (globalThis as any).GPUBufferUsage;
  const storage = usage.STORAGE | usage.COPY_SRC | usage.COPY_DST;
  backend.uploadToGPU = function (this: Backend, dataId: object): void {
    const data = this.tensorMap.get(dataId);
    if (!data || data.resource != null || !data.values) return original.call(this, dataId);
    const { dtype, values } = data;
    if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') return original.call(this, dataId);
    const n = values.length as number;
    if (n === 0) return original.call(this, dataId);
    // bool values are bytes on the CPU and 32-bit words on the GPU (as tfjs uploads them)
    const words: Float32Array | Int32Array =
      dtype === 'float32' ? (values instanceof Float32Array ? values : Float32Array.from(values)) : values instanceof Int32Array ? values : Int32Array.from(values);
    const size = 4 * n;
    // Dawn's bindings reject views of a SharedArrayBuffer: copy those
    const src = typeof SharedArrayBuffer !== 'undefined' && words.buffer instanceof SharedArrayBuffer ? words.slice() : words;
    const buffer = this.bufferManager.acquireBuffer(size, storage);
    this.queue.writeBuffer(buffer, 0, src.buffer, src.byteOffset, size);
    data.values = null; // as tfjs: once uploaded, the values live on the GPU only
    data.resource = buffer;
    queueUploadStats.uploads++;
  };
}

/** Restores tfjs's own upload path. */
export function uninstallQueueUploads(backend: Backend): void {
  const original = originals.get(backend);
  if (!original) return;
  backend.uploadToGPU = original;
  originals.delete(backend);
}
