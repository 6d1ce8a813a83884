// Reading and writing the pipeline's component folders: `<dir>/<folder>/{config.json, model.safetensors}`
// (PyTorch key names), from a local folder, an http(s) URL or a hub id (through @fae/core's hub:
// download cache, progress, sha256 checks). Two config.json forms: `{ "class", "config" }` for FAE's
// own modules, and transformers' config.json (`model_type`) for DINOv2 / SigLIP encoders.
// Writes are atomic (temp file then rename).
import {
  ConfigError, fetchModelFile, parseSafetensors, writeFileAtomic, writeSafetensorsFile, nodeFs,
  type HubOptions, type Module,
} from '@fae/core';
import { SingleAttentionEncoder } from '@fae/adapter';
import { FeatureDecoder, PixelDecoder } from '@fae/decoders';
import { LightningDiT } from '@fae/diffusion';
import { TarFlow } from '@fae/flow';
import { createBackbone, modelTypeEntry, TransformersEncoder } from '@fae/encoders';

/** Builds a module of FAE's own classes from its config (random weights). */
export type ComponentFactory = (config: Record<string, unknown>) => Module;

const FACTORIES = new Map<string, ComponentFactory>([
  ['SingleAttentionEncoder', (c) => new SingleAttentionEncoder(c)],
  ['FeatureDecoder', (c) => new FeatureDecoder(c)],
  ['PixelDecoder', (c) => new PixelDecoder(c)],
  ['LightningDiT', (c) => new LightningDiT(c)],
  ['TarFlow', (c) => new TarFlow(c as never)],
]);

/** Adds a class the pipeline can load from `{ "class": name, "config": ... }` folders. */
export function registerPipelineComponent(name: string, factory: ComponentFactory): void {
  FACTORIES.set(name, factory);
}

const text = new TextDecoder();

export function joinPath(dir: string, file: string): string {
  return `${dir.replace(/[\\/]+$/, '')}/${file}`;
}

/** Bytes of `<source>/<file>` (folder, URL or hub id). */
export async function readSourceFile(source: string, file: string, hub: HubOptions = {}): Promise<Uint8Array> {
  return (await fetchModelFile(source, file, hub)).bytes();
}

/** Parsed JSON of `<source>/<file>`, or null when absent (any other problem throws). */
export async function readSourceJson<T>(source: string, file: string, hub: HubOptions = {}, optional = false): Promise<T | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readSourceFile(source, file, hub);
  } catch (e) {
    if (optional) return null;
    throw e;
  }
  try {
    return JSON.parse(text.decode(bytes)) as T;
  } catch (e) {
    throw new ConfigError(joinPath(source, file), `not valid JSON (${(e as Error).message})`);
  }
}

export interface ComponentJson {
  class: string;
  config: Record<string, unknown>;
  trained?: Record<string, unknown>;
}

/** Loads `<source>/<folder>` (config + strict weights), in eval mode. */
export async function loadModule<M extends Module>(source: string, folder: string, hub: HubOptions = {}): Promise<M> {
  const where = joinPath(source, folder);
  const json = await readSourceJson<ComponentJson & { model_type?: string }>(source, `${folder}/config.json`, hub);
  let module: Module;
  let prefix = '';
  const store = parseSafetensors(await readSourceFile(source, `${folder}/model.safetensors`, hub), `${where}/model.safetensors`);
  if (json && typeof json.model_type === 'string') {
    module = createBackbone(json as unknown as Record<string, unknown>, `${where}/config.json`);
    prefix = modelTypeEntry(json.model_type, `${where}/config.json`).weightsPrefix(store.keys());
  } else {
    const factory = FACTORIES.get(json?.class ?? '');
    if (!factory || typeof json?.config !== 'object') {
      throw new ConfigError(`${where}/config.json`, `expected { "class": one of ${[...FACTORIES.keys()].join(', ')}, "config": {...} } or a transformers config with model_type, found class ${JSON.stringify(json?.class)}`);
    }
    module = factory(json.config);
  }
  try {
    await module.loadStateDict(store, { strict: true, prefix });
  } catch (e) {
    module.dispose();
    throw e;
  }
  module.eval();
  return module as M;
}

/** A frozen encoder that remembers its transformers config.json, so a pipeline can save it. */
export class SavableEncoder extends TransformersEncoder {
  constructor(name: string, model: ConstructorParameters<typeof TransformersEncoder>[1], readonly configJson: Record<string, unknown>) {
    super(name, model);
  }
}

/** A transformers-format encoder folder (DINOv2 / SigLIP config.json) as a frozen FeatureEncoder. */
export async function loadEncoderFolder(source: string, folder: string, hub: HubOptions = {}): Promise<SavableEncoder> {
  const json = await readSourceJson<Record<string, unknown>>(source, `${folder}/config.json`, hub);
  const model = await loadModule<Module>(source, folder, hub);
  return new SavableEncoder(joinPath(source, folder), model as never, json!);
}

/** Writes `<dir>/<folder>/{model.safetensors, config.json}` atomically; returns the folder path. */
export async function saveModule(dir: string, folder: string, module: Module, configJson: object): Promise<string> {
  const fs = await nodeFs(dir);
  const path = joinPath(dir, folder);
  await fs.mkdir(path, { recursive: true });
  const sd = await module.stateDict();
  await writeSafetensorsFile(joinPath(path, 'model.safetensors'), sd as never, { format: 'pt' });
  await writeJson(joinPath(path, 'config.json'), configJson);
  return path;
}

/** Writes JSON atomically. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  const fs = await nodeFs(path);
  await fs.mkdir(path.replace(/[\\/][^\\/]*$/, '') || '.', { recursive: true });
  await writeFileAtomic(path, [new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`)]);
}

/** The config.json of one of FAE's modules. */
export function componentJson(module: Module & { config?: unknown }, cls = module.constructor.name, trained?: Record<string, unknown>): ComponentJson {
  return { class: cls, config: module.config as Record<string, unknown>, ...(trained ? { trained } : {}) };
}
