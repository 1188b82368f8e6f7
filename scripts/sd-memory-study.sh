#!/usr/bin/env bash
# Memory and speed of an all-parameter RGD step on full-size Stable Diffusion 1.x (512 × 512, batch 1) with each
# memory setting alone and all together, beside Lethe's memory estimate: the table of docs/performance.md.
#
#   scripts/make-sd15-random.sh /work/runs/sd15-random        # the model: SD 1.5's architecture, random weights
#   scripts/sd-memory-study.sh /work/runs/sd15-random OUT_DIR   # one log per setting in OUT_DIR, then the table
#
# Each setting runs in a process of its own (`lethe-cli bench unlearn-concept`), so each peak resident set is its
# own; the peak is taken after the model is loaded (loading's transient copy is not the run's). One step for each
# setting alone (the first step: Adam's moments are made after its passes), and three steps with all settings on:
# its first step is the table's "all three" row, its later ones the steady state. Environment: LETHE_CLI (default build/default/app/cli/lethe-cli), THREADS (default 2).
set -euo pipefail

model="${1:?usage: sd-memory-study.sh MODEL_DIR OUT_DIR}"
out="${2:?usage: sd-memory-study.sh MODEL_DIR OUT_DIR}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="${LETHE_CLI:-$root/build/default/app/cli/lethe-cli}"
threads="${THREADS:-2}"
mkdir -p "$out"

run() {
    local name="$1" steps="$2"
    shift 2
    echo "== $name ($steps step(s)): $*" >&2
    if "$cli" -j "$threads" bench unlearn-concept --model "$model" --method rgd --params all --batch 1 --size 512 \
        --steps "$steps" --device cpu "$@" >"$out/$name.log" 2>&1; then
        grep -E "^(step|seconds|peak)" "$out/$name.log" >&2
    else
        echo "   failed (exit $?): see $out/$name.log" >&2
    fi
}

run all-steady 3 --gradient-checkpointing --memory-efficient-attention --precision bfloat16
run none 1
run checkpointing 1 --gradient-checkpointing
run efficient-attention 1 --memory-efficient-attention
run bfloat16 1 --precision bfloat16
python3 "$root/scripts/sd-memory-table.py" "$out" "$cli" "$model"
