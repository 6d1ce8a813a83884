// resolveModel: the files of a model (config.json, preprocessor_config.json, model.safetensors or a
// sharded model.safetensors.index.json + shards) located first, so progress_total knows the total
// before the first byte, then fetched one by one into the cache. loadWeights opens them as one
// TensorStore (lazily from disk in Node, from memory in the browser).
import { ConfigError, WeightsFormatError } from '../errors.js';
import { BytesSource } from '../io/byte-source.js';
import { openSafetensors, parseSafetensors } from '../io/safetensors.js';
import { openSafetensorsFile } from '../io/safetensors-file.js';
import { openShardedSafetensors, parseShardedIndex, ShardedSafetensorsStore, type ShardedIndex } from '../io/sharded.js';
import type { TensorStore } from '../io/store.js';
import type { SafetensorsSourceStore } from '../io/safetensors.js';
import { createHubContext, locateModelFile, obtainModelFile, type HubContext, type HubOptions, type Located, type ResolvedFile } from './fetch-file.js';
import { fatalHubError } from './http.js';
import { ProgressTracker } from './progress.js';
import type { ModelSource } from './source.js';

export const CONFIG_FILE = 'config.json';
export const PREPROCESSOR_CONFIG_FILE = 'preprocessor_config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

export interface ResolveOptions extends HubOptions {
  /** Fetch config.json (required when true; default true). */
  config?: boolean;
  /** Fetch preprocessor_config.json when the model has one (default true). */
  preprocessor?: boolean;
  /** Fetch the weights (default true). */
  weights?: boolean;
  /** More files to fetch (each required). */
  files?: string[];
}

export interface ResolvedWeights {
  /** The index file for sharded weights, else null. */
  index: ResolvedFile | null;
  /** Parsed index (tensor -> shard file), else null. */
  shardIndex: ShardedIndex | null;
  /** model.safetensors, or the shards in first-use order. */
  files: ResolvedFile[];
}

export interface ResolvedModel {
  source: ModelSource;
  config: Record<string, unknown> | null;
  preprocessorConfig: Record<string, unknown> | null;
  weights: ResolvedWeights | null;
  /** Every file fetched, by name. */
  files: Map<string, ResolvedFile>;
}

const quiet = (ctx: HubContext): HubContext => ({ ...ctx, tracker: new ProgressTracker(ctx.source.name) });

function missing(ctx: HubContext, file: string, loc: Extract<Located, { state: 'missing' }>): never {
  throw fatalHubError(`${ctx.source.name}: ${file}`, loc.why, ctx.offline ? undefined : 404);
}

/** Parses a JSON file of the model into an object (ConfigError naming the file when it is not one). */
export async function readModelJson(f: ResolvedFile, model: string): Promise<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await f.bytes()));
  } catch (e) {
    throw new ConfigError(`${model}: ${f.file}`, `is not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${model}: ${f.file}`, 'is not a JSON object');
  return v as Record<string, unknown>;
}

/** Shard hashes an index may carry (our extension: a top-level "sha256": {shard: hex}). */
function shardHashes(raw: Record<string, unknown>): Record<string, string> {
  const h = raw.sha256;
  if (typeof h !== 'object' || h === null) return {};
  return Object.fromEntries(Object.entries(h).filter(([, v]) => typeof v === 'string' && /^[0-9a-f]{64}$/i.test(v)).map(([k, v]) => [k, (v as string).toLowerCase()]));
}

/**
 * Resolves a model from a local directory, an http(s) folder URL or a hub id (`org/name[@rev]`):
 * locates every file (cache, local, or HEAD), then fetches them in order with progress events.
 */
