#!/bin/bash
# Submits a split Lethe sweep to Slurm: a job array of TASKS tasks (default 4), each running its share of
# the grid, and a merge job that starts only when every task has succeeded.
#
#   packaging/slurm/submit.sh OUT [lethe-cli sweep arguments...]
#   TASKS=8 LETHE_CLI=$HOME/lethe/build/cuda/app/cli/lethe-cli packaging/slurm/submit.sh sweeps/a \
#       --forget-classes 1,7,9 --methods ga,graddiff,rgd --lambdas 1,5 --device cuda
#
# Extra sbatch options for the array (partition, account, GPUs) go in SBATCH_ARRAY_OPTIONS, e.g.
# SBATCH_ARRAY_OPTIONS="--partition=gpu --gres=gpu:1".
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 OUT [lethe-cli sweep arguments...]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
out=$1
shift
tasks=${TASKS:-4}
if ! [[ $tasks =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: TASKS must be a positive whole number, found '$tasks'" >&2
    exit 2
fi

# --parsable prints "JOBID" or "JOBID;CLUSTER".
# shellcheck disable=SC2086 # SBATCH_ARRAY_OPTIONS holds several options on purpose.
array_job=$(sbatch --parsable --array="0-$((tasks - 1))" ${SBATCH_ARRAY_OPTIONS:-} \
    "$here/lethe-sweep.sbatch" --task-count "$tasks" --out "$out" "$@")
array_job=${array_job%%;*}
# If a task fails the merge can never start; Slurm then cancels it instead of leaving it pending.
merge_job=$(sbatch --parsable --dependency="afterok:$array_job" --kill-on-invalid-dep=yes \
    "$here/lethe-sweep-merge.sbatch" "$out" "$tasks")
merge_job=${merge_job%%;*}
echo "submitted the sweep as array job $array_job ($tasks tasks into $out/task-I-of-$tasks) and the merge as job $merge_job"
echo "after the merge: $out/results.csv and $out/summary.txt; squeue -j $array_job,$merge_job shows their state"
printf -v again ' %q' "$here/lethe-sweep.sbatch" --task-count "$tasks" --out "$out" "$@"
printf -v merge_again ' %q' "$here/lethe-sweep-merge.sbatch" "$out" "$tasks"
echo "if a task I fails, the merge is cancelled; rerun that task alone (it resumes), then the merge:"
echo "  sbatch --array=I$again"
echo "  sbatch$merge_again"
