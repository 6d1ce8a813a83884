#!/usr/bin/env bash
# The shipped run: the same `fae train <stage>` commands that `fae train all` runs in order, scheduled
# as a small DAG of parallel processes (2 cores): the classifier and the pixel-space baseline in one
# chain; encoder -> features -> (stage Ib | stage Ia) -> stage II -> (DiT | TARFlow) in the other;
# then `fae eval`, which writes metrics.json next to the components.
#   bash scripts/train-parallel.sh [models-dir]      (default: ./checkpoints)
set -u
cd "$(dirname "$0")/.."
M=$(realpath -m "${1:-checkpoints}")
L=$(mktemp -d /tmp/fae-train-XXXX)
F="node bin/fae.mjs"
stage() { echo "$(date +%T) start $1"; $F train $1 --models "$M" --out "$L/$2" --quiet > "$L/$1.out" 2> "$L/$1.err"; echo "$(date +%T) end $1 rc=$?"; }
( stage classifier b; stage dit-pixels b ) & PB=$!
stage encoder a
stage features a
stage stage-ib a & P1=$!
stage stage-ia a & P2=$!
wait $P1 $P2
stage stage-ii a
stage dit a & P3=$!
stage tarflow a & P4=$!
wait $P3 $P4 $PB
$F eval --models "$M" --out "$M" --quiet > "$L/eval.out" 2> "$L/eval.err"
echo "$(date +%T) eval rc=$? (logs in $L)"
