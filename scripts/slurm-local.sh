#!/usr/bin/env bash
# slurm-local.sh COMMAND [ARGS...]: runs COMMAND against a real single-node SLURM started on this
# machine for it, then stops it. Debian's slurm-wlm and munge (installed with apt-get when
# missing); everything else lives in a temporary folder removed at exit: slurm.conf naming this
# host as the one node with its CPUs and memory, munge's key and socket, the daemons' state,
# spool and logs. No cgroups (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, and
# cgroup.conf's CgroupPlugin named rather than detected), so it runs in a container without
# systemd or a cgroup filesystem; the daemons run as root, started directly.
#
#   scripts/slurm-local.sh bash -c 'sbatch --wait job.sh && cat slurm-*.out'
#
# COMMAND runs with SLURM_CONF set (sbatch, srun, squeue find the cluster through it); its exit
# code is the script's. Exit code 77 (with the reason as the last line on stderr) means this
# machine cannot run slurmd at all: not root, the packages cannot be installed, or slurmd exits
# while starting (its log, then its errors as the reason). Any other daemon or node that does not
# come up is an error (exit 1, with the logs), not a skip.
set -euo pipefail

if [ $# -eq 0 ]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
cannot() {
  echo "slurm-local: cannot run slurmd here: $*" >&2
  exit 77
}
[ "$(id -u)" -eq 0 ] || cannot "slurmd and munged need root (run this script as root)"

# --- Packages ---------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
  ! command -v munged >/dev/null; then
  echo "slurm-local: installing slurm-wlm and munge (apt-get)" >&2
  # The packages' maintainer scripts would start system daemons; policy-rc.d forbids it while
  # installing (unless the machine already has one).
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  install() {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends \
      slurm-wlm munge >&2
  }
  status=0
  install || { apt-get -o DPkg::Lock::Timeout=300 update -q >&2 && install; } || status=$?
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
  [ "$status" -eq 0 ] || cannot "apt-get could not install slurm-wlm and munge (exit $status)"
fi

# --- The cluster's folder ---------------------------------------------------------------------
T="$(mktemp -d "${TMPDIR:-/tmp}/slurm-local.XXXXXX")"
chmod 755 "$T"
mkdir -p "$T/munge" "$T/state" "$T/spool" "$T/log"
chmod 711 "$T/munge"  # munged: the socket's folder must be searchable by all
munged_pid="" slurmctld_pid="" slurmd_pid="" command_pid=""

stop() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$command_pid" ]; then
    kill "$command_pid" 2>/dev/null || true
    wait "$command_pid" 2>/dev/null || true
  fi
  if [ -n "$slurmctld_pid" ]; then
    # Jobs first: their steps are not children of slurmd and would outlive it.
    local jobs
    jobs="$(SLURM_CONF="$T/slurm.conf" squeue -h -o %A 2>/dev/null || true)"
    if [ -n "$jobs" ]; then
      SLURM_CONF="$T/slurm.conf" scancel $jobs 2>/dev/null || true
      for i in $(seq 30); do
        [ -z "$(SLURM_CONF="$T/slurm.conf" squeue -h -o %A 2>/dev/null)" ] && break
        [ "$i" -eq 20 ] && SLURM_CONF="$T/slurm.conf" scancel --signal=KILL $jobs 2>/dev/null
        sleep 0.5
      done
    fi
  fi
  for pid in $slurmd_pid $slurmctld_pid $munged_pid; do
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$T"
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "slurm-local: $1" >&2
  for log in "$T"/log/*.log; do
    [ -f "$log" ] && { echo "--- $log (last lines)" >&2; tail -n 15 "$log" >&2; }
  done
  exit 1
}

# slurmd exited while starting: this machine cannot run it. Its log, then its errors on one line
# (the last on stderr) as the reason.
slurmd_cannot() {
  local log="$T/log/slurmd.log" reason
  [ -f "$log" ] && { echo "--- $log (last lines)" >&2; tail -n 15 "$log" >&2; }
  reason="$(sed -n 's/^slurmd: \(error\|fatal\): //p' "$log" 2>/dev/null | grep -v '^Node configuration differs' |
    paste -s -d ';' - | sed 's/;/; /g')"
  cannot "slurmd exited: ${reason:-see $log}"
}

# A TCP port nothing listens on (bash's /dev/tcp: a refused connection means free).
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  fail "no free TCP port found"
}

# --- munge: a fresh key and our own socket ----------------------------------------------------
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
setsid munged --foreground --key-file="$T/munge/munge.key" --socket="$T/munge/munge.socket" \
  --pid-file="$T/munge/munged.pid" --seed-file="$T/munge/munged.seed" --log-file="$T/log/munged.log" \
  2>>"$T/log/munged.log" &
munged_pid=$!
for _ in $(seq 50); do [ -S "$T/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$T/munge/munge.socket" ] || fail "munged did not start"

# --- slurm.conf: this host, its CPUs and memory -----------------------------------------------
node="$(hostname -s)"
cpus="$(nproc)"
# slurmd's own view of the memory, so the node is never configured with more than it has.
memory="$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n 1)"
[ -n "$memory" ] || memory=$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024))
cat >"$T/slurm.conf" <<EOF
ClusterName=shardlab-local
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge/munge.socket
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
InactiveLimit=0
MinJobAge=300
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
# slurmd (22.05) loads a cgroup plugin at startup even with the cgroup-free plugins above, and
# the default CgroupPlugin=autodetect fails where /sys/fs/cgroup has no cgroup filesystem (a
# chroot, an unprivileged container): "error: No filesystem mounted on /sys/fs/cgroup". Naming
# cgroup/v1 skips the detection; its init touches no filesystem, and nothing above uses it.
echo "CgroupPlugin=cgroup/v1" >"$T/cgroup.conf"
export SLURM_CONF="$T/slurm.conf"

# --- The daemons ------------------------------------------------------------------------------
# Each in a session of its own (setsid execs in place, so $! stays its pid): a signal to this
# script's process group (Ctrl-C, `timeout`) reaches the command and this script, whose trap then
# cancels the jobs while the daemons still run, and only then stops them.
setsid slurmctld -D -c -f "$SLURM_CONF" >>"$T/log/slurmctld.log" 2>&1 &
slurmctld_pid=$!
setsid slurmd -D -N "$node" -f "$SLURM_CONF" >>"$T/log/slurmd.log" 2>&1 &
slurmd_pid=$!
state=""
for _ in $(seq 120); do
  kill -0 "$slurmctld_pid" 2>/dev/null || fail "slurmctld exited"
  kill -0 "$slurmd_pid" 2>/dev/null || slurmd_cannot
  state="$(sinfo -h -n "$node" -o %t 2>/dev/null || true)"
  case "$state" in
    idle* | mix* | alloc*) break ;;
    down* | drain*) scontrol update NodeName="$node" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 0.5
done
case "$state" in
  idle* | mix* | alloc*) ;;
  *) fail "the node did not become idle within 60 s (state '$state')" ;;
esac
echo "slurm-local: cluster up: node $node, $cpus CPUs, $memory MB (SLURM_CONF=$SLURM_CONF)" >&2

# --- The command ------------------------------------------------------------------------------
# In the background, so that a TERM (from `timeout`, or a test's time limit) reaches the trap at
# once instead of after the command; `<&0` keeps its stdin (a background command's is /dev/null).
"$@" <&0 &
command_pid=$!
status=0
wait "$command_pid" || status=$?
command_pid=""
exit "$status"
