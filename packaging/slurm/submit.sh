#!/bin/bash
# Submits a split Lethe sweep to Slurm: a job array whose task I runs task I of N of the grid into
# OUT/task-I-of-N, and a merge job that starts only when every task has succeeded (afterok), and writes OUT/rerun.sh,
# which resubmits tasks with the same resources, program and arguments.
#
#   packaging/slurm/submit.sh [OPTIONS] OUT [lethe-cli sweep arguments...]
#   LETHE_CLI=$HOME/lethe/build/default/app/cli/lethe-cli packaging/slurm/submit.sh --tasks 4 --cpus 2 \
#       sweeps/a --forget-classes 1,7,9 --methods ga,graddiff,rgd --lambdas 1,5
#
# Options (before OUT; what follows OUT goes to `lethe-cli sweep`):
#   --tasks N           tasks of the job array (default: $TASKS, else 4)
#   --cpus N            CPUs per task, also lethe-cli's --threads (default: 4, or fewer when no node has 4)
#   --mem SIZE          memory per task, as sbatch takes it (2G, 1500M; default: the plan's peak + 50 % + 512 MiB)
#   --time T            time limit per task, as sbatch takes it (minutes, H:M:S, D-H; default: twice the plan's
#                       longest task + 5 minutes, at least 10 minutes)
#   --partition P       partition of both jobs (default: the cluster's default partition)
#   --gpus N            GPUs per task (--gres=gpu:N; add --device cuda to the sweep arguments)
#   --sbatch-option OPT one more sbatch option for both jobs (--account=..., --qos=...); repeatable
#   --dry-run           plan and check, then print the sbatch commands instead of submitting them
#
# Before submitting, `lethe-cli sweep ... --plan` prints which runs each task gets and their estimated minutes
# (timed on this machine), and the request is checked against sinfo: the partition exists and is up, its time
# limit allows --time, and one of its nodes has the CPUs, memory and GPUs asked for. A request that Slurm would
# leave pending forever is refused, saying why and what would fit.
#
# Logs: OUT/logs/array-JOBID-task-I.log and OUT/logs/merge-JOBID.log. Submitted job ids: OUT/slurm-jobs.txt.
# State of every task: packaging/slurm/status.sh OUT. Tasks that failed or ran out of time: OUT/rerun.sh I [I...].
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
me=submit.sh

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; }
die() {
    echo "$me: $*" >&2
    exit 2
}

# Slurm's time formats (M, M:S, H:M:S, D-H, D-H:M, D-H:M:S; "infinite", "UNLIMITED") in whole minutes, rounded up.
slurm_minutes() {
    local t=$1 d=0 h=0 m=0 s=0
    case "$t" in
        infinite | UNLIMITED | unlimited) echo 999999999; return 0 ;;
    esac
    if [[ $t =~ ^([0-9]+)-([0-9]+)(:([0-9]+)(:([0-9]+))?)?$ ]]; then
        d=${BASH_REMATCH[1]} h=${BASH_REMATCH[2]} m=${BASH_REMATCH[4]:-0} s=${BASH_REMATCH[6]:-0}
    elif [[ $t =~ ^([0-9]+):([0-9]+):([0-9]+)$ ]]; then
        h=${BASH_REMATCH[1]} m=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
    elif [[ $t =~ ^([0-9]+):([0-9]+)$ ]]; then
        m=${BASH_REMATCH[1]} s=${BASH_REMATCH[2]}
    elif [[ $t =~ ^([0-9]+)$ ]]; then
        m=${BASH_REMATCH[1]}
    else
        return 1
    fi
    echo $(((10#$d * 24 + 10#$h) * 60 + 10#$m + (10#$s + 59) / 60))
}

# sbatch's memory sizes (a number with K, M, G or T; M when none) in MiB, rounded up.
mem_mib() {
    [[ $1 =~ ^([0-9]+)([KkMmGgTt]?)[Bb]?$ ]] || return 1
    local n=${BASH_REMATCH[1]}
    case "${BASH_REMATCH[2]}" in
        K | k) echo $(((10#$n + 1023) / 1024)) ;;
        "" | M | m) echo $((10#$n)) ;;
        G | g) echo $((10#$n * 1024)) ;;
        T | t) echo $((10#$n * 1024 * 1024)) ;;
    esac
}

# The GPUs in sinfo's GRES column ("gpu:2", "gpu:a100:4(S:0-1),shard:8", "(null)").
gres_gpus() {
    local item n total=0
    IFS=, read -ra items <<<"$1"
    for item in "${items[@]}"; do
        item=${item%%(*}
        [[ $item == gpu:* ]] || continue
        n=${item##*:}
        [[ $n =~ ^[0-9]+$ ]] && total=$((total + n))
    done
    echo "$total"
}

# Words as a shell reads them, quoted only where needed (for the commands printed).
shell_words() {
    local word line=""
    for word in "$@"; do
        if [[ $word =~ ^[A-Za-z0-9_/.,:=@%+-]+$ ]]; then line+=" $word"; else line+=" $(printf '%q' "$word")"; fi
    done
    echo "${line# }"
}

tasks=${TASKS:-4}
cpus=""
mem=""
time_limit=""
partition=""
gpus=0
extra=()
dry_run=0
while [ $# -gt 0 ]; do
    opt=$1
    value=""
    case "$opt" in
        --*=*) value=${opt#*=}; opt=${opt%%=*} ;;
    esac
    case "$opt" in
        --tasks | --cpus | --mem | --time | --partition | --gpus | --sbatch-option)
            if [ -z "$value" ]; then
                [ $# -ge 2 ] || die "$opt needs a value"
                value=$2
                shift
            fi
            ;;
    esac
    case "$opt" in
        --tasks) tasks=$value ;;
        --cpus) cpus=$value ;;
        --mem) mem=$value ;;
        --time) time_limit=$value ;;
        --partition) partition=$value ;;
        --gpus) gpus=$value ;;
        --sbatch-option) extra+=("$value") ;;
        --dry-run) dry_run=1 ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        -*) die "unknown option '$1' (submit.sh's options come before OUT, lethe-cli sweep's after it; --help lists them)" ;;
        *) break ;;
    esac
    shift
