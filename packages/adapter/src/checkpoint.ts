// Component checkpoints: one folder per component holding `config.json` (the constructor config plus
// "class") and `model.safetensors` (the state dict under PyTorch layouts and key names). Saving is
// atomic at the folder level: both files are written into a temporary sibling folder which then
// replaces the target, so a crash never leaves a config that does not match its weights.
// Loading goes through core's hub resolution: a local folder, an http(s) URL of such a folder, or a
// hub id ("org/name[@revision]"), with the hub's cache and progress events.
import {
  ConfigError, WeightsFormatError, loadWeights, nodeFs, resolveModel, writeFileAtomic, writeSafetensorsFile,
  type HubOptions, type Module, type TensorStore,
} from '@fae/core';

export const COMPONENT_CONFIG_FILE = 'config.json';
export const COMPONENT_WEIGHTS_FILE = 'model.safetensors';
/** Version of the config.json layout written here. */
export const COMPONENT_FORMAT_VERSION = 1;

/** A component config as stored: the model's config fields plus its class name. */
export type ComponentConfig = Record<string, unknown> & { class: string };

export interface OpenedComponent {
  config: ComponentConfig;
  /** The weights, read tensor by tensor; close() it when loaded. */
  store: TensorStore;
  /** Where it came from (folder, URL), for messages. */
  source: string;
}

/** Hub options (cache, token, revision, progress, offline ...), passed to core's resolveModel. */
export type OpenComponentOptions = HubOptions;

/**
 * Writes `config` (with "class" and "fae_format") and the module's state dict into `dir`, atomically.
 * `metadata` goes into the safetensors header (string values only).
 */
export async function saveComponent(dir: string, module: Module, className: string, config: object, metadata: Record<string, string> = {}): Promise<void> {
  const fs = await nodeFs(dir);
  const path = await import(/* @vite-ignore */ 'node:path' as string) as typeof import('node:path');
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const tmp = `${target}.tmp-${tag}`;
  const old = `${target}.old-${tag}`;
  await fs.mkdir(tmp);
  try {
    const json = JSON.stringify({ class: className, fae_format: COMPONENT_FORMAT_VERSION, ...config }, null, 2) + '\n';
    await writeFileAtomic(path.join(tmp, COMPONENT_CONFIG_FILE), [new TextEncoder().encode(json)]);
    await writeSafetensorsFile(path.join(tmp, COMPONENT_WEIGHTS_FILE), await module.stateDict(), { format: 'pt', fae_class: className, ...metadata });
    let hadOld = false;
    try {
      await fs.rename(target, old);
      hadOld = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await fs.rename(tmp, target);
    if (hadOld) await fs.rm(old, { recursive: true, force: true });
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => {});
    if (e instanceof WeightsFormatError) throw e;
    throw new WeightsFormatError(target, `cannot save the checkpoint folder: ${(e as Error).message}`, e);
  }
}

/** Opens a component folder, URL or hub id: its parsed config.json and a lazy store over model.safetensors. */
export async function openComponent(source: string, opts: OpenComponentOptions = {}): Promise<OpenedComponent> {
  const model = await resolveModel(source, { ...opts, config: true, preprocessor: false, weights: true });
  const where = `${model.source.name}/${COMPONENT_CONFIG_FILE}`;
  const config = model.config as Record<string, unknown> | null;
  if (!config || typeof config.class !== 'string') throw new ConfigError(where, 'expected a JSON object with a "class" field (an FAE component config)');
  const store = await loadWeights(model);
  return { config: config as ComponentConfig, store, source: model.source.name };
}

/** Checks config.class against the expected class name(s); returns the config without bookkeeping fields. */
export function componentConfigFor<T>(opened: OpenedComponent, className: string): Partial<T> {
  const { class: cls, fae_format: fmt, ...rest } = opened.config as ComponentConfig & { fae_format?: number };
  if (cls !== className) {
    throw new ConfigError(`${opened.source}/${COMPONENT_CONFIG_FILE}`, `holds a '${cls}', not a '${className}'`);
  }
  if (fmt !== undefined && fmt > COMPONENT_FORMAT_VERSION) {
    throw new ConfigError(`${opened.source}/${COMPONENT_CONFIG_FILE}`, `fae_format ${fmt} is newer than this library reads (${COMPONENT_FORMAT_VERSION}); upgrade the package`);
  }
  return rest as Partial<T>;
}

/**
 * Opens `source`, builds the module from its config with `make`, loads the weights strictly and
 * closes the store. The module is disposed if loading fails.
 */
export async function loadComponent<M extends Module, C>(source: string, className: string, make: (config: Partial<C>) => M, opts: OpenComponentOptions = {}): Promise<M> {
  const opened = await openComponent(source, opts);
  try {
    const module = make(componentConfigFor<C>(opened, className));
    try {
      await module.loadStateDict(opened.store, { strict: true });
    } catch (e) {
      module.dispose();
      throw e;
    }
    return module;
  } finally {
    await opened.store.close?.();
  }
}
