#!/usr/bin/env bash
# A split sweep on a real (one-node) Slurm: munged, slurmctld and slurmd started in a temporary folder
# (tests/packaging/slurm_cluster.sh), the sweep submitted through packaging/slurm/submit.sh as a job array of two
# tasks, one task stopped by scancel in the middle of its run, resubmitted with OUT/rerun.sh, merged; the merged
# results.csv (every column but the seconds) and the kept models (every tensor) equal a direct `lethe-cli sweep` of
# the same grid, and the resubmitted task resumed the cancelled run at the step its checkpoint holds. Then a time
# limit: a one-task sweep whose run outlasts --time 1 gets SIGUSR1 before the limit, checkpoints, and goes on from
# that step when rerun.sh resubmits it (LETHE_SLURM_TEST_TIME_LIMIT=0 leaves this part out).
#
#   tests/packaging/slurm_test.sh --cli build/default/app/cli/lethe-cli --root . --work /tmp/lethe-slurm-test
#
# Exit 77 (ctest's SKIP_RETURN_CODE) when the Slurm or munge programs are missing; every daemon it started is
# stopped by its PID at the end, also when a check fails.
set -uo pipefail

cli=""
root=""
work=""
while [ $# -gt 0 ]; do
    case "$1" in
        --cli) cli=$2; shift 2 ;;
        --root) root=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        *) echo "usage: $0 --cli LETHE_CLI --root SOURCE_DIR --work SCRATCH_DIR" >&2; exit 2 ;;
    esac
done
[ -n "$cli" ] && [ -n "$root" ] && [ -n "$work" ] || { echo "usage: $0 --cli LETHE_CLI --root SOURCE_DIR --work SCRATCH_DIR" >&2; exit 2; }

export PATH="$PATH:/usr/sbin:/sbin"
missing=()
for prog in munged mungekey slurmctld slurmd sbatch squeue scancel sinfo scontrol; do
    command -v "$prog" >/dev/null || missing+=("$prog")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "SKIP: no ${missing[*]}: install Debian's slurm-wlm and munge (packaging/debian-packages.txt; scripts/lethe setup does)"
    exit 77
fi

