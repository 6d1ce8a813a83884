#!/usr/bin/env bash
# Writes the boilerplate of one @fae package (package.json, tsconfig, tsup, vitest config).
set -euo pipefail
name="$1"; desc="$2"; deps="${3:-}"
dir="packages/$name"
mkdir -p "$dir/src" "$dir/test"
cat > "$dir/package.json" <<JSON
{
  "name": "@fae/$name",
  "version": "0.0.0",
  "description": "$desc",
  "license": "Apache-2.0",
  "type": "module",
  "sideEffects": false,
  "exports": {
    ".": { "types": "./dist/index.d.ts", "import": "./dist/index.js" },
    "./package.json": "./package.json"
  },
  "types": "./dist/index.d.ts",
  "main": "./dist/index.js",
  "files": ["dist", "README.md"],
  "scripts": {
    "build": "tsup",
    "typecheck": "tsc --noEmit -p tsconfig.json",
    "test": "vitest run"
  },
  "peerDependencies": { "@tensorflow/tfjs-core": "^4.22.0" },
  "dependencies": {$deps},
  "devDependencies": { "@fae/testing": "*", "@tensorflow/tfjs-core": "^4.22.0" },
  "publishConfig": { "access": "public" }
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{ "extends": "../../tsconfig.base.json", "include": ["src", "test"] }
JSON
cat > "$dir/tsup.config.ts" <<TS
import { defineConfig } from 'tsup';
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  external: [/^@tensorflow\//, /^@fae\//, 'webgpu'],
});
TS
cat > "$dir/vitest.config.ts" <<TS
import { faeVitestConfig } from '../../vitest.shared.ts';
export default faeVitestConfig(import.meta.url);
TS
