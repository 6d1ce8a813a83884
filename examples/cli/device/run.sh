#!/usr/bin/env bash
# Runs `fae` command lines on the lent GPU machine (no Node, no npm, no network), from what
# examples/cli/device/prepare.sh put in .device-cli/ and tools/bench/device/prepare.sh in .device/:
#
#   bash examples/cli/device/run.sh [--parallel] "<fae args>" ["<fae args>" ...] [--then "<fae args>" ...]
#
# Each quoted argument is one fae command line (split on blanks: no quoting inside). `--then` starts
# a new phase: phases run one after another; inside a phase the commands run one after another, or
# all at once with --parallel. A phase after one in which a command failed or was stopped is skipped
# (KEEP_GOING=1 runs it anyway).
#
# Every command gets `--models $MODELS` (a copy of examples/cli/checkpoints made at the start unless
# that folder exists; `fae train` writes into it) and `--out $RUN/out` unless it names its own; the
# working folder is $RUN (relative --out paths land there); `{models}` in a command line stands for
# $MODELS ("eval --out {models}" writes metrics.json into the models folder). Before a parallel phase
# in which two or more training stages need the encoder's feature cache and it is missing or older
# than the encoder, `train features` runs first (else each process would build the same cache at once).
#
# Time: everything stops before DEADLINE_S seconds (default 540) after this script started: the fae
# processes still running at DEADLINE_S - PACK_S (default 25) get SIGTERM, then SIGKILL 5 s later.
# `fae train` writes a component only when its stage finishes, so a stopped stage leaves the previous
# component (the shipped one) in place: choose --steps that fit.
#
# What comes back under $OUT (3 files): models.tar.gz (the models folder, as `models/...`; in 15 MiB
# parts models.tar.gz.part-aa, -ab, ... when larger, the device's per-file limit being 16 MiB),
# run.tar.gz (logs/NN-*.log = stderr, logs/NN-*.json = stdout, summary.json, the --out folders
# without feature caches) and summary.json (per command: args, exit code, seconds, stopped or not).
#
# Environment: DEADLINE_S, PACK_S, OUT (default /tmp/out), RUN (default /tmp/fae-run; emptied),
# MODELS (default $RUN/models), KEEP_GOING, FAE_NODE (a node binary to use instead of .device/node.xz),
# FAE_NO_DEBS=1 (do not install the Vulkan loader debs into /), VK_DRIVER_FILES (default: NVIDIA's ICD).
set -uo pipefail
start=$SECONDS
cd "$(dirname "$0")/../../.."
DEADLINE_S=${DEADLINE_S:-540}
PACK_S=${PACK_S:-25}
OUT=${OUT:-/tmp/out}
RUN=${RUN:-/tmp/fae-run}
MODELS=${MODELS:-$RUN/models}
stop_at=$((DEADLINE_S - PACK_S))
elapsed() { echo $((SECONDS - start)); }
say() { echo "[run.sh $(elapsed)s] $*"; }

# ---- command line -> phases (each phase: newline-separated command strings) ----
parallel=0
phases=()
current=''
for a in "$@"; do
  case "$a" in
    --parallel) parallel=1 ;;
    --then) [ -n "$current" ] && phases+=("$current"); current='' ;;
    *) current+="$a"$'\n' ;;
  esac
