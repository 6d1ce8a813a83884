// saveComponent: a registered module as an FAE component folder (config.json + model.safetensors),
// written atomically: both files go into a temporary sibling folder that then replaces the target,
// so a crash never leaves a config that does not match its weights.
import { WeightsFormatError } from '../errors.js';
import { nodeFs, writeFileAtomic } from '../io/file-source.js';
import { encodeSafetensors } from '../io/safetensors.js';
import { writeSafetensorsFile } from '../io/safetensors-file.js';
import type { Module } from '../nn/module.js';
import { COMPONENT_CONFIG_FILE, COMPONENT_FORMAT_VERSION, COMPONENT_WEIGHTS_FILE, type ComponentConfigJson } from './format.js';
import { describeComponent } from './registry.js';

export interface SaveComponentOptions {
  /** Free-form string notes: stored in config.json ("metadata") and the safetensors header. */
  metadata?: Record<string, string>;
}

/** config.json of a module (FAE component format). */
export function componentConfigJson(module: Module, opts: SaveComponentOptions = {}): ComponentConfigJson<object> {
  const { name, config } = describeComponent(module);
  const json: ComponentConfigJson<object> = { class: name, fae_format: COMPONENT_FORMAT_VERSION, config: JSON.parse(JSON.stringify(config)) };
  if (opts.metadata && Object.keys(opts.metadata).length) json.metadata = { ...opts.metadata };
  return json;
}

function headerMetadata(json: ComponentConfigJson<object>): Record<string, string> {
  return { format: 'pt', fae_class: json.class, ...json.metadata };
}

/** The two files of a component in memory (browsers, archives): config.json text and model.safetensors bytes. */
export async function encodeComponent(module: Module, opts: SaveComponentOptions = {}): Promise<{ configJson: string; weights: Uint8Array }> {
  const json = componentConfigJson(module, opts);
  return { configJson: `${JSON.stringify(json, null, 2)}\n`, weights: encodeSafetensors(await module.stateDict(), headerMetadata(json)) };
}

/** Writes `module` to the folder `dir` (Node), replacing it atomically. */
export async function saveComponent(dir: string, module: Module, opts: SaveComponentOptions = {}): Promise<void> {
  const json = componentConfigJson(module, opts);
  const fs = await nodeFs(dir);
  const path = (await import(/* @vite-ignore */ 'node:path' as string)) as typeof import('node:path');
  const target = path.resolve(dir);
  const tag = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const tmp = `${target}.tmp-${tag}`;
  const old = `${target}.old-${tag}`;
  try {
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.mkdir(tmp);
  } catch (e) {
    throw new WeightsFormatError(target, `cannot create the component folder: ${(e as Error).message}`, e);
  }
  try {
    await writeFileAtomic(path.join(tmp, COMPONENT_CONFIG_FILE), [new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`)]);
    await writeSafetensorsFile(path.join(tmp, COMPONENT_WEIGHTS_FILE), await module.stateDict(), headerMetadata(json));
    let hadOld = false;
    try {
      await fs.rename(target, old);
      hadOld = true;
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') throw e;
    }
    try {
      await fs.rename(tmp, target);
    } catch (e) {
      if (hadOld) await fs.rename(old, target).catch(() => {});
      throw e;
    }
    if (hadOld) await fs.rm(old, { recursive: true, force: true });
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => {});
    if (e instanceof WeightsFormatError) throw e;
    throw new WeightsFormatError(target, `cannot save the component folder: ${(e as Error).message}`, e);
  }
}