# shellcheck source=slurm_cluster.sh
source "$root/tests/packaging/slurm_cluster.sh"
start=$(date +%s)
say() { echo "[$(($(date +%s) - start))s] $*"; }
fail() {
    say "FAIL: $*"
    exit 1
}

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
cluster=$work/cluster
direct_pid=""
cleanup() {
    local rc=$?
    [ -n "$direct_pid" ] && kill "$direct_pid" 2>/dev/null
    if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
        # Jobs first (their processes are slurmstepd's, not slurmd's children), then the daemons.
        scancel --full --signal=KILL -u "$(id -un)" 2>/dev/null
        local waited=0
        while [ -n "$(squeue -h -t R,CG -o %i 2>/dev/null)" ] && [ $waited -lt 30 ]; do sleep 1; waited=$((waited + 1)); done
    fi
    slurm_cluster_stop "$cluster"
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        say "the daemons' logs and the jobs' logs are in $work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

slurm_cluster_start "$cluster" || fail "the one-node cluster did not start"
export SLURM_CONF=$cluster/slurm.conf
export LETHE_CLI=$cli
submit=$root/packaging/slurm/submit.sh
status=$root/packaging/slurm/status.sh

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every half second.
wait_until() {
    local limit=$1 what=$2 t0
    shift 2
    t0=$(date +%s)
    until "$@"; do
        [ $(($(date +%s) - t0)) -lt "$limit" ] || fail "waited ${limit}s for $what"
        sleep 0.5
    done
}
no_jobs() { [ -z "$(squeue -h -o %i)" ]; }
job_gone() { [ -z "$(squeue -h -r -j "$1" -o %i 2>/dev/null)" ]; }
log_has() { [ -f "$1" ] && grep -q -- "$2" "$1"; }

# The results' rows without the seconds columns, and every tensor of two folders' models, compared.
compare() {
    python3 - "$@" <<'PY'
import csv, json, os, struct, sys

def rows(path):
    with open(path, newline="") as f:
        table = list(csv.reader(f))
    keep = [i for i, name in enumerate(table[0]) if not name.endswith("_seconds")]
    return [[r[i] for i in keep] for r in table]

def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}

figures_needed = sys.argv[1] == "--figures"
direct, merged, *model_dirs = sys.argv[2:] if figures_needed else sys.argv[1:]
a, b = rows(direct), rows(merged)
if a != b:
    sys.exit("results differ:\n direct: %s\n merged: %s" % (a, b))
print("results.csv: %d rows equal in every column but the seconds (%s)" % (len(a) - 1, ", ".join(a[0])))
for r in a[1:]:
    print("  " + ",".join(r))
if figures_needed and not all(r[a[0].index("ua")] for r in a[1:]):
    sys.exit("results.csv has runs without figures: %s" % a)
direct_models = model_dirs[0]
names = sorted(os.listdir(direct_models))
for name in names:
    found = [os.path.join(d, name) for d in model_dirs[1:] if os.path.exists(os.path.join(d, name))]
    if len(found) != 1:
        sys.exit("%s: in %d of the task folders' models/, not 1" % (name, len(found)))
    x, y = tensors(os.path.join(direct_models, name)), tensors(found[0])
    if x.keys() != y.keys():
        sys.exit("%s: other tensor names" % name)
    for k in x:
        if x[k] != y[k]:
            sys.exit("%s: tensor %s differs" % (name, k))
    print("%s: %d tensors equal to the direct sweep's" % (name, len(x)))
if not names:
    sys.exit("the direct sweep kept no models")
PY
}

# Small runs of the built-in model, measured on 2 images per class so that results.csv has figures to compare.
grid=(--methods ga,rgd --forget-classes 1 --steps "${LETHE_SLURM_TEST_STEPS:-60}" --forget-batch 2 --remain-per-class 2
    --remain-batch 4 --eval-per-class 2 --preview-seeds 0,1 --keep-models)

# The direct sweep runs beside the Slurm jobs (it is compared with their merge at the end).
say "direct sweep, in the background: lethe-cli --threads 1 sweep ${grid[*]}"
"$cli" --threads 1 sweep "${grid[@]}" --out "$work/direct" >"$work/direct.log" 2>&1 &
direct_pid=$!

out=$work/out
say "submit: TASKS=2 submit.sh --cpus 1 $out ${grid[*]}"
TASKS=2 "$submit" --cpus 1 "$out" "${grid[@]}" >"$work/submit.log" 2>&1 || { cat "$work/submit.log"; fail "submit.sh failed"; }
cat "$work/submit.log"
array=$(awk '$1 == "array" {print $2; exit}' "$out/slurm-jobs.txt")
merge=$(awk '$1 == "merge" {print $2; exit}' "$out/slurm-jobs.txt")
[ -n "$array" ] && [ -n "$merge" ] || fail "no job ids in $out/slurm-jobs.txt"
[ -x "$out/rerun.sh" ] || fail "no executable $out/rerun.sh"
grep -q "^submitted the sweep as array job $array (2 tasks" "$work/submit.log" || fail "submit.sh did not say the array job"

