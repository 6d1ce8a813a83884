#!/usr/bin/env node
// The `fae` command. Runs the TypeScript sources through tsx, with this package's tsconfig mapping
// the @fae/* packages to their sources, so a fresh clone needs no build step; TensorFlow.js packages
// load from their ESM builds, as in a bundle (see tfjs-esm-hooks.mjs).
import { register as registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

registerHooks('./tfjs-esm-hooks.mjs', import.meta.url);
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
// tfjs-core first: the engine it creates on the global object is the one every copy then uses
// (@fae/core registers gradients from a bundled copy, which must not be the one to create it).
await import('@tensorflow/tfjs-core');
const { main } = await import('../src/main.ts');
const code = await main(process.argv.slice(2));
// Exit explicitly once stdout/stderr are flushed: threaded wasm's worker threads would keep Node alive.
await new Promise((resolve) => process.stdout.write('', () => process.stderr.write('', resolve)));
process.exit(code);