done
[ -n "$current" ] && phases+=("$current")
if [ ${#phases[@]} -eq 0 ]; then
  echo 'usage: run.sh [--parallel] "<fae args>" ["<fae args>" ...] [--then "<fae args>" ...]' >&2
  exit 2
fi
CLI=${FAE_CLI:-.device-cli}
for f in "$CLI/fae.mjs" "$CLI/node_modules.tar.xz"; do
  [ -f "$f" ] || { echo "run.sh: missing $f (run examples/cli/device/prepare.sh and carry $CLI)" >&2; exit 1; }
done

# ---- node, the app, the models folder ----
rm -rf "$RUN" && mkdir -p "$RUN/app" "$RUN/logs" "$OUT"
if [ -n "${FAE_NODE:-}" ]; then
  node=$FAE_NODE
else
  xz -dc .device/node.xz > "$RUN/node" && chmod +x "$RUN/node" || { echo 'run.sh: cannot unpack .device/node.xz (carry it)' >&2; exit 1; }
  node=$RUN/node
fi
cp "$CLI/fae.mjs" "$CLI"/*.wasm "$RUN/app/"
tar -C "$RUN/app" -xJf "$CLI/node_modules.tar.xz"
if [ ! -d "$MODELS" ]; then mkdir -p "$(dirname "$MODELS")" && cp -r examples/cli/checkpoints "$MODELS"; fi
# The bundle's default models folder is <bundle dir>/../checkpoints: make it this one.
ln -sfn "$MODELS" "$RUN/checkpoints"

# ---- WebGPU (only when asked): Dawn beside the bundle, the Vulkan loader, NVIDIA's ICD ----
if printf '%s' "${phases[*]}" | grep -Eq -- '--backend[= ](webgpu|auto)'; then
  tar -C "$RUN/app" -xJf .device/webgpu.tar.xz || { echo 'run.sh: cannot unpack .device/webgpu.tar.xz (carry it)' >&2; exit 1; }
  if [ -z "${FAE_NO_DEBS:-}" ]; then
    for f in .device/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
fi
say "node $("$node" --version), $(nproc) cores; models $MODELS; deadline ${DEADLINE_S}s (fae stopped at ${stop_at}s)"

# ---- running ----
n=0
pids=()
names=()
declare -A T0 END ARGS
summary="$RUN/logs/summary.jsonl"
: > "$summary"

json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }

# start <fae args string>: launches one fae process in the background.
start_cmd() {
  local line=${1//\{models\}/$MODELS} args
  read -ra args <<< "$line"
  [[ " ${args[*]} " == *" --models "* || " ${args[*]} " == *" --models="* ]] || args+=(--models "$MODELS")
  [[ " ${args[*]} " == *" --out "* || " ${args[*]} " == *" --out="* ]] || args+=(--out "$RUN/out")
  n=$((n + 1))
  local slug
  slug=$(printf '%02d-%s' "$n" "$(printf '%s' "$line" | tr -cs 'A-Za-z0-9_.' '-' | sed 's/-*$//' | cut -c1-48)")
  ( cd "$RUN" && exec "$node" app/fae.mjs "${args[@]}" ) > "$RUN/logs/$slug.json" 2> "$RUN/logs/$slug.log" &
  pids+=($!)
  names+=("$slug")
  T0[$!]=$SECONDS
  ARGS[$!]=$(json_str "${args[*]}")
  say "started $slug (pid $!): fae ${args[*]}"
}

failed=0
# wait_all: waits for every started process, stopping them at the deadline; records each in the summary.
wait_all() {
  local stopped=0 i pid rc
  while :; do
    local running=0
    for pid in "${pids[@]}"; do
      if kill -0 "$pid" 2>/dev/null; then running=1; elif [ -z "${END[$pid]:-}" ]; then END[$pid]=$SECONDS; fi
    done
    [ $running -eq 0 ] && break
    if [ $stopped -eq 0 ] && [ "$(elapsed)" -ge "$stop_at" ]; then
      say "deadline: stopping ${names[*]}"
      for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
      stopped=$SECONDS
    elif [ $stopped -gt 0 ] && [ $((SECONDS - stopped)) -ge 5 ]; then
      for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    fi
    sleep 1
  done
  for i in "${!pids[@]}"; do
    pid=${pids[$i]}
    wait "$pid"; rc=$?
    local secs=$(( ${END[$pid]:-$SECONDS} - ${T0[$pid]} )) a=${ARGS[$pid]}
    local was_stopped=false
    [ $stopped -gt 0 ] && [ $rc -ge 128 ] && was_stopped=true
    [ $rc -ne 0 ] && failed=1
    printf '{"log":"%s","args":%s,"exitCode":%d,"seconds":%d,"stoppedAtDeadline":%s}\n' "${names[$i]}" "$a" "$rc" "$secs" "$was_stopped" >> "$summary"
    say "${names[$i]}: exit $rc after ${secs} s$([ "$was_stopped" = true ] && echo ' (stopped at the deadline)')"
    tail -n 3 "$RUN/logs/${names[$i]}.log" | sed 's/^/    /'
  done
  pids=()
  names=()
  [ $stopped -eq 0 ]
}

# Training stages that read the feature cache (built from the encoder into <out>/work/feature-cache).
cache_re=' train (stage-ib|stage-ia|stage-ii|dit|tarflow) '
needs_cache() { [[ " $1 " =~ $cache_re ]] && [[ " $1 " != *" --out"* ]]; }
cache_missing() {
  local idx="$RUN/out/work/feature-cache/index.json"
  [ ! -f "$idx" ] || [ "$MODELS/encoder/model.safetensors" -nt "$idx" ]
}

out_of_time=0
for p in "${phases[@]}"; do
  mapfile -t cmds < <(printf '%s' "$p")
  if [ $out_of_time -eq 1 ] || { [ $failed -eq 1 ] && [ -z "${KEEP_GOING:-}" ]; }; then
    for c in "${cmds[@]}"; do
      printf '{"args":%s,"skipped":true}\n' "$(json_str "$c")" >> "$summary"
      say "skipped: fae $c"
    done
    continue
  fi
  if [ $parallel -eq 1 ] && [ ${#cmds[@]} -gt 1 ]; then
    k=0
    for c in "${cmds[@]}"; do needs_cache "$c" && k=$((k + 1)); done
    if [ $k -ge 2 ] && cache_missing; then
      say "building the feature cache once before the parallel phase"
      start_cmd "train features"
      wait_all || out_of_time=1
    fi
    if [ $out_of_time -eq 0 ]; then
      for c in "${cmds[@]}"; do start_cmd "$c"; done
      wait_all || out_of_time=1
    fi
  else
    for c in "${cmds[@]}"; do
      [ $out_of_time -eq 1 ] && { printf '{"args":%s,"skipped":true}\n' "$(json_str "$c")" >> "$summary"; say "skipped (deadline): fae $c"; continue; }
      [ $failed -eq 1 ] && [ -z "${KEEP_GOING:-}" ] && { printf '{"args":%s,"skipped":true}\n' "$(json_str "$c")" >> "$summary"; say "skipped: fae $c"; continue; }
      start_cmd "$c"
      wait_all || out_of_time=1
    done
  fi
done

# ---- packing (at most 3 files under $OUT) ----
find "$MODELS" -name '*.tmp-*' -delete 2>/dev/null # left by a process stopped while writing (writes are atomic)
{ echo '['; sed '$!s/$/,/' "$summary"; echo ']'; } > "$RUN/logs/summary.json"
rm -f "$summary"
cp "$RUN/logs/summary.json" "$OUT/summary.json"
tar -C "$(dirname "$MODELS")" -czf "$OUT/models.tar.gz" --transform "s|^$(basename "$MODELS")|models|" "$(basename "$MODELS")"
keep=()
for e in "$RUN"/*; do
  case "$(basename "$e")" in app|node|checkpoints) ;; *) [ "$(realpath "$e")" = "$(realpath "$MODELS")" ] || keep+=("$(basename "$e")") ;; esac
done
tar -C "$RUN" -czf "$OUT/run.tar.gz" --exclude='feature-cache' "${keep[@]}"
# The device returns files of up to 16 MiB: a larger models.tar.gz (resume checkpoints inside) comes
# back in parts; here: cat models.tar.gz.part-* > models.tar.gz
if [ "$(stat -c %s "$OUT/models.tar.gz")" -gt $((15 * 1024 * 1024)) ]; then
  (cd "$OUT" && split -b 15M models.tar.gz models.tar.gz.part- && rm models.tar.gz)
fi
say "wrote $(cd "$OUT" && du -h models.tar.gz* run.tar.gz summary.json | tr '\t\n' ' ')"
[ $failed -eq 0 ]