# Task 1 is stopped in its run: after its first step is logged (the log shows progress every 30 s and the first step).
log1=$out/logs/array-$array-task-1.log
wait_until 420 "task 1's first step in $log1" log_has "$log1" "step 1/"
sleep 2
say "scancel ${array}_1 while its run is in progress"
scancel "${array}_1"
wait_until 60 "task 1 to end" job_gone "${array}_1"
cat "$log1"
stopped=$(sed -n 's/.*: this run stopped after step \([0-9]*\) of .*/\1/p' "$log1" | tail -1)
[ -n "$stopped" ] || fail "task 1's log does not say at which step its run stopped"
steps=${LETHE_SLURM_TEST_STEPS:-60}
{ [ "$stopped" -gt 0 ] && [ "$stopped" -lt "$steps" ]; } || fail "the run stopped after step $stopped, not inside it (1..$((steps - 1)))"
log_has "$log1" "(exit code 75)" || fail "task 1 did not exit with 75 after its checkpoint"
ls "$out/task-1-of-2/checkpoints/"*.safetensors >/dev/null 2>&1 || fail "no checkpoint in $out/task-1-of-2/checkpoints"

# The merge can never start now: Slurm cancels it (afterok, --kill-on-invalid-dep) once task 0 has ended.
wait_until 420 "task 0 and the merge to end" no_jobs
"$status" "$out" >"$work/status-1.txt" 2>&1
code=$?
cat "$work/status-1.txt"
[ $code -eq 3 ] || fail "status.sh exited with $code, not 3, with task 1 unfinished"
grep -qE '^0 +done ' "$work/status-1.txt" || fail "status.sh does not show task 0 done"
grep -qE "^1 +failed +${array}_1 +CANCELLED" "$work/status-1.txt" || fail "status.sh does not show task 1 failed, CANCELLED"
grep -q "^resubmit (they resume): $out/rerun.sh 1$" "$work/status-1.txt" || fail "status.sh does not say to rerun task 1"
[ ! -e "$out/results.csv" ] || fail "a merge ran although task 1 had not finished"

say "resubmit: $out/rerun.sh 1"
"$out/rerun.sh" 1 >"$work/rerun.log" 2>&1 || { cat "$work/rerun.log"; fail "rerun.sh failed"; }
cat "$work/rerun.log"
rerun_array=$(awk '$1 == "array" {id = $2} END {print id}' "$out/slurm-jobs.txt")
[ "$rerun_array" != "$array" ] || fail "rerun.sh recorded no new array job"
wait_until 420 "the resubmitted task and the merge to end" no_jobs
log2=$out/logs/array-$rerun_array-task-1.log
cat "$log2"
grep -q "task 1 of 2 (--task-index 1 --task-count 2)" "$log2" || fail "the resubmitted task's header does not say task 1 of 2"
grep -q "    resuming from .*checkpoints/.* at step $stopped\$" "$log2" || fail "the resubmitted task did not resume at step $stopped"
new_merge=$(awk '$1 == "merge" {id = $2} END {print id}' "$out/slurm-jobs.txt")
cat "$out/logs/merge-$new_merge.log"
[ -f "$out/results.csv" ] || fail "the merge (job $new_merge) wrote no results.csv"
"$status" "$out" >"$work/status-2.txt" 2>&1
code=$?
cat "$work/status-2.txt"
[ $code -eq 0 ] || fail "status.sh exited with $code after the merge, not 0"
wait "$direct_pid" || { cat "$work/direct.log"; fail "the direct sweep failed"; }
say "the direct sweep has finished"
compare --figures "$work/direct/results.csv" "$out/results.csv" "$work/direct/models" "$out"/task-*-of-2/models \
    || fail "the merged sweep differs from the direct one"

