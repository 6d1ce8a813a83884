// The component registry: a name -> how to build a module from its config, how to read a module's
// config back, and (for upstream layouts) how to recognise and load a checkpoint that has no FAE
// "class". Packages register their classes when they are imported (a side effect of their entry).
import { ConfigError } from '../errors.js';
import type { Module } from '../nn/module.js';
import type { OpenedComponent } from './open.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyConfig = any;

export interface ComponentEntry<M extends Module = Module, C extends object = AnyConfig> {
  /** The class saved under this name (matched by exact constructor); needed for saveComponent. */
  type?: abstract new (...args: never[]) => M;
  /** A module with random weights from its stored constructor config; `where` names the file for errors. */
  create(config: C, where: string): M;
  /** The constructor config of a module (JSON-serialisable; stored under "config"). */
  configOf(module: M): C;
  /**
   * Recognises an upstream config.json (no FAE "class"), e.g. `model_type: 'dinov2'`. Entries whose
   * detect says yes load it with `load` (or create + strict weights when there is no `load`).
   */
  detect?(config: Record<string, unknown>, opened: OpenedComponent): boolean;
  /**
   * Custom loading (upstream layouts: key prefixes, `.pt` checkpoints); replaces create + strict
   * weights for upstream folders and for weights files other than model.safetensors. `config` is the
   * stored constructor config (FAE folders) or the upstream config.json.
   */
  load?(opened: OpenedComponent, config: Record<string, unknown>): Promise<M>;
}

interface Registered {
  name: string;
  entry: ComponentEntry;
}

const BY_NAME = new Map<string, Registered>();
const BY_TYPE = new Map<unknown, Registered>();

/** Registers (or replaces) the component `name`. */
export function registerComponent<M extends Module, C extends object>(name: string, entry: ComponentEntry<M, C>): void {
  if (!name || typeof name !== 'string') throw new ConfigError('registerComponent', 'name must be a non-empty string');
  if (typeof entry?.create !== 'function' || typeof entry.configOf !== 'function') {
    throw new ConfigError(`registerComponent('${name}')`, 'entry needs create(config) and configOf(module)');
  }
  const old = BY_NAME.get(name);
  if (old?.entry.type) BY_TYPE.delete(old.entry.type);
  const reg: Registered = { name, entry: entry as unknown as ComponentEntry };
  BY_NAME.set(name, reg);
  if (entry.type) BY_TYPE.set(entry.type, reg);
}

export function unregisterComponent(name: string): boolean {
  const old = BY_NAME.get(name);
  if (!old) return false;
  if (old.entry.type) BY_TYPE.delete(old.entry.type);
  return BY_NAME.delete(name);
}

export function registeredComponentNames(): string[] {
  return [...BY_NAME.keys()];
}

/** The entry registered under `name` (ConfigError listing the known names when none). */
export function componentEntry(name: string, where = 'component'): ComponentEntry {
  const r = BY_NAME.get(name);
  if (!r) {
    throw new ConfigError(where, `no component registered as '${name}' (known: ${registeredComponentNames().join(', ') || 'none'}); import the package that defines it (e.g. @fae/diffusion) or call registerComponent`);
  }
  return r.entry;
}

/** The registered name of a module's class, or null when its class is not registered. */
export function componentNameOf(module: Module): string | null {
  return BY_TYPE.get(module.constructor)?.name ?? null;
}

/** The registered name and stored config of a module (ConfigError when its class is not registered). */
export function describeComponent(module: Module): { name: string; config: object } {
  const r = BY_TYPE.get(module.constructor);
  if (!r) throw new ConfigError(module.typeName, 'this class is not a registered component (registerComponent(name, { type, create, configOf }))');
  return { name: r.name, config: r.entry.configOf(module) };
}

/** The first registered entry whose detect hook recognises an upstream config.json. */
export function detectComponent(config: Record<string, unknown>, opened: OpenedComponent): { name: string; entry: ComponentEntry } | null {
  for (const r of BY_NAME.values()) if (r.entry.detect?.(config, opened)) return r;
  return null;
}
