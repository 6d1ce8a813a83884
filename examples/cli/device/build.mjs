// Bundles the `fae` command (examples/cli/device/entry.ts) into one ESM file for Node 22:
//   node examples/cli/device/build.mjs <outfile>
// TensorFlow.js, the @fae/* sources (aliased to packages/*/src, as in tools/bench/device/prepare.sh)
// and the CLI are inside; the native `webgpu` package stays outside (unpacked beside it at run time).
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..', '..');
const outfile = resolve(process.argv[2] ?? resolve(root, '.device-cli', 'fae.mjs'));
const packages = ['core', 'encoders', 'adapter', 'decoders', 'diffusion', 'flow', 'eval'];

const result = await build({
  entryPoints: [resolve(here, 'entry.ts')],
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  outfile,
  external: ['webgpu', 'onnxruntime-node'],
  // the @fae/* sideEffects lists name dist bundles; from the sources esbuild would drop core's gradient
  // registrations and the component registry imports
  ignoreAnnotations: true,
  alias: Object.fromEntries(packages.map((p) => [`@fae/${p}`, resolve(root, 'packages', p, 'src', 'index.ts')])),
  // The CommonJS modules inside (tfjs's Node builds, Emscripten's loader) use require and __dirname.
  banner: {
    js: [
      "import { createRequire as __faeCreateRequire } from 'node:module';",
      "import { fileURLToPath as __faeFileURLToPath } from 'node:url';",
      "import { dirname as __faeDirname } from 'node:path';",
      'const require = __faeCreateRequire(import.meta.url);',
      'const __filename = __faeFileURLToPath(import.meta.url);',
      'const __dirname = __faeDirname(__filename);',
    ].join(' '),
  },
  metafile: true,
  logLevel: 'warning',
});
// esbuild turns `require(...)` inside the CommonJS modules into `__require(...)`, a helper that
// returns the banner's `require`. tfjs-backend-wasm's threaded build serialises its Emscripten factory
// (Function#toString) into the main script of its pthread workers, where `__require` does not exist
// (@fae/core's startWasmWithThreads gives that script `require`): call `require` directly (the same
// function in the bundle).
const code = readFileSync(outfile, 'utf8');
const patched = code.replace(/(?<![\w$.])__require\(/g, 'require(');
writeFileSync(outfile, patched);
// Runtime imports that stayed outside the bundle (variable specifiers: optional backends, webgpu).
const externals = new Set();
for (const out of Object.values(result.metafile.outputs)) for (const imp of out.imports) if (imp.external) externals.add(imp.path);
console.log(`bundled ${outfile}; left outside: ${[...externals].sort().join(', ') || 'nothing'}`);
