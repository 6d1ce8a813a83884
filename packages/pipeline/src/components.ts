// The pipeline's component folders, `<dir>/<folder>/{config.json, model.safetensors}`, read and written
// through @fae/core's component format and registry (every model registers when its package is
// imported). Files come from a local folder, an http(s) URL or a hub id (core's hub: download cache,
// progress, sha256 checks), so a pipeline on the hub loads like one on disk.
import {
  ConfigError, fetchModelFile, instantiateComponent, openComponentFiles, saveComponent,
  type HubOptions, type Module,
} from '@fae/core';
import { TransformersEncoder, type ViTBackbone } from '@fae/encoders';
// Side effects: these packages register their models with core's component registry.
import '@fae/adapter';
import '@fae/decoders';
import '@fae/diffusion';
import '@fae/flow';
import { nodeFsPromises, writeJsonAtomic } from './node-fs.js';

const text = new TextDecoder();

export function joinPath(dir: string, file: string): string {
  return `${dir.replace(/[\\/]+$/, '')}/${file}`;
}

/** Bytes of `<source>/<file>` (folder, URL or hub id). */
export async function readSourceFile(source: string, file: string, hub: HubOptions = {}): Promise<Uint8Array> {
  return (await fetchModelFile(source, file, hub)).bytes();
}

/** Parsed JSON of `<source>/<file>`; with `optional`, null when it cannot be read. */
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

/** Loads the component in `<source>/<folder>` (strict weights), in eval mode. */
export async function loadModule<M extends Module>(source: string, folder: string, hub: HubOptions = {}, expectClass?: string | string[]): Promise<M> {
  const opened = await openComponentFiles(joinPath(source, folder), (file) => readSourceFile(source, `${folder}/${file}`, hub));
  const module = await instantiateComponent<M>(opened, { expectClass });
  module.eval();
  return module;
}

/** An encoder component folder (FAE format or a Hugging Face DINOv2 / SigLIP folder) as a frozen FeatureEncoder. */
export async function loadEncoderFolder(source: string, folder: string, hub: HubOptions = {}): Promise<TransformersEncoder> {
  const model = await loadModule<ViTBackbone & Module>(source, folder, hub);
  return new TransformersEncoder(joinPath(source, folder), model);
}

/** Writes `module` into `<dir>/<folder>` (core's saveComponent: atomic). */
export async function saveModule(dir: string, folder: string, module: Module, metadata: Record<string, string> = {}): Promise<string> {
  const path = joinPath(dir, folder);
  await saveComponent(path, module, { metadata });
  return path;
}

/** Writes JSON atomically, making its folder first. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  const fs = await nodeFsPromises(path);
  await fs.mkdir(path.replace(/[\\/][^\\/]*$/, '') || '.', { recursive: true });
  await writeJsonAtomic(path, value);
}
