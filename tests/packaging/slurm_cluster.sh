#!/usr/bin/env bash
# A one-node Slurm cluster that lives entirely in one folder: its own munge key and socket, slurm.conf, state,
# spool, PID and log files. Nothing in /etc, /run or /var is used, and every daemon is stopped by its PID.
# Debian's packages slurm-wlm and munge (in packaging/debian-packages.txt) provide the programs.
#
#   tests/packaging/slurm_cluster.sh start DIR    start munged, slurmctld and slurmd; prints the SLURM_CONF line
#   tests/packaging/slurm_cluster.sh stop DIR     stop the daemons started in DIR (by the PIDs recorded there)
#
# Then, in the same shell: export SLURM_CONF=DIR/slurm.conf; sinfo; sbatch ...
# The node gets the machine's CPUs and memory (slurmd -C), partition 'debug' (default, 1 hour at most). Ports are
# free ones found at start (recorded in slurm.conf), so two clusters on one machine do not meet. The daemons run
# as the user who starts them; jobs of that user run under it.
#
# tests/packaging/slurm_test.sh sources this file and uses slurm_cluster_start / slurm_cluster_stop.
set -uo pipefail

slurm_cluster_say() { echo "slurm_cluster: $*" >&2; }

# A TCP port on 127.0.0.1 that nothing listens on, from a range the kernel does not hand out on its own.
slurm_cluster_free_port() {
    local port tries=0
    while [ $tries -lt 200 ]; do
        port=$((20000 + RANDOM % 10000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
        tries=$((tries + 1))
    done
    return 1
}

# slurm_cluster_start DIR: 0 when sinfo shows the node idle, 1 (with the daemons' logs on stderr) otherwise.
slurm_cluster_start() {
    local dir="$1" prog
    for prog in munged mungekey slurmctld slurmd sinfo sbatch; do
        command -v "$prog" >/dev/null || command -v "/usr/sbin/$prog" >/dev/null || {
            slurm_cluster_say "no $prog: install Debian's slurm-wlm and munge (packaging/debian-packages.txt)"
            return 1
        }
    done
    export PATH="$PATH:/usr/sbin"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    local user group
    user="$(id -un)"
    group="$(id -gn)"
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
    # munged checks that its key is private and its folders not writable by others.
    chmod 700 "$dir/munge" "$dir/state" "$dir/spool"
    chmod 755 "$dir/log" "$dir/run"
    rm -f "$dir/munge/munge.key"
    mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null 2>&1 \
        || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 600 "$dir/munge/munge.key"
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
        || { slurm_cluster_say "munged did not start:"; cat "$dir/log/munged.log" >&2; return 1; }

    local node_line cpus memory ctld_port slurmd_port host
    node_line="$(slurmd -C | head -1)"
    cpus="$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node_line")"
    memory="$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")"
    # Leave some memory to the machine, as a real node does; the test asks for far less.
    memory=$((memory * 9 / 10))
    host="$(hostname -s)"
    ctld_port="$(slurm_cluster_free_port)" || { slurm_cluster_say "no free port"; return 1; }
    slurmd_port="$(slurm_cluster_free_port)" || { slurm_cluster_say "no free port"; return 1; }
    while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port="$(slurm_cluster_free_port)"; done
    cat >"$dir/slurm.conf" <<EOF
# A one-node cluster in $dir (tests/packaging/slurm_cluster.sh).
ClusterName=lethe-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
# Finished jobs stay visible to scontrol for a minute (there is no accounting database here for sacct).
MinJobAge=60
KillWait=10
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=60 State=UP
EOF
    export SLURM_CONF="$dir/slurm.conf"
    # -D: stay in the foreground (so that the recorded PID is the daemon's); -i: ignore old state; -c: clear it.
    slurmctld -D -i -c -f "$dir/slurm.conf" >"$dir/log/slurmctld.out" 2>&1 &
    echo $! >"$dir/run/slurmctld.daemon-pid"
    slurmd -D -f "$dir/slurm.conf" >"$dir/log/slurmd.out" 2>&1 &
    echo $! >"$dir/run/slurmd.daemon-pid"
    local waited=0 state=""
    while [ $waited -lt 60 ]; do
        state="$(sinfo -h -n "$host" -o '%T' 2>/dev/null | head -1)"
        [ "$state" = idle ] && break
        sleep 1
        waited=$((waited + 1))
    done
    if [ "$state" != idle ]; then
        slurm_cluster_say "the node is not idle after ${waited}s (state '${state:-none}'); the daemons' logs:"
        tail -20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" "$dir/log/slurmctld.out" "$dir/log/slurmd.out" \
            >&2 2>/dev/null
        return 1
    fi
    slurm_cluster_say "node $host idle ($cpus CPUs, $memory MB) after ${waited}s; export SLURM_CONF=$dir/slurm.conf"
    return 0
}

# slurm_cluster_stop DIR: stops slurmd, slurmctld and munged by their recorded PIDs, and waits for them to end.
slurm_cluster_stop() {
    local dir="$1" name pid file waited
    for name in slurmd slurmctld munged; do
        if [ "$name" = munged ]; then file="$dir/munge/munged.pid"; else file="$dir/run/$name.daemon-pid"; fi
        [ -f "$file" ] || continue
        pid="$(cat "$file")"
        rm -f "$file"
        [[ "$pid" =~ ^[0-9]+$ ]] || continue
        kill -TERM "$pid" 2>/dev/null || continue
        waited=0
        while kill -0 "$pid" 2>/dev/null && [ $waited -lt 100 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            slurm_cluster_say "$name ($pid) still runs after 10 s: killing it"
            kill -KILL "$pid" 2>/dev/null
        fi
    done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
        start) [ $# -eq 2 ] || { echo "usage: $0 start DIR" >&2; exit 2; }
            slurm_cluster_start "$2" || { slurm_cluster_stop "$2"; exit 1; }
            echo "export SLURM_CONF=$(cd "$2" && pwd)/slurm.conf" ;;
        stop) [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
            slurm_cluster_stop "$2" ;;
        *) echo "usage: $0 start DIR | stop DIR" >&2; exit 2 ;;
    esac
fi
