#!/usr/bin/env bash
# Issue #19 on the GPU machine (after prepare.sh; device tool, carry ['.device']): PyTorch bf16 (the
# models, torch._int_mm and bf16/fp32 matmul on the int8 shapes: torch.json) and tfjs-webgpu at W8A8
# vs fp32 (int8-bench: int8.json) in one call, on the same card. JSON under $OUT, tables on stdout.
#   bash tools/bench/device/run-int8.sh            # full size
#   bash tools/bench/device/run-int8.sh --quick    # small shapes, tiny models (a smoke run)
#   SKIP_TORCH=1 bash tools/bench/device/run-int8.sh
set -uo pipefail
cd "$(dirname "$0")/../../.."
source tools/bench/device/setup.sh
quick=(); for a in "$@"; do [ "$a" = --quick ] && quick=(--quick); done
if [ -z "${SKIP_TORCH:-}" ]; then
  echo "== torch_bench --int8 --modes bf16 ($(date -u +%H:%M:%S))"
  python3 .device/torch_bench.py --out "$OUT" --check-shapes .device/model-shapes.json --int8 --no-micro --modes "${TORCH_MODES:-bf16}" ${quick[@]+"${quick[@]}"} 2>&1 | grep -v '^\[torch\]'
fi
echo "== int8-bench $* ($(date -u +%H:%M:%S))"
/tmp/fae/node .device/int8-bench.mjs --out "$OUT" "$@" 2>&1 | grep -v "^Warning\|^$\|^\[Invalid"
