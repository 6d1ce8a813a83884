// Entry of the bundled `fae` command for the lent GPU machine (no Node install, no npm, no network):
// esbuild bundles this file with the CLI sources, the @fae/* packages and TensorFlow.js into one
// ESM file (examples/cli/device/prepare.sh -> .device-cli/fae.mjs). Same behaviour as bin/fae.mjs,
// plus what a bundle needs: the backends are imported here (initBackend's runtime imports of backend
// packages by a variable name cannot be bundled) and the wasm binaries are found beside the bundle.
import * as tf from '@tensorflow/tfjs-core'; // first: the engine it creates is the one everything uses
import { version_cpu } from '@tensorflow/tfjs-backend-cpu'; // used below: a bare import would be tree-shaken
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installNodeWebGPU } from '@fae/core';
import { main } from '../src/main.js';

/** The value of `--backend` (the CLI's default is wasm). */
function backendOf(argv: string[]): string {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') break;
    if (argv[i] === '--backend') return argv[i + 1] ?? '';
    if (argv[i].startsWith('--backend=')) return argv[i].slice('--backend='.length);
  }
  return 'wasm';
}

// tfjs-backend-wasm-*.wasm are copied next to this bundle by prepare.sh.
setWasmPaths(`${dirname(fileURLToPath(import.meta.url))}/`);

const argv = process.argv.slice(2);
const backend = backendOf(argv);
if (backend === 'webgpu' || backend === 'auto') {
  // tfjs-backend-webgpu registers itself only where navigator.gpu exists when it is imported, so the
  // `webgpu` package (Dawn, external to the bundle: a native addon) is installed first. When it is
  // missing or finds no adapter, initBackend reports that with a typed error (auto moves on).
  try {
    await installNodeWebGPU();
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch {
    // reported by initBackend
  }
}
if (process.env.FAE_DEBUG) process.stderr.write(`fae bundle: tfjs-core ${tf.version_core}, tfjs-backend-cpu ${version_cpu}, backend requested ${backend}\n`);
const code = await main(argv);
// Exit explicitly: with `--threads n` > 1 the wasm backend's pthread workers keep Node's event loop
// alive after the command has finished (a run would then last until run.sh's deadline). Output is
// flushed first (stdout/stderr to files and pipes are synchronous on Linux; this waits anyway).
await new Promise<void>((done) => process.stdout.write('', () => done()));
await new Promise<void>((done) => process.stderr.write('', () => done()));
process.exit(code);