done
if [ $# -lt 1 ]; then
    echo "usage: $0 [--tasks N] [--cpus N] [--mem SIZE] [--time T] [--partition P] [--gpus N] [--sbatch-option OPT]..." >&2
    echo "       [--dry-run] OUT [lethe-cli sweep arguments...]" >&2
    exit 2
fi
out=$1
shift
sweep_args=("$@")

[[ $tasks =~ ^[1-9][0-9]*$ ]] || die "--tasks (or TASKS) must be a positive whole number, found '$tasks'"
[ -z "$cpus" ] || [[ $cpus =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive whole number, found '$cpus'"
[[ $gpus =~ ^[0-9]+$ ]] || die "--gpus must be a whole number, found '$gpus'"
mem_asked=""
if [ -n "$mem" ]; then
    mem_asked=$(mem_mib "$mem") || die "--mem must be a size such as 2G or 1500M, found '$mem'"
fi
minutes_asked=""
if [ -n "$time_limit" ]; then
    minutes_asked=$(slurm_minutes "$time_limit") \
        || die "--time must be minutes, M:S, H:M:S, D-H, D-H:M or D-H:M:S, found '$time_limit'"
    [ "$minutes_asked" -gt 0 ] || die "--time must be at least one minute, found '$time_limit'"
fi
for arg in "${sweep_args[@]}"; do
    case "$arg" in
        --out | --out=* | --task-index | --task-index=* | --task-count | --task-count=* | --plan | --plan-json | \
            --plan-json=* | --seconds-per-unit | --seconds-per-unit=*)
            die "leave ${arg%%=*} out of the sweep arguments: submit.sh sets it (OUT is its first argument, --tasks the count)" ;;
    esac
done

# The program the jobs run, by absolute path: compute nodes have another PATH, and rerun.sh must run the same one.
lethe_cli=${LETHE_CLI:-lethe-cli}
if [[ $lethe_cli != */* ]]; then
    found=$(command -v "$lethe_cli" || true)
    [ -n "$found" ] || die "no $lethe_cli on PATH: set LETHE_CLI=/path/to/lethe-cli"
    lethe_cli=$found
fi
[ -x "$lethe_cli" ] || die "LETHE_CLI=$lethe_cli is not an executable file"
lethe_cli=$(cd "$(dirname "$lethe_cli")" && pwd)/$(basename "$lethe_cli")
# OUT by absolute path (compute nodes and rerun.sh may start elsewhere); it need not exist yet.
out_abs=$(realpath -m -s -- "$out")

# ---- What the cluster offers (sinfo) -------------------------------------------------------------------------
have_sinfo=0
command -v sinfo >/dev/null && sinfo -h -o %R >/dev/null 2>&1 && have_sinfo=1
if [ $have_sinfo -eq 0 ] && [ $dry_run -eq 0 ]; then
    die "sinfo does not answer (is this a Slurm login node, and SLURM_CONF right?): $(sinfo -h 2>&1 | head -1)"
fi
node_lines=()
if [ $have_sinfo -eq 1 ]; then
    if [ -z "$partition" ]; then
        partition=$(sinfo -h -o %P | sed -n 's/\*$//p' | head -1)
        [ -n "$partition" ] || die "the cluster has no default partition: give --partition (partitions: $(sinfo -h -o %R | sort -u | paste -sd ' '))"
    fi
    sinfo -h -o %R | grep -qxF "$partition" \
        || die "no partition '$partition' (partitions: $(sinfo -h -o %R | sort -u | paste -sd ' '))"
    # One line per node of the partition: name|partition avail|partition time limit|CPUs|memory MB|GRES|state.
    mapfile -t node_lines < <(sinfo -h -N -p "$partition" -o '%N|%a|%l|%c|%m|%G|%T' | sort -u)
    [ ${#node_lines[@]} -gt 0 ] || die "partition '$partition' has no nodes"
    IFS='|' read -r _ part_avail part_limit _ <<<"${node_lines[0]}"
    [ "$part_avail" = up ] \
        || die "partition '$partition' is $part_avail, not up: jobs would stay pending until an administrator brings it up"
    part_minutes=$(slurm_minutes "$part_limit") || part_minutes=999999999
    max_cpus=0
    for line in "${node_lines[@]}"; do
        IFS='|' read -r _ _ _ c _ <<<"$line"
        [ "$c" -gt "$max_cpus" ] && max_cpus=$c
    done
    if [ -z "$cpus" ]; then
        cpus=4
        [ "$max_cpus" -lt "$cpus" ] && cpus=$max_cpus
    fi
fi
[ -n "$cpus" ] || cpus=4

# ---- Will a node ever run it? (before the plan for what is given, again after it for the sizes it gave) --------
check_request() {
    [ $have_sinfo -eq 1 ] || return 0
    if [ -n "$minutes_asked" ] && [ "$minutes_asked" -gt "$part_minutes" ]; then
        die "--time $time_limit ($minutes_asked min) is over partition '$partition''s limit of $part_limit: Slurm would leave the tasks pending (PartitionTimeLimit) forever; ask for $part_limit or less (if the tasks need longer, use more tasks) or another partition"
    fi
    [ 10 -le "$part_minutes" ] \
        || die "partition '$partition''s limit of $part_limit is under the 10 minutes lethe-sweep-merge.sbatch asks for: the merge would never start; use another --partition"
    local line node c m g state n_gpus fits=0 fits_up=0 nodes="" max_c=0 max_m=0 max_g=0 asked
    for line in "${node_lines[@]}"; do
        IFS='|' read -r node _ _ c m g state <<<"$line"
        n_gpus=$(gres_gpus "$g")
        nodes+="${nodes:+; }$node: $c CPUs, $m MB, $n_gpus GPUs ($state)"
        [ "$c" -gt $max_c ] && max_c=$c
        [ "$m" -gt $max_m ] && max_m=$m
        [ "$n_gpus" -gt $max_g ] && max_g=$n_gpus
        if [ "$c" -ge "$cpus" ] && [ "$m" -ge "${mem_asked:-0}" ] && [ "$n_gpus" -ge "$gpus" ]; then
            fits=1
            case "$state" in
                down* | drain* | fail* | future* | unknown*) ;;
                *) fits_up=1 ;;
            esac
        fi
    done
    if [ $fits -eq 0 ]; then
        asked="--cpus $cpus${mem_asked:+, --mem ${mem_asked}M}"
        [ "$gpus" -gt 0 ] && asked+=", --gpus $gpus"
        die "no node of partition '$partition' has what a task asks for ($asked), so the tasks would stay pending forever (Reason=Resources); the most one node has is $max_c CPUs, ${max_m}M and $max_g GPUs ($nodes): ask for no more than one of them has, or another --partition"
    fi
    [ $fits_up -eq 1 ] \
        || echo "$me: warning: every node of '$partition' that fits is down, drained or failing now; the tasks wait until one returns ($nodes)" >&2
}
check_request

# ---- The plan: runs per task, estimated minutes and memory ---------------------------------------------------
plan_json=$(mktemp)
trap 'rm -f "$plan_json"' EXIT
echo "the plan of $tasks task$([ "$tasks" -eq 1 ] || echo s) (sweep --plan-json, timed on this machine with --threads $cpus):"
plan_ok=1
"$lethe_cli" --threads "$cpus" sweep "${sweep_args[@]}" --out "$out_abs" --task-count "$tasks" \
    --plan-json "$plan_json" || plan_ok=0
seconds_per_unit=""
if [ $plan_ok -eq 1 ]; then
    read -r plan_minutes plan_mib seconds_per_unit < <(python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
print(p["estimated_minutes_max"], p["estimated_peak_memory_mib"], repr(float(p["seconds_per_unit"])))
' "$plan_json") || die "cannot read the plan lethe-cli wrote ($plan_json)"
elif [ -n "$time_limit" ] && [ -n "$mem" ]; then
    echo "$me: the plan failed (above); submitting with the --time and --mem given" >&2
else
    die "the plan failed (above), so there is nothing to size --time and --mem by: fix the sweep arguments, or give both"
fi
notes=()
if [ -z "$time_limit" ]; then
    # Twice the estimate: it was timed here, and a compute node may be slower or busier. Plus loading and measuring.
    minutes_asked=$(python3 -c 'import math, sys; print(max(10, math.ceil(2 * float(sys.argv[1])) + 5))' "$plan_minutes")
    time_limit=$minutes_asked
    notes+=("--time $minutes_asked: twice the longest task's estimate ($(printf '%.1f' "$plan_minutes") min) + 5 min, at least 10")
fi
if [ -z "$mem" ]; then
    mem_asked=$(((plan_mib * 3 / 2 + 512 + 255) / 256 * 256))
    mem="${mem_asked}M"
    notes+=("--mem $mem: the estimated peak ($plan_mib MiB) + 50 % + 512 MiB")
fi
for note in "${notes[@]}"; do echo "$note"; done
check_request

# ---- The two jobs ---------------------------------------------------------------------------------------------
logs=$out_abs/logs
# Slurm signals lethe-cli (the batch shell, by exec) this long before the limit, and it checkpoints the run in
# progress: 120 s, a quarter of a limit under 10 minutes (at least 15 s). slurmctld looks about every 30 s, so the
# signal can come up to that much earlier.
limit_seconds=$((minutes_asked * 60))
lead=120
[ $limit_seconds -lt 600 ] && lead=$((limit_seconds / 4 > 15 ? limit_seconds / 4 : 15))
common=(--export="ALL,LETHE_CLI=$lethe_cli")
[ -n "$partition" ] && common+=(--partition="$partition")
common+=("${extra[@]}")
resources=(--cpus-per-task="$cpus" --mem="$mem" --time="$time_limit" --signal="B:USR1@$lead")
[ "$gpus" -gt 0 ] && resources+=(--gres="gpu:$gpus")
task_args=(--task-count "$tasks" --out "$out_abs" "${sweep_args[@]}")
[ -n "$seconds_per_unit" ] && task_args+=(--seconds-per-unit "$seconds_per_unit")
array_cmd=(sbatch --parsable --array="0-$((tasks - 1))" "${resources[@]}" "${common[@]}"
    --output="$logs/array-%A-task-%a.log" "$here/lethe-sweep.sbatch" "${task_args[@]}")
merge_cmd=(sbatch --parsable --kill-on-invalid-dep=yes "${common[@]}" --output="$logs/merge-%j.log"
    "$here/lethe-sweep-merge.sbatch" "$out_abs" "$tasks")

if [ $dry_run -eq 1 ]; then
    echo "dry run: would create $logs and submit"
    shell_words "${array_cmd[@]}"
    shell_words "${merge_cmd[@]:0:2}" "--dependency=afterok:ARRAY_JOB_ID" "${merge_cmd[@]:2}"
    echo "and write $out_abs/rerun.sh and $out_abs/slurm-jobs.txt"
    exit 0
fi

mkdir -p "$logs"
array_job=$("${array_cmd[@]}") || die "sbatch refused the array job (above)"
array_job=${array_job%%;*} # --parsable prints JOBID or JOBID;CLUSTER
merge_job=$("${merge_cmd[@]:0:2}" --dependency="afterok:$array_job" "${merge_cmd[@]:2}") \
    || die "sbatch refused the merge job (above); the array job $array_job runs: merge later with OUT/rerun.sh --merge-only"
merge_job=${merge_job%%;*}
jobs_file=$out_abs/slurm-jobs.txt
[ -f "$jobs_file" ] || echo "# KIND JOBID TASKS-OR-DEPENDENCY SUBMITTED (written by submit.sh and rerun.sh)" >"$jobs_file"
now=$(date -u +%FT%TZ)
echo "array $array_job 0-$((tasks - 1)) $now" >>"$jobs_file"
echo "merge $merge_job afterok:$array_job $now" >>"$jobs_file"

# ---- rerun.sh: the same jobs again, for some tasks -------------------------------------------------------------
rerun=$out_abs/rerun.sh
{
    echo '#!/bin/bash'
    echo "# Written by packaging/slurm/submit.sh on $now for the sweep in $out_abs."
    echo "# Resubmits tasks of the array (each resumes where it stopped) with the resources, program and sweep arguments"
    echo "# of the first submission, then the merge with afterok on them (and on the first array's tasks still running)."
    echo "#   $rerun I [I...]      e.g. $rerun 2 3"
    echo "#   $rerun --merge-only  the merge alone (after every task is done)"
    printf 'tasks=%q\n' "$tasks"
    printf 'lethe_cli=%q\n' "$lethe_cli"
    printf 'out=%q\n' "$out_abs"
    printf 'here=%q\n' "$here"
    printf 'resources=(' && printf ' %q' "${resources[@]}" && echo ' )'
    printf 'common=(' && printf ' %q' "${common[@]}" && echo ' )'
    printf 'task_args=(' && printf ' %q' "${task_args[@]}" && echo ' )'
    cat <<'EOF'
set -euo pipefail
jobs_file=$out/slurm-jobs.txt
usage() { echo "usage: $0 I [I...]   (task indices 0..$((tasks - 1)))  |  $0 --merge-only" >&2; exit 2; }
[ $# -ge 1 ] || usage
merge_only=0
indices=()
if [ "$1" = --merge-only ]; then
    [ $# -eq 1 ] || usage
    merge_only=1
else
    for i in "$@"; do
        [[ $i =~ ^[0-9]+$ ]] && [ "$i" -lt "$tasks" ] || { echo "$0: '$i' is not a task index (0..$((tasks - 1)))" >&2; exit 2; }
        indices+=("$((10#$i))")
    done
fi
# Tasks of earlier arrays still pending or running: one of those resubmitted would run twice at once; the others
# the new merge waits for.
arrays=$(awk '$1 == "array" {print $2}' "$jobs_file" | paste -sd,)
waits=()
while read -r id state; do
    [ -n "$id" ] || continue
    index=${id##*_}
    for i in "${indices[@]}"; do
        if [ "$index" = "$i" ]; then
            echo "$0: task $i is still $state as job $id: wait for it to end, or scancel $id first" >&2
            exit 1
        fi
    done
    waits+=("afterok:$id")
done < <(squeue -h -r -j "$arrays" -o '%i %T' 2>/dev/null | grep -E '^[0-9]+_[0-9]+ ' || true)
# An earlier merge still waiting is replaced by the new one.
for merge in $(awk '$1 == "merge" {print $2}' "$jobs_file"); do
    if squeue -h -j "$merge" -o %T 2>/dev/null | grep -qx PENDING; then
        scancel "$merge"
        echo "cancelled the earlier merge job $merge (the new one replaces it)"
    fi
done
now=$(date -u +%FT%TZ)
dependency=""
if [ $merge_only -eq 0 ]; then
    list=$(IFS=,; echo "${indices[*]}")
    job=$(sbatch --parsable --array="$list" "${resources[@]}" "${common[@]}" --output="$out/logs/array-%A-task-%a.log" \
        "$here/lethe-sweep.sbatch" "${task_args[@]}")
    job=${job%%;*}
    echo "array $job $list $now" >>"$jobs_file"
    echo "resubmitted task(s) $list as array job $job (logs: $out/logs/array-$job-task-I.log)"
    waits=("afterok:$job" "${waits[@]}")
fi
if [ ${#waits[@]} -gt 0 ]; then dependency=$(IFS=,; echo "${waits[*]}"); fi
merge=$(sbatch --parsable ${dependency:+--dependency=$dependency} --kill-on-invalid-dep=yes "${common[@]}" \
    --output="$out/logs/merge-%j.log" "$here/lethe-sweep-merge.sbatch" "$out" "$tasks")
merge=${merge%%;*}
echo "merge $merge ${dependency:-none} $now" >>"$jobs_file"
echo "submitted the merge as job $merge${dependency:+ (--dependency=$dependency)}; log $out/logs/merge-$merge.log"
echo "state of every task: $here/status.sh $out"
EOF
} >"$rerun"
chmod +x "$rerun"

echo "submitted the sweep as array job $array_job ($tasks task$([ "$tasks" -eq 1 ] || echo s) into $out_abs/task-I-of-$tasks) and the merge as job $merge_job (afterok:$array_job)"
echo "logs: $logs/array-$array_job-task-I.log, $logs/merge-$merge_job.log"
echo "state of every task: $here/status.sh $out_abs"
echo "tasks that failed or ran out of time (they resume): $rerun I [I...]"
