// Backend packages that were imported statically, through `@fae/core/backends/<name>`.
//
// initBackend imports a backend package on demand through a variable specifier, which Node follows but
// bundlers do not (so library code never pulls every backend into a bundle). A bundled app imports
// `@fae/core/backends/wasm` (or cpu, webgpu, webgl) instead: that entry imports the tfjs backend package
// statically, so the bundler includes it, and hands its module here, where initBackend finds it. The
// table lives on globalThis because each entry point is built on its own (it holds its own copy of
// this file) and the ESM and CommonJS builds may both be loaded.
const KEY = Symbol.for('@fae/core:backend-modules');

function table(): Map<string, unknown> {
  const g = globalThis as unknown as Record<symbol, Map<string, unknown> | undefined>;
  return (g[KEY] ??= new Map<string, unknown>());
}

/** Records the module of a backend package imported statically (used by `@fae/core/backends/*`). */
export function provideBackendModule(name: string, mod: unknown): void {
  table().set(name, mod);
}

/** The module recorded for backend `name`, if an `@fae/core/backends/*` entry provided it. */
export function providedBackendModule(name: string): unknown {
  return table().get(name);
}
