// Shared tsup settings for every published package: one layout, so each package works from its npm
// tarball in Node ESM, Node CommonJS, TypeScript (NodeNext and Bundler) and browser bundlers.
//
//   dist/node/<entry>.js     ESM for Node            (exports: import)
//   dist/node/<entry>.cjs    CommonJS for Node       (exports: require)
//   dist/node/<entry>.d.ts   types for import        (.d.cts for require)
//   dist/browser/<entry>.js  ESM for bundlers        (exports: browser)
//
// The browser build is the same source with every Node builtin (`node:fs`, `node:path`, ...) replaced
// by a stub whose functions throw "<builtin>.<name> is not available in browsers". Code keeps writing
// `await import('node:fs/promises')` inside Node-only functions; bundlers never see a Node builtin, and
// a browser that calls such a function gets a clear error. No source maps: they would embed every
// source file (two thirds of a tarball) and the sources are not shipped.
//
// A package's tsup.config.ts:
//   import { faePackage } from '../../tsup.shared';
//   export default faePackage({ entry: { index: 'src/index.ts' } });
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import type { Options } from 'tsup';

type Plugin = NonNullable<Options['esbuildPlugins']>[number];

export interface FaePackageOptions {
  /** Public entry points: output name (may contain '/') -> source file. Built for Node and browsers. */
  entry: Record<string, string>;
  /** Node-only entry points (CLIs): built as Node ESM only, without types. */
  nodeOnly?: Record<string, string>;
  /** Text put first in every .d.ts / .d.cts (e.g. an import that brings type augmentations). */
  typesBanner?: string;
  /** Browser build only: source file (relative to the package) -> the module text that replaces it. */
  browserModules?: Record<string, string>;
}

// Kept external in every build: peer dependencies and sibling packages.
const external = [/^@tensorflow\//, /^@fae\//, 'webgpu'];

const common: Options = {
  target: 'es2022',
  sourcemap: false,
  splitting: false,
  treeshake: false,
  removeNodeProtocol: false,
  external,
  // Keep every bare import of our own sources (e.g. core's generated tfjs registrations): the
  // package.json sideEffects lists only the shipped files, for the bundlers of our users.
  esbuildOptions(o) {
    o.ignoreAnnotations = true;
  },
};

const builtins = new Set(builtinModules.filter((m) => !m.startsWith('_')));
const builtinFilter = /^(node:)?[a-z_/]+$/;

/** esbuild plugin: Node builtins resolve to modules whose every export throws when used. */
function stubNodeBuiltins(): Plugin {
  return {
    name: 'fae-stub-node-builtins',
    setup(build) {
      build.onResolve({ filter: builtinFilter }, (args) => {
        const name = args.path.replace(/^node:/, '');
        return builtins.has(name) ? { path: name, namespace: 'fae-node-stub' } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'fae-node-stub' }, async (args) => {
        const real = (await import(`node:${args.path}`)) as Record<string, unknown>;
        const names = Object.keys(real).filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k));
        const lines = [
          `const unavailable = (name) => function () { throw new Error('node:${args.path}.' + name + ' is not available in browsers (this function needs Node.js)'); };`,
          ...names.map((n) => `export const ${n} = unavailable(${JSON.stringify(n)});`),
          `export default new Proxy({}, { get: (_, k) => typeof k === 'string' ? unavailable(k) : undefined });`,
        ];
        return { contents: lines.join('\n'), loader: 'js' };
      });
    },
  };
}

/**
 * esbuild plugin: every `import(/* @vite-ignore *\/ specifier)` (a variable specifier for optional or
 * Node-only modules) also gets webpack's `webpackIgnore` comment, so webpack leaves it alone as Vite
 * does instead of warning about a "critical dependency". Sources keep writing the Vite comment only.
 */
function ignoreDynamicImportsInWebpack(): Plugin {
  return {
    name: 'fae-webpack-ignore',
    setup(build) {
      build.onLoad({ filter: /\/src\/.*\.ts$/ }, async (args) => {
        const { readFile } = await import('node:fs/promises');
        const text = await readFile(args.path, 'utf8');
        if (!text.includes('@vite-ignore')) return undefined;
        return { contents: text.replace(/\/\* @vite-ignore \*\/(?! \/\* webpackIgnore)/g, '/* @vite-ignore */ /* webpackIgnore: true */'), loader: 'ts' };
      });
    },
  };
}

/** esbuild plugin: the given files (absolute paths) load as the given JavaScript text. */
function replaceModules(modules: Record<string, string>): Plugin {
  return {
    name: 'fae-replace-modules',
    setup(build) {
      build.onLoad({ filter: /.*/ }, (args) => {
        const text = modules[args.path];
        return text === undefined ? undefined : { contents: text, loader: 'js' };
      });
    },
  };
}

export function faePackage(opts: FaePackageOptions): Options[] {
  const browserModules = Object.fromEntries(Object.entries(opts.browserModules ?? {}).map(([file, text]) => [resolve(file), text]));
  const configs: Options[] = [
    {
      ...common,
      entry: opts.entry,
      outDir: 'dist/node',
      format: ['esm', 'cjs'],
      platform: 'node',
      shims: true, // import.meta.url in the CommonJS build
      dts: opts.typesBanner ? { banner: opts.typesBanner } : true,
      clean: true,
      esbuildPlugins: [ignoreDynamicImportsInWebpack()],
    },
    {
      ...common,
      entry: opts.entry,
      outDir: 'dist/browser',
      format: ['esm'],
      platform: 'browser',
      dts: false,
      clean: true,
      esbuildPlugins: [replaceModules(browserModules), stubNodeBuiltins(), ignoreDynamicImportsInWebpack()],
    },
  ];
  if (opts.nodeOnly) {
    configs.push({ ...common, entry: opts.nodeOnly, outDir: 'dist/bin', format: ['esm'], platform: 'node', dts: false, clean: true });
  }
  return configs;
}
