// loadComponent: any registered component from a folder, URL or hub id, strictly (every tensor
// present with its shape, none extra). FAE folders name their class; upstream layouts (a Hugging
// Face config.json, a LightningDiT or RAE `.pt`) are recognised by the registered detect hooks.
import { ConfigError } from '../errors.js';
import type { LoadStateDictOptions, Module } from '../nn/module.js';
import type { TensorStore } from '../io/store.js';
import { checkComponentConfigJson, COMPONENT_CONFIG_FILE, COMPONENT_WEIGHTS_FILE } from './format.js';
import { openComponent, type OpenComponentOptions, type OpenedComponent } from './open.js';
import { componentEntry, detectComponent, type ComponentEntry } from './registry.js';

export interface LoadComponentOptions extends OpenComponentOptions {
  /** The registered name(s) the caller expects; anything else is a ConfigError naming config.json. */
  expectClass?: string | string[];
}

/** What a config.json says about a component, without loading weights. */
export interface ComponentDescription {
  /** The registered component name. */
  name: string;
  /** The constructor config (FAE format) or the upstream config.json itself. */
  config: Record<string, unknown>;
  /** The FAE "metadata" notes ({} for upstream layouts). */
  metadata: Record<string, string>;
  /** True when the folder is an upstream layout recognised by a detect hook. */
  upstream: boolean;
}

/** Names the registered component of an opened config (FAE "class" or a detect hook). */
export function describeOpenedComponent(opened: OpenedComponent): ComponentDescription & { entry: ComponentEntry } {
  const where = `${opened.source}/${COMPONENT_CONFIG_FILE}`;
  const raw = opened.config;
  if (typeof raw.class === 'string') {
    const json = checkComponentConfigJson(raw, where);
    return { name: json.class, entry: componentEntry(json.class, where), config: json.config as Record<string, unknown>, metadata: json.metadata ?? {}, upstream: false };
  }
  const found = detectComponent(raw, opened);
  if (!found) {
    const hint = typeof raw.model_type === 'string' ? ` (model_type ${JSON.stringify(raw.model_type)})` : '';
    throw new ConfigError(where, `not an FAE component (no "class") and no registered component recognises it${hint}; import the package that handles it (@fae/encoders, @fae/diffusion, ...)`);
  }
  return { name: found.name, entry: found.entry, config: raw, metadata: {}, upstream: true };
}

/** config.json of a component, read and identified (no weights are fetched). */
export async function readComponentConfig(source: string, opts: OpenComponentOptions = {}): Promise<ComponentDescription> {
  const { entry: _entry, ...d } = describeOpenedComponent(await openComponent(source, opts));
  return d;
}

function checkExpected(name: string, expect: string | string[] | undefined, where: string): void {
  if (expect === undefined) return;
  const list = Array.isArray(expect) ? expect : [expect];
  if (!list.includes(name)) throw new ConfigError(where, `holds a '${name}', not ${list.map((c) => `a '${c}'`).join(' or ')}`);
}

/** Builds and strictly loads the component an OpenedComponent describes (FAE folder or upstream layout). */
export async function instantiateComponent<T extends Module = Module>(opened: OpenedComponent, opts: { expectClass?: string | string[] } = {}): Promise<T> {
  const where = `${opened.source}/${COMPONENT_CONFIG_FILE}`;
  const d = describeOpenedComponent(opened);
  checkExpected(d.name, opts.expectClass, where);
  if (d.entry.load && (d.upstream || opened.weightsFile !== COMPONENT_WEIGHTS_FILE)) return (await d.entry.load(opened, d.config)) as T;
  return (await loadModuleWeights(d.entry.create(d.config, where), () => opened.openWeights(), { strict: true })) as T;
}

/**
 * Loads the weights that `openStore` opens into `module` and closes the store. If opening or loading
 * fails, the module is disposed and the error rethrown, so a caller never holds a half-loaded model.
 * `options` may depend on the store (e.g. a key prefix read from its keys).
 */
export async function loadModuleWeights<T extends Module>(
  module: T, openStore: () => Promise<TensorStore>, options: LoadStateDictOptions | ((store: TensorStore) => LoadStateDictOptions) = {},
): Promise<T> {
  try {
    const store = await openStore();
    try {
      await module.loadStateDict(store, typeof options === 'function' ? options(store) : options);
    } finally {
      await store.close?.();
    }
  } catch (e) {
    module.dispose();
    throw e;
  }
  return module;
}

/**
 * A registered component from a local folder, an http(s) URL of a folder, a hub id ('org/name[@rev]')
 * or a weights file beside a config.json; strict weights. Hub options: cache, token, progress, offline.
 */
export async function loadComponent<T extends Module = Module>(source: string, opts: LoadComponentOptions = {}): Promise<T> {
  const { expectClass, ...open } = opts;
  return instantiateComponent<T>(await openComponent(source, open), { expectClass });
}