if [ "${LETHE_SLURM_TEST_TIME_LIMIT:-1}" != 0 ]; then
    # One GA run long enough to outlast a one-minute limit: Slurm sends SIGUSR1 15 to 45 s after the start
    # (submit.sh: --signal=B:USR1@15 for a one-minute limit; slurmctld looks every 30 s) and lethe-cli checkpoints;
    # the resubmitted task resumes inside the run. The steps are sized by the plan's timing on this machine, so that
    # the run takes about 80 s here, fast or loaded.
    probe=(--methods ga --forget-classes 2 --steps 100 --forget-batch 2 --remain-per-class 2 --remain-batch 4 --no-eval)
    tl_steps=$("$cli" --threads 1 sweep "${probe[@]}" --out "$work/probe" --plan-json - 2>"$work/probe.log" | python3 -c '
import json, math, sys
plan = json.load(sys.stdin)
per_step = plan["tasks"][0]["cost"] * plan["seconds_per_unit"] / 100
print(max(300, min(20000, math.ceil(80 / per_step))))') || { cat "$work/probe.log"; fail "the plan of the probe failed"; }
    long=(--methods ga --forget-classes 2 --steps "${LETHE_SLURM_TEST_LONG_STEPS:-$tl_steps}" --forget-batch 2
        --remain-per-class 2 --remain-batch 4 --no-eval --preview-seeds 0,1 --keep-models)
    tl=$work/time-limit
    say "time limit: submit.sh --tasks 1 --cpus 1 --time 1 $tl ${long[*]}"
    "$submit" --tasks 1 --cpus 1 --time 1 "$tl" "${long[@]}" >"$work/submit-tl.log" 2>&1 \
        || { cat "$work/submit-tl.log"; fail "submit.sh failed"; }
    cat "$work/submit-tl.log"
    say "meanwhile, the direct sweep: lethe-cli --threads 1 sweep ${long[*]}"
    "$cli" --threads 1 sweep "${long[@]}" --out "$work/direct-tl" >"$work/direct-tl.log" 2>&1 \
        || { cat "$work/direct-tl.log"; fail "the direct sweep failed"; }
    wait_until 240 "the time-limited task to end" no_jobs
    tl_array=$(awk '$1 == "array" {print $2; exit}' "$tl/slurm-jobs.txt")
    cat "$tl/logs/array-$tl_array-task-0.log"
    tl_log=$tl/logs/array-$tl_array-task-0.log
    tl_step=$(sed -n 's/^SIGUSR1: this run stopped after step \([0-9]*\) of .*/\1/p' "$tl_log")
    { [ -n "$tl_step" ] && [ "$tl_step" -gt 0 ] && [ "$tl_step" -lt "${long[5]}" ]; } \
        || fail "the time-limited task was not stopped by SIGUSR1 inside its run (step ${tl_step:-none} of ${long[5]})"
    # Each resubmission has the same one-minute limit: it resumes at the step the last one stopped at, and may
    # stop again further on, until the run is finished and the merge has run.
    round=1
    while [ ! -f "$tl/results.csv" ]; do
        [ $round -le 8 ] || fail "the time-limited run did not finish in 8 resubmissions"
        say "time limit: resubmission $round: $tl/rerun.sh 0"
        "$tl/rerun.sh" 0 >"$work/rerun-tl.log" 2>&1 || { cat "$work/rerun-tl.log"; fail "rerun.sh failed"; }
        cat "$work/rerun-tl.log"
        wait_until 420 "the resubmitted task and the merge to end" no_jobs
        tl_rerun=$(awk '$1 == "array" {id = $2} END {print id}' "$tl/slurm-jobs.txt")
        tl_log=$tl/logs/array-$tl_rerun-task-0.log
        cat "$tl_log"
        grep -q "    resuming from .*checkpoints/.* at step $tl_step\$" "$tl_log" \
            || fail "resubmission $round did not resume at step $tl_step"
        next=$(sed -n 's/^SIGUSR1: this run stopped after step \([0-9]*\) of .*/\1/p' "$tl_log")
        if [ -n "$next" ]; then
            [ "$next" -gt "$tl_step" ] || fail "resubmission $round stopped at step $next, not after step $tl_step"
            tl_step=$next
        fi
        round=$((round + 1))
    done
    [ -f "$tl/results.csv" ] || fail "no merged results.csv in $tl"
    compare "$work/direct-tl/results.csv" "$tl/results.csv" "$work/direct-tl/models" "$tl/task-0-of-1/models" \
        || fail "the time-limited sweep differs from the direct one"
fi

say "PASS"
exit 0
