#!/bin/bash
# Where each task of a sweep that packaging/slurm/submit.sh submitted stands: done, running, pending, failed (with
# Slurm's state: FAILED, TIMEOUT, CANCELLED, OUT_OF_MEMORY, ...) or missing, and the merge's state.
#
#   packaging/slurm/status.sh OUT
#
# It joins two views. Lethe's: `lethe-cli sweep-status OUT --json` (runs done per task, the run in progress and
# its checkpoint step, estimated and measured minutes). Slurm's, for the job ids submit.sh and rerun.sh recorded
# in OUT/slurm-jobs.txt (a task's latest submission counts): squeue for jobs still pending or running; for ended
# ones sacct where the cluster keeps accounting, otherwise `scontrol show job` (Slurm keeps an ended job for
# MinJobAge, 300 s by default), otherwise the task's log OUT/logs/array-JOB-task-I.log (Slurm writes "CANCELLED
# ... DUE TO TIME LIMIT" or "CANCELLED" there, lethe-cli "exit code 75" after a checkpoint). The column 'from'
# says which one answered.
#
# Exit code: 0 when every task is done, 3 when some task is not, 2 on bad input. lethe-cli is the one rerun.sh
# names (the one the jobs run), else $LETHE_CLI, else lethe-cli on PATH.
set -euo pipefail

