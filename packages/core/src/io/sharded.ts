// Sharded safetensors checkpoints: `model.safetensors.index.json` ({metadata, weight_map: {tensor:
// shard file}}) beside its shards. One TensorStore over all shards; shards are opened (headers read)
// up front, tensors read on demand from the shard that holds them.
import { HubError, WeightsFormatError } from '../errors.js';
import type { UrlSourceOptions } from './byte-source.js';
import { readLocalFile } from './file-source.js';
import { openSafetensorsFile, openSafetensorsUrl } from './safetensors-file.js';
import type { SafetensorsSourceStore } from './safetensors.js';
import type { TensorInfo, TensorStore, TypedArray } from './store.js';

export interface ShardedIndex {
  metadata: Record<string, unknown>;
  /** Tensor name -> shard file name (relative to the index). */
  weightMap: Map<string, string>;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

/** Largest index file we accept (real ones are a few MB). */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

/** Validates the index JSON: a weight_map of tensor -> relative shard name (no '..', no absolute paths). */
export function parseShardedIndex(bytes: Uint8Array, source: string): ShardedIndex {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new WeightsFormatError(source, `index is not valid UTF-8 JSON (${(e as Error).message})`, e);
  }
  const obj = raw as { metadata?: unknown; weight_map?: unknown };
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new WeightsFormatError(source, 'index JSON is not an object');
  const wm = obj.weight_map;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) throw new WeightsFormatError(source, "index has no 'weight_map' object");
  const weightMap = new Map<string, string>();
  for (const [k, v] of Object.entries(wm)) {
    if (typeof v !== 'string' || !v || v.startsWith('/') || v.includes('\\') || /^[a-z]+:/i.test(v) || v.split('/').some((s) => s === '..' || s === '' || s === '.')) {
      throw new WeightsFormatError(source, `weight_map['${k}'] = ${JSON.stringify(v)} is not a relative shard file name`);
    }
    weightMap.set(k, v);
  }
  const metadata = typeof obj.metadata === 'object' && obj.metadata !== null ? (obj.metadata as Record<string, unknown>) : {};
  return { metadata, weightMap };
}

/** One TensorStore over every shard of a sharded checkpoint. */
export class ShardedSafetensorsStore implements TensorStore {
  constructor(readonly source: string, readonly index: ShardedIndex, private readonly shards: Map<string, SafetensorsSourceStore>) {}
  keys(): string[] {
    return [...this.index.weightMap.keys()];
  }
  info(key: string): TensorInfo | undefined {
    const shard = this.index.weightMap.get(key);
    return shard === undefined ? undefined : this.shards.get(shard)!.info(key);
  }
  async read(key: string): Promise<TypedArray> {
    const shard = this.index.weightMap.get(key);
    if (shard === undefined) throw new WeightsFormatError(this.source, `no tensor named '${key}'`);
    return this.shards.get(shard)!.read(key);
  }
  /** Shard file names, in first-use order. */
  shardNames(): string[] {
    return [...this.shards.keys()];
  }
  async close(): Promise<void> {
    await Promise.all([...this.shards.values()].map((s) => s.close()));
  }
}

/**
 * Opens a sharded safetensors checkpoint from the path or URL of its `model.safetensors.index.json`.
 * Every shard's header is read now; each tensor listed in weight_map must be in the shard it names.
 */
export async function openShardedSafetensors(index: string, opts: UrlSourceOptions = {}): Promise<ShardedSafetensorsStore> {
  const remote = isUrl(index);
  const bytes = remote ? await fetchIndex(index, opts) : await readLocalFile(index);
  if (bytes.byteLength > MAX_INDEX_BYTES) throw new WeightsFormatError(index, `index is ${bytes.byteLength} bytes, over the ${MAX_INDEX_BYTES}-byte limit`);
  const parsed = parseShardedIndex(bytes, index);
  const base = remote ? index : index.slice(0, index.lastIndexOf('/') + 1);
  const shards = new Map<string, SafetensorsSourceStore>();
  try {
    for (const name of new Set(parsed.weightMap.values())) {
      const where = remote ? new URL(name, base).href : base + name;
      shards.set(name, remote ? await openSafetensorsUrl(where, opts) : await openSafetensorsFile(where));
    }
    for (const [key, name] of parsed.weightMap) {
      if (!shards.get(name)!.info(key)) throw new WeightsFormatError(index, `weight_map puts '${key}' in ${name}, which has no such tensor`);
    }
  } catch (e) {
    await Promise.all([...shards.values()].map((s) => s.close()));
    throw e;
  }
  return new ShardedSafetensorsStore(index, parsed, shards);
}

async function fetchIndex(url: string, opts: UrlSourceOptions): Promise<Uint8Array> {
  const f = opts.fetch ?? globalThis.fetch;
  let res: Response;
  try {
    res = await f(url, { headers: opts.headers });
  } catch (e) {
    throw new HubError(url, `request failed: ${(e as Error).message}`, undefined, e);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new HubError(url, `HTTP ${res.status} ${res.statusText}`, res.status);
  }
  const len = Number(res.headers.get('content-length') ?? '0');
  if (len > MAX_INDEX_BYTES) {
    await res.body?.cancel();
    throw new WeightsFormatError(url, `index is ${len} bytes, over the ${MAX_INDEX_BYTES}-byte limit`);
  }
  return new Uint8Array(await res.arrayBuffer());
}
