// Image sources for evaluation (Node): a folder of PNG/JPEG files, or an ADM-style sample batch
// (.npz with `arr_0` = uint8 [N, H, W, 3]), read in batches of NHWC int32 tensors [B, H, W, 3] so a
// 50,000-image set is never in memory at once. Consecutive images of one size share a batch.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, WeightsFormatError, decodeImage, openFileSource, openZip, readNpy, shardRange, toRGB, type RawImage, type ShardSpec } from '@fae/core';

export interface ImageBatch {
  /** [B, H, W, 3] int32 pixels 0..255; the consumer disposes it. */
  images: tf.Tensor4D;
  /** File names (folder) or indices (npz) of the batch's images. */
  names: string[];
}

export interface ImageSource {
  /** Number of images (known up front). */
  count: number;
  /** Where they sit in the whole set (after `limit`): images [range[0], range[1]) of `total`. */
  range?: [number, number];
  total?: number;
  batches(batchSize: number): AsyncGenerator<ImageBatch>;
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;

function rawToTensor(images: RawImage[]): tf.Tensor4D {
  const { width: W, height: H } = images[0];
  const data = new Int32Array(images.length * H * W * 3);
  images.forEach((im, i) => data.set(toRGB(im).data, i * H * W * 3));
  return tf.tensor4d(data, [images.length, H, W, 3], 'int32');
}

export interface ImageSourceOptions {
  /** The first `limit` images only. */
  limit?: number;
  /** Then only images [start, end) of those. */
  range?: [number, number];
  /** Or shard i of n of those: @fae/core's shardRange, blocks aligned to `align` images (the batch size). */
  shard?: ShardSpec & { align?: number };
}

/** Images [start, end) of `total`, checked. */
function rangeOf(total: number, source: string, o: ImageSourceOptions): [number, number] {
  if (o.shard) return shardRange(total, o.shard, o.shard.align ?? 1);
  if (!o.range) return [0, total];
  const [s, e] = o.range;
  if (!(Number.isInteger(s) && Number.isInteger(e) && s >= 0 && s <= e && e <= total)) throw new ConfigError(source, `image range [${s}, ${e}) is outside the ${total} images`);
  return [s, e];
}

/** Every PNG / JPEG file of a folder (sorted by name; not recursive). */
export async function imageFolderSource(dir: string, opts: ImageSourceOptions = {}): Promise<ImageSource> {
  const { readdir, readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  let files = (await readdir(dir)).filter((f) => IMAGE_EXT.test(f)).sort();
  if (opts.limit !== undefined) files = files.slice(0, opts.limit);
  if (!files.length) throw new ConfigError(dir, 'contains no .png / .jpg images');
  const total = files.length;
  const [start, end] = rangeOf(total, dir, opts);
  files = files.slice(start, end);
  return {
    count: files.length,
    range: [start, end],
    total,
    async *batches(batchSize: number) {
      let pending: RawImage[] = [];
      let names: string[] = [];
      const emit = () => {
        const b = { images: rawToTensor(pending), names };
        pending = [];
        names = [];
        return b;
      };
      for (const f of files) {
        const bytes = await readFile(join(dir, f));
        const im = decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), join(dir, f));
        if (pending.length && (im.width !== pending[0].width || im.height !== pending[0].height)) yield emit();
        pending.push(im);
        names.push(f);
        if (pending.length === batchSize) yield emit();
      }
      if (pending.length) yield emit();
    },
  };
}

/**
 * `arr_0` of an ADM sample batch (.npz written by np.savez: stored entries are read range by range;
 * a compressed entry is read whole).
 */
export async function npzImageSource(path: string, opts: ImageSourceOptions & { key?: string } = {}): Promise<ImageSource> {
  const key = `${opts.key ?? 'arr_0'}.npy`;
  const src = await openFileSource(path);
  const zip = await openZip(src, path);
  const entry = zip.entries.get(key);
  if (!entry) {
    await zip.close();
    throw new WeightsFormatError(path, `has no '${key}' (entries: ${zip.names().join(', ')})`);
  }
  // Locate the .npy header inside the stored entry: local header (30 bytes + name + extra), then NUMPY.
  const lh = await src.read(entry.localOffset, 30);
  const dataStart = entry.localOffset + 30 + (lh[26] | (lh[27] << 8)) + (lh[28] | (lh[29] << 8));
  let whole: Uint8Array | null = null;
  let npyHeaderLen: number;
  let shape: number[];
  if (entry.method === 0) {
    const pre = await src.read(dataStart, Math.min(entry.size, 4096));
    const major = pre[6];
    const hl = major === 1 ? pre[8] | (pre[9] << 8) : pre[8] | (pre[9] << 8) | (pre[10] << 16) | (pre[11] << 24);
    npyHeaderLen = (major === 1 ? 10 : 12) + hl;
    shape = parseUint8NpyShape(new TextDecoder('latin1').decode(pre.subarray(major === 1 ? 10 : 12, npyHeaderLen)), `${path} (${key})`);
    if (shape.reduce((a, b) => a * b, 1) !== entry.size - npyHeaderLen) throw new WeightsFormatError(path, `'${key}' data size does not match its shape [${shape}]`);
  } else {
    whole = await zip.read(key);
    const arr = readNpy(whole, `${path} (${key})`);
    shape = arr.shape;
    whole = arr.data as Uint8Array;
    npyHeaderLen = 0;
  }
  if (shape.length !== 4 || shape[3] !== 3) {
    await zip.close();
    throw new WeightsFormatError(path, `'${key}' must be uint8 [N, H, W, 3] (NHWC), found [${shape}]`);
  }
  const [N0, H, W] = shape;
  const N = Math.min(N0, opts.limit ?? N0);
  let first: number;
  let stop: number;
  try {
    [first, stop] = rangeOf(N, path, opts);
  } catch (e) {
    await zip.close();
    throw e;
  }
  const per = H * W * 3;
  return {
    count: stop - first,
    range: [first, stop],
    total: N,
    async *batches(batchSize: number) {
      try {
        for (let s = first; s < stop; s += batchSize) {
          const e = Math.min(stop, s + batchSize);
          const bytes = whole ? whole.subarray(s * per, e * per) : await src.read(dataStart + npyHeaderLen + s * per, (e - s) * per);
          yield { images: tf.tensor4d(Int32Array.from(bytes), [e - s, H, W, 3], 'int32'), names: Array.from({ length: e - s }, (_, i) => String(s + i)) };
        }
      } finally {
        await zip.close();
      }
    },
  };
}

/** Shape from a .npy header dict of a C-ordered uint8 array (the data itself is read range by range). */
function parseUint8NpyShape(header: string, source: string): number[] {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr !== '|u1' || fortran !== 'False' || shape === undefined) throw new WeightsFormatError(source, `expected a C-ordered uint8 array, header is ${JSON.stringify(header.trim())}`);
  return shape.split(',').map((t) => t.trim()).filter(Boolean).map(Number);
}

/** A folder of images or an .npz sample batch, by path. */
export async function openImageSource(path: string, opts: ImageSourceOptions = {}): Promise<ImageSource> {
  return /\.npz$/i.test(path) ? npzImageSource(path, opts) : imageFolderSource(path, opts);
}
