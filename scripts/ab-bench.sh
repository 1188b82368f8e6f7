#!/usr/bin/env bash
# A/B timing of two lethe-cli builds on the CPU (docs/performance.md, "CPU hot loops"): ROUNDS rounds (default 5)
# of `bench unlearn --method rgd` and `bench sample`, the two binaries taking turns (which goes first alternates by
# round, so that a load drifting over the run falls on both), with the same settings and THREADS threads (default 2).
# Each benchmark line's median goes into OUT/runs.tsv, and so does the CPU time (user + system) of the whole
# command: on a machine others share, wall times rise with their load while CPU time mostly does not (it includes
# loading the model and data, the same for both builds, and at 2 threads any time OpenMP spends spinning).
# scripts/ab-table.py then prints the median of each variant over the rounds and the new/old ratio. Usage:
# scripts/ab-bench.sh OLD_CLI NEW_CLI [OUT]; ROUNDS, THREADS, UNLEARN_ARGS and SAMPLE_ARGS override the defaults.
set -euo pipefail
old=${1:?usage: scripts/ab-bench.sh OLD_CLI NEW_CLI [OUT]}
new=${2:?usage: scripts/ab-bench.sh OLD_CLI NEW_CLI [OUT]}
out=${3:-$(mktemp -d /tmp/lethe-ab.XXXXXX)}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rounds=${ROUNDS:-5}
threads=${THREADS:-2}
read -r -a unlearn <<< "${UNLEARN_ARGS:---method rgd --runs 3 --warmup 1}"
read -r -a sample <<< "${SAMPLE_ARGS:---runs 1 --warmup 0}"
mkdir -p "$out"
tsv=$out/runs.tsv
printf 'round\tvariant\tbenchmark\tmedian_ms\n' > "$tsv"

# LOG CMD...: runs CMD with its output in LOG and prints its CPU time (user + system) in milliseconds.
cpu_ms() {
    local log=$1 TIMEFORMAT='%U %S' times
    shift
    times=$({ time "$@" > "$log" 2>&1; } 2>&1) || { echo "failed: $* (see $log)" >&2; exit 1; }
    awk '{ printf "%.0f", ($1 + $2) * 1000 }' <<< "$times"
}

# VARIANT CLI ROUND: both benchmarks of one binary; their full output goes to OUT/VARIANT-ROUND-*.log.
measure() {
    local variant=$1 cli=$2 round=$3 log value cpu
    log=$out/$variant-$round-unlearn.log
    cpu=$(cpu_ms "$log" "$cli" -j "$threads" bench unlearn "${unlearn[@]}")
    value=$(awk '$1 == "rgd" && $2 == "median" { print $3 }' "$log")
    [[ -n $value ]] || { echo "no rgd median in $log" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\n' "$round" "$variant" "unlearn rgd (ms/step)" "$value" >> "$tsv"
    printf '%s\t%s\t%s\t%s\n' "$round" "$variant" "bench unlearn, CPU time (ms)" "$cpu" >> "$tsv"
    log=$out/$variant-$round-sample.log
    cpu=$(cpu_ms "$log" "$cli" -j "$threads" bench sample "${sample[@]}")
    value=$(awk '$1 == "sample:" && $2 == "median" { print $3 }' "$log")
    [[ -n $value ]] || { echo "no sample median in $log" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\n' "$round" "$variant" "sample Heun (ms/batch)" "$value" >> "$tsv"
    printf '%s\t%s\t%s\t%s\n' "$round" "$variant" "bench sample, CPU time (ms)" "$cpu" >> "$tsv"
}

for ((round = 1; round <= rounds; ++round)); do
    if ((round % 2)); then
        measure old "$old" "$round"
        measure new "$new" "$round"
    else
        measure new "$new" "$round"
        measure old "$old" "$round"
    fi
    echo "round $round of $rounds done" >&2
done
echo "bench unlearn ${unlearn[*]}; bench sample ${sample[*]}; -j $threads; $rounds rounds; logs in $out"
python3 "$here/ab-table.py" "$tsv"