export async function resolveModel(source: string, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const ctx = await createHubContext(source, opts);
  const plan: Array<[string, Located]> = [];
  const pre = new Map<string, ResolvedFile>();
  let shardIndex: ShardedIndex | null = null;
  let weightFiles: string[] = [];

  if (opts.config ?? true) {
    const loc = await locateModelFile(ctx, CONFIG_FILE);
    if (loc.state === 'missing') missing(ctx, CONFIG_FILE, loc);
    plan.push([CONFIG_FILE, loc]);
  }
  if (opts.preprocessor ?? true) {
    const loc = await locateModelFile(ctx, PREPROCESSOR_CONFIG_FILE);
    if (loc.state !== 'missing') plan.push([PREPROCESSOR_CONFIG_FILE, loc]);
  }
  if (opts.weights ?? true) {
    // Cache first for both layouts, so a warm cache never touches the network.
    const singleCached = await locateModelFile(ctx, WEIGHTS_FILE, { network: false });
    let indexLoc: Located | null = null;
    if (singleCached.state === 'missing') {
      const indexCached = await locateModelFile(ctx, WEIGHTS_INDEX_FILE, { network: false });
      if (indexCached.state !== 'missing') indexLoc = indexCached;
    }
    const single = singleCached.state !== 'missing' || indexLoc ? singleCached : await locateModelFile(ctx, WEIGHTS_FILE, { repaired: singleCached.corrupt });
    if (single.state !== 'missing') {
      plan.push([WEIGHTS_FILE, single]);
      weightFiles = [WEIGHTS_FILE];
    } else {
      const iloc = indexLoc ?? (await locateModelFile(ctx, WEIGHTS_INDEX_FILE));
      if (iloc.state === 'missing') {
        throw fatalHubError(`${ctx.source.name}: ${WEIGHTS_FILE}`, `no weights: neither ${WEIGHTS_FILE} (${single.why}) nor ${WEIGHTS_INDEX_FILE} (${iloc.why})`, ctx.offline ? undefined : 404);
      }
      // The index is small and names the shards: fetch it now (quietly) so the total is known up front.
      const indexFile = await obtainModelFile(quiet(ctx), WEIGHTS_INDEX_FILE, iloc);
      pre.set(WEIGHTS_INDEX_FILE, indexFile);
      const bytes = await indexFile.bytes();
      shardIndex = parseShardedIndex(bytes, `${ctx.source.name}: ${WEIGHTS_INDEX_FILE}`);
      const raw = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
      ctx.expectedSha = { ...shardHashes(raw), ...ctx.expectedSha };
      plan.push([WEIGHTS_INDEX_FILE, { state: 'missing', why: 'fetched already' }]);
      weightFiles = [...new Set(shardIndex.weightMap.values())];
      for (const shard of weightFiles) {
        const loc = await locateModelFile(ctx, shard);
        if (loc.state === 'missing') missing(ctx, shard, loc);
        plan.push([shard, loc]);
      }
    }
  }
  for (const f of opts.files ?? []) {
    const loc = await locateModelFile(ctx, f);
    if (loc.state === 'missing') missing(ctx, f, loc);
    plan.push([f, loc]);
  }

  const t = ctx.tracker;
  for (const [file, loc] of plan) {
    const size = pre.get(file)?.size ?? (loc.state === 'local' ? loc.size : loc.state === 'cached' ? loc.entry.size : loc.state === 'remote' ? loc.size : null);
    t.plan(file, size);
  }
  const files = new Map<string, ResolvedFile>();
  for (const [file, loc] of plan) {
    const done = pre.get(file);
    if (done) {
      t.initiate(file);
      t.done(file, done.size, done.fromCache);
      files.set(file, done);
    } else files.set(file, await obtainModelFile(ctx, file, loc));
  }

  const config = files.has(CONFIG_FILE) ? await readModelJson(files.get(CONFIG_FILE)!, ctx.source.name) : null;
  const preprocessorConfig = files.has(PREPROCESSOR_CONFIG_FILE) ? await readModelJson(files.get(PREPROCESSOR_CONFIG_FILE)!, ctx.source.name) : null;
  const weights: ResolvedWeights | null = weightFiles.length
    ? { index: files.get(WEIGHTS_INDEX_FILE) ?? null, shardIndex, files: weightFiles.map((f) => files.get(f)!) }
    : null;
  t.ready([...files.keys()]);
  return { source: ctx.source, config, preprocessorConfig, weights, files };
}

/** config.json of a model, parsed. */
export async function loadConfig(source: string, opts: HubOptions = {}): Promise<Record<string, unknown>> {
  return (await resolveModel(source, { ...opts, config: true, preprocessor: false, weights: false })).config!;
}

/** preprocessor_config.json of a model, parsed (HubError naming the file when the model has none). */
export async function loadPreprocessorConfig(source: string, opts: HubOptions = {}): Promise<Record<string, unknown>> {
  const m = await resolveModel(source, { ...opts, config: false, preprocessor: false, weights: false, files: [PREPROCESSOR_CONFIG_FILE] });
  return readModelJson(m.files.get(PREPROCESSOR_CONFIG_FILE)!, m.source.name);
}

/**
 * The weights of a model as one TensorStore: model.safetensors, or every shard of a sharded index.
 * Node: files are opened lazily from disk (header now, tensors on demand); elsewhere read from memory.
 * Close the store when done. Accepts a source (resolves the weights only) or a ResolvedModel.
 */
export async function loadWeights(source: string | ResolvedModel, opts: HubOptions = {}): Promise<TensorStore> {
  const model = typeof source === 'string' ? await resolveModel(source, { ...opts, config: false, preprocessor: false }) : source;
  if (!model.weights) throw new ConfigError(model.source.name, 'resolved without weights (weights: false)');
  return openResolvedWeights(model.weights, model.source.name);
}

/** Opens resolved weight files as one TensorStore. */
export async function openResolvedWeights(w: ResolvedWeights, name: string): Promise<TensorStore> {
  if (!w.index) {
    const f = w.files[0];
    return f.path ? openSafetensorsFile(f.path) : parseSafetensors(await f.bytes(), f.url ?? `${name}: ${f.file}`);
  }
  if (w.index.path && w.files.every((f) => f.path)) return openShardedSafetensors(w.index.path);
  const index = w.shardIndex!;
  const shards = new Map<string, SafetensorsSourceStore>();
  for (const f of w.files) shards.set(f.file, await openSafetensors(new BytesSource(await f.bytes(), f.url ?? `${name}: ${f.file}`)));
  for (const [key, shard] of index.weightMap) {
    if (!shards.get(shard)!.info(key)) throw new WeightsFormatError(`${name}: ${WEIGHTS_INDEX_FILE}`, `weight_map puts '${key}' in ${shard}, which has no such tensor`);
  }
  return new ShardedSafetensorsStore(`${name}: ${WEIGHTS_INDEX_FILE}`, index, shards);
}
