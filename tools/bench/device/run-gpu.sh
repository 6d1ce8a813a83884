#!/usr/bin/env bash
# Runs on the GPU machine (see prepare.sh): PyTorch and tfjs-webgpu (tfjs's kernels, then ours) on
# the same shapes in one call; tables on stdout (the last one side by side), JSON under $OUT.
#   bash tools/bench/device/run-gpu.sh [--quick] [--profile] [--no-models]
#   KERNELS=fae SKIP_TORCH=1 bash tools/bench/device/run-gpu.sh     # one kernel set, no PyTorch
#   TORCH_MODES=fp32 PASSES='--sweep;--kernels fae --matmul scalar;--kernels fae --profile' bash tools/bench/device/run-gpu.sh
#     TORCH_MODES: PyTorch's modes (default fp32,tf32,bf16); PASSES: ';'-separated gpu-bench argument
#     sets run one after the other (default: one per KERNELS entry); the script's own arguments go to all.
#   ORT=1: also onnxruntime-web's WebGPU EP on the ViT-B block and DINOv2-B (src/ort-webgpu-bench.ts).
set -uo pipefail
cd "$(dirname "$0")/../../.."
source tools/bench/device/setup.sh
torch_args=()
for a in "$@"; do case "$a" in --quick|--no-models) torch_args+=("$a") ;; esac; done
if [ -z "${SKIP_TORCH:-}" ]; then
  python3 .device/torch_bench.py --out "$OUT" --check-shapes .device/model-shapes.json --modes "${TORCH_MODES:-fp32,tf32,bf16}" ${torch_args[@]+"${torch_args[@]}"} 2>&1 | grep -v '^\[torch\]'
fi
if [ -z "${PASSES:-}" ]; then PASSES=$(for k in ${KERNELS:-tfjs fae}; do printf -- '--kernels %s;' "$k"; done); fi
IFS=';' read -ra passes <<< "$PASSES"
for p in "${passes[@]}"; do
  [ -n "$p" ] || continue
  echo "== gpu-bench $p $* ($(date -u +%H:%M:%S))"
  # shellcheck disable=SC2086
  /tmp/fae/node .device/gpu-bench.mjs $p --out "$OUT" "$@" 2>&1 | grep -v "^Warning\|^$\|^\[Invalid"
done
if [ -n "${ORT:-}" ]; then # the JS peer: onnxruntime-web's WebGPU EP (prepare.sh packs it)
  echo "== onnxruntime-web WebGPU ($(date -u +%H:%M:%S))"
  tar -C .device -xJf .device/ortweb.tar.xz
  /tmp/fae/node .device/ort-webgpu-bench.mjs --out "$OUT" ${torch_args[@]+"${torch_args[@]}"} 2>&1 | grep -v "^Warning\|^$"
fi
