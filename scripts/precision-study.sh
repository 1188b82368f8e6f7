#!/usr/bin/env bash
# Mixed precision on the built-in model: the cpu-fast RGD run forgetting class 7 (Sneaker) in float32 and with
# bfloat16 autocast, from the same seeds, and UA / RA / FD_cls of each (docs/performance.md).
#
#   scripts/precision-study.sh OUT_DIR [SEEDS...]     # default seeds: 0 1
#
# Two seeds per precision show the run-to-run spread that "within noise" is measured against. Environment:
# LETHE_CLI (default build/default/app/cli/lethe-cli), THREADS (default 2).
set -euo pipefail

out="${1:?usage: precision-study.sh OUT_DIR [SEEDS...]}"
shift
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(0 1)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="${LETHE_CLI:-$root/build/default/app/cli/lethe-cli}"
threads="${THREADS:-2}"
mkdir -p "$out"

for seed in "${seeds[@]}"; do
    for precision in float32 bfloat16; do
        dir="$out/$precision-seed-$seed"
        [ -f "$dir/run.json" ] && continue
        echo "== $precision, seed $seed" >&2
        "$cli" -j "$threads" unlearn --forget-class 7 --preset cpu-fast --seed "$seed" --precision "$precision" \
            --out "$dir" >"$out/$precision-seed-$seed.log" 2>&1
    done
done
python3 - "$out" "${seeds[@]}" <<'PY'
import json, sys
from pathlib import Path


def find(node, key):
    """The first value under `key` anywhere in run.json (the measures sit in the evaluation's object)."""
    if isinstance(node, dict):
        if key in node:
            return node[key]
        node = list(node.values())
    if isinstance(node, list):
        for child in node:
            found = find(child, key)
            if found is not None:
                return found
    return None


out, seeds = Path(sys.argv[1]), sys.argv[2:]
print("| precision | seed | UA | RA | FD_cls | seconds |")
print("|---|---:|---:|---:|---:|---:|")
for seed in seeds:
    for precision in ("float32", "bfloat16"):
        run = json.loads((out / f"{precision}-seed-{seed}" / "run.json").read_text())
        figures = [find(run, k) for k in ("UA", "RA", "FD_cls")]
        text = " | ".join("—" if f is None else f"{float(f):.3f}" for f in figures)
        print(f"| {precision} | {seed} | {text} | {float(run['seconds']):.0f} |")
PY