if [ $# -ne 1 ] || [ "${1:0:1}" = - ]; then
    echo "usage: $0 OUT   (the OUT given to submit.sh)" >&2
    exit 2
fi
out=$1
[ -d "$out" ] || { echo "status.sh: no sweep folder $out" >&2; exit 2; }
lethe_cli=${LETHE_CLI:-lethe-cli}
tasks=""
if [ -f "$out/rerun.sh" ]; then
    # The task count and the program of the submission (before any task folder exists, sweep-status needs the count).
    line=$(grep -m1 '^tasks=' "$out/rerun.sh" || true)
    [[ $line =~ ^tasks=([0-9]+)$ ]] && tasks=${BASH_REMATCH[1]}
    line=$(grep -m1 '^lethe_cli=' "$out/rerun.sh" || true)
    [ -z "${LETHE_CLI:-}" ] && [ -n "$line" ] && eval "$line"
fi
exec python3 - "$out" "$lethe_cli" "$tasks" <<'PY'
import json, os, re, subprocess, sys

out, lethe_cli, tasks = sys.argv[1], sys.argv[2], sys.argv[3]


def run(*cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr
    except (OSError, subprocess.TimeoutExpired) as e:
        return 127, "", str(e)


code, text, err = run(lethe_cli, "sweep-status", out, "--json", *(["--task-count", tasks] if tasks else []))
if code not in (0, 3):
    sys.stderr.write(err or text)
    sys.stderr.write("status.sh: %s sweep-status %s failed (exit %d)\n" % (lethe_cli, out, code))
    sys.exit(2)
lethe = json.loads(text)
count = lethe["task_count"]

# The latest submission of every task, and the latest merge, from slurm-jobs.txt.
def indices(spec):
    result = []
    for part in spec.split(","):
        m = re.fullmatch(r"(\d+)-(\d+)", part)
        result += range(int(m.group(1)), int(m.group(2)) + 1) if m else [int(part)]
    return result

task_job, merge_job, arrays = {}, None, []
jobs_file = os.path.join(out, "slurm-jobs.txt")
if os.path.exists(jobs_file):
    for line in open(jobs_file):
        f = line.split()
        if len(f) < 3 or f[0].startswith("#"):
            continue
        if f[0] == "array":
            arrays.append(f[1])
            for i in indices(f[2]):
                task_job[i] = (f[1], "%s_%d" % (f[1], i))
        elif f[0] == "merge":
            merge_job = f[1]

# Slurm's view. squeue: what is still pending or running.
active = {}
wanted = arrays + ([merge_job] if merge_job else [])
if wanted:
    code, text, _ = run("squeue", "-h", "-r", "-j", ",".join(wanted), "-o", "%i|%T|%r")
    for line in text.splitlines():
        job, state, reason = (line.split("|") + ["", ""])[:3]
        active[job] = (state, reason)

# sacct, where accounting is kept: the final state of ended jobs.
ended = {}
ended_from = ""
if wanted:
    code, text, err = run("sacct", "-n", "-P", "-X", "-j", ",".join(wanted), "-o", "JobID,State,ExitCode")
    if code == 0 and "disabled" not in err:
        ended_from = "sacct"
        for line in text.splitlines():
            job, state, exit_code = (line.split("|") + ["", ""])[:3]
            ended[job] = (state.split()[0] if state else "", exit_code)


def with_exit(state, exit_code):
    code = exit_code.split(":")[0]
    if code == "75":
        return state + " (exit 75: checkpointed)"
    return state + (" (exit %s)" % code if code not in ("", "0") else "")


def final_state(job, log):
    """Slurm's state of an ended job, and where it came from."""
    if job in ended:
        return with_exit(*ended[job]), ended_from
    code, text, _ = run("scontrol", "-o", "show", "job", job)
    m = re.search(r"\bJobState=(\S+)", text) if code == 0 else None
    if m:
        e = re.search(r"\bExitCode=(\S+)", text)
        return with_exit(m.group(1), e.group(1) if e else ""), "scontrol"
    if log and os.path.exists(log):
        body = open(log, errors="replace").read()
        if "DUE TO TIME LIMIT" in body:
            return "TIMEOUT", "log"
        if "oom_kill" in body or "Out Of Memory" in body or "OUT_OF_MEMORY" in body:
            return "OUT_OF_MEMORY", "log"
        if re.search(r"CANCELLED AT", body):
            return "CANCELLED", "log"
        if "(exit code 75)" in body:
            return "STOPPED (exit 75, checkpointed)", "log"
        if "error:" in body:
            return "FAILED", "log"
        return "ENDED", "log"
    return "", ""


def shown(path):
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


rows, rerun, all_done = [], [], True
for t in lethe["tasks"]:
    i = t["index"]
    job, job_id = task_job.get(i, ("", ""))
    log = os.path.join(out, "logs", "array-%s-task-%d.log" % (job, i)) if job else ""
    slurm, source = "", ""
    if job_id in active:
        slurm, source = active[job_id][0], "squeue"
        if active[job_id][0] == "PENDING":
            slurm += " (%s)" % active[job_id][1]
    elif job_id:
        slurm, source = final_state(job_id, log)
    lethe_state = t["state"]
    detail = "%d/%d runs" % (t["runs_done"], t["runs"])
    if t.get("in_progress"):
        detail += "; %s at step %s" % (t["in_progress"]["run"], t["in_progress"]["checkpoint_step"])
    if t.get("base") == "missing":
        detail += "; base not measured"
    minutes = "%.1f" % t["measured_minutes"] if t.get("measured_minutes") is not None else "-"
    if t.get("estimated_minutes") is not None:
        minutes += " of %.1f est." % t["estimated_minutes"]
    if lethe_state == "done":
        state = "done"
    elif job_id in active:
        state = "running" if active[job_id][0] in ("RUNNING", "COMPLETING") else active[job_id][0].lower()
    elif slurm and not slurm.startswith("COMPLETED"):
        state = "failed"
    elif job_id:
        state = "failed" if slurm else "missing"
    else:
        state = "missing"
    if state != "done":
        all_done = False
    if state in ("failed", "missing"):
        rerun.append(str(i))
    rows.append((str(i), state, job_id or "-", slurm or "-", source or "-", "%s: %s" % (lethe_state, detail),
                 minutes, shown(log) if log and os.path.exists(log) else "-"))

head = ("task", "state", "job", "slurm state", "from", "runs (sweep-status)", "minutes", "log")
widths = [max(len(r[k]) for r in rows + [head]) for k in range(len(head))]
for r in [head] + rows:
    print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())

if merge_job:
    log = os.path.join(out, "logs", "merge-%s.log" % merge_job)
    if merge_job in active:
        state, reason = active[merge_job]
        print("merge: job %s %s%s" % (merge_job, state, " (%s)" % reason if state == "PENDING" else ""))
    else:
        state, source = final_state(merge_job, log)
        print("merge: job %s %s (%s)%s" % (merge_job, state or "not known to Slurm any more", source or "-",
              "; " + os.path.join(out, "results.csv") if state == "COMPLETED" else ""))
else:
    print("merge: none recorded in %s" % jobs_file)
if rerun:
    print("resubmit (they resume): %s %s" % (os.path.join(out, "rerun.sh"), " ".join(rerun)))
sys.exit(0 if all_done else 3)
PY
