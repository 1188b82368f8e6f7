#!/usr/bin/env bash
# A/B timing of two lethe-cli builds on the CPU (docs/performance.md, "CPU hot loops"): ROUNDS rounds (default 5)
# of `bench unlearn --method rgd` and `bench sample`, the two binaries taking turns (which goes first alternates by
# round, so that a load drifting over the run falls on both), with the same settings and `-j 2` threads. Each
# benchmark line's median goes into OUT/runs.tsv; scripts/ab-table.py then prints the median of each variant over
# the rounds and the new/old ratio. Usage: scripts/ab-bench.sh OLD_CLI NEW_CLI [OUT]; ROUNDS, UNLEARN_ARGS and
# SAMPLE_ARGS override the defaults below.
set -euo pipefail
old=${1:?usage: scripts/ab-bench.sh OLD_CLI NEW_CLI [OUT]}
new=${2:?usage: scripts/ab-bench.sh OLD_CLI NEW_CLI [OUT]}
out=${3:-$(mktemp -d /tmp/lethe-ab.XXXXXX)}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rounds=${ROUNDS:-5}
read -r -a unlearn <<< "${UNLEARN_ARGS:---method rgd --runs 3 --warmup 1}"
read -r -a sample <<< "${SAMPLE_ARGS:---runs 1 --warmup 0}"
mkdir -p "$out"
tsv=$out/runs.tsv
printf 'round\tvariant\tbenchmark\tmedian_ms\n' > "$tsv"

# VARIANT CLI ROUND: both benchmarks of one binary; their full output goes to OUT/VARIANT-ROUND-*.log.
measure() {
    local variant=$1 cli=$2 round=$3 log value
    log=$out/$variant-$round-unlearn.log
    "$cli" -j 2 bench unlearn "${unlearn[@]}" > "$log" 2>&1
    value=$(awk '$1 == "rgd" && $2 == "median" { print $3 }' "$log")
    [[ -n $value ]] || { echo "no rgd median in $log" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\n' "$round" "$variant" "unlearn rgd (ms/step)" "$value" >> "$tsv"
    log=$out/$variant-$round-sample.log
    "$cli" -j 2 bench sample "${sample[@]}" > "$log" 2>&1
    value=$(awk '$1 == "sample:" && $2 == "median" { print $3 }' "$log")
    [[ -n $value ]] || { echo "no sample median in $log" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\n' "$round" "$variant" "sample Heun (ms/batch)" "$value" >> "$tsv"
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
echo "bench unlearn ${unlearn[*]}; bench sample ${sample[*]}; -j 2; $rounds rounds; logs in $out"
python3 "$here/ab-table.py" "$tsv"
