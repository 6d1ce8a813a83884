#!/usr/bin/env node
// Runs scripts/w8a8-digits.ts the way bin/fae.mjs runs the CLI (tsx with this package's tsconfig, tfjs's
// ESM builds, tfjs-core's engine created first). Arguments: see w8a8-digits.ts.
//   node scripts/w8a8-digits.mjs [--per-class 50] [--kernel scalar] [--out FILE]
import { register as registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

registerHooks('../bin/tfjs-esm-hooks.mjs', import.meta.url);
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('@tensorflow/tfjs-core');
await import('./w8a8-digits.ts');
