#!/usr/bin/env bash
# A live single-node Slurm cluster on this machine, for the test suite (tests/test_slurm_cluster.py) and for trying
# rlpaper's Slurm submission by hand. Everything it makes lives in one folder, RLPAPER_SLURM_DIR (default
# /tmp/rlpaper-slurm): munge key, socket and seed, slurm.conf, slurmctld state, slurmd spool, logs and pid files.
#
# Usage: bash tools/slurm_cluster.sh start|stop|status|env
#   start   start munged, slurmctld and slurmd (as root) unless this script's cluster is already up; wait until
#           sinfo shows the node ready (idle, or running jobs recovered from before). Exit 2 when Slurm or munge is not installed.
#   stop    stop the daemons whose pid files are in the folder (slurmd, slurmctld, munged); nothing else.
#   status  say whether it is up (exit 0) or not (exit 1).
#   env     print the shell lines a client needs:  eval "$(bash tools/slurm_cluster.sh env)"
# Clients (sbatch, squeue, scontrol, scancel, sinfo) need only SLURM_CONF=<folder>/slurm.conf.
#
# Munge: our own munged listens on <folder>/munge/munge.socket, never on the system's /run/munge/munge.socket.2,
# so a system munged (or none) is left alone. Slurm's auth/munge and cred/munge plugins, in the daemons and in every
# client, read that socket from slurm.conf's AuthInfo=socket=... (checked with Slurm 22.05 and munge 0.5.15: sbatch,
# squeue, scontrol, scancel, sinfo work with no munged at the default socket). Only munge's own CLI tools (munge,
# unmunge) need --socket=<folder>/munge/munge.socket.
#
# Addresses: the node and the controller are reached on 127.0.0.1, so the short hostname need not resolve.
# Ports: 6817 (slurmctld) and 6818 (slurmd), the defaults; override with RLPAPER_SLURMCTLD_PORT / RLPAPER_SLURMD_PORT
# where a system Slurm already holds them.
set -euo pipefail

DIR=${RLPAPER_SLURM_DIR:-/tmp/rlpaper-slurm}
CONF=$DIR/slurm.conf
RUN=$DIR/run
LOG=$DIR/log
MUNGE_DIR=$DIR/munge
MUNGE_SOCKET=$MUNGE_DIR/munge.socket
MUNGE_KEY=$MUNGE_DIR/munge.key
CTLD_PORT=${RLPAPER_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${RLPAPER_SLURMD_PORT:-6818}
WAIT_S=${RLPAPER_SLURM_WAIT:-30}
NODE=$(hostname -s)
export SLURM_CONF=$CONF
export PATH=$PATH:/usr/sbin:/sbin

pid_of() {  # pid of daemon $1 when its pid file in $RUN names a live process of that name; else nothing, status 1
  local f=$RUN/$1.pid pid comm
  [ -s "$f" ] || return 1
  pid=$(tr -dc 0-9 <"$f")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
  [ "$comm" = "$1" ] || return 1   # a reused pid that is not our daemon
  echo "$pid"
}

node_state() {  # the node's state as sinfo prints it (idle, mix, alloc, idle*, down*...), or nothing
  timeout 10 sinfo -h -n "$NODE" -o %t 2>/dev/null | head -n1 || true
}

node_ready() {  # the node answers and takes jobs: idle, or running some (jobs recovered from a cluster stopped mid-run finish by themselves)
  case "$(node_state)" in idle|mix|alloc|comp) return 0 ;; *) return 1 ;; esac
}

is_up() {
  local d
  for d in munged slurmctld slurmd; do pid_of "$d" >/dev/null || return 1; done
  node_ready
}

tails() {
  local f
  for f in "$LOG"/munged.log "$LOG"/slurmctld.log "$LOG"/slurmd.log; do
    [ -f "$f" ] || continue
    echo "---- tail of $f" >&2
    tail -n 25 "$f" >&2
  done
}

write_conf() {
  local cpus mem_mb defmem
  cpus=$(nproc)
  mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
  # A job that asks no --mem gets DefMemPerCPU per CPU; without it, CR_Core_Memory gives such a job the whole node's
  # memory and jobs would run one at a time.
  defmem=$(( mem_mb / cpus < 1024 ? mem_mb / cpus : 1024 ))
  cat >"$CONF.tmp" <<EOF
# Written by tools/slurm_cluster.sh: a single-node cluster, all of its files under $DIR
ClusterName=rlpaper
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
# cred_expire: a requeued job waits this long (+1 s) before it may start again; Slurm's default, 120 s, would make
# the time-limit test (a run requeued several times under a limit of one minute) last many minutes
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=10
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$defmem
SchedulerType=sched/backfill
# sched_interval: how often the main scheduler looks at pending jobs; a requeued job whose begin time has passed waits for it
# (Slurm's default is 60 s)
SchedulerParameters=bf_interval=1,sched_interval=2,sched_min_interval=100000
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
# reject at submission a job that no node or partition could ever run (default: queue it, pending forever)
EnforcePartLimits=ALL
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ReturnToService=2
MessageTimeout=10
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
# a second partition on the same node, so that a test can tell a job sent to a partition from one left to the default
PartitionName=long Nodes=ALL Default=NO MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
}

start_munged() {
  if pid_of munged >/dev/null; then return 0; fi
  if [ ! -s "$MUNGE_KEY" ]; then
    if command -v mungekey >/dev/null; then
      mungekey --create --keyfile="$MUNGE_KEY" --force
    else
      dd if=/dev/urandom bs=1 count=1024 of="$MUNGE_KEY" 2>/dev/null
    fi
  fi
  chmod 600 "$MUNGE_KEY"
  rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
  # --force: run as root, and accept a socket left behind by a munged that died
  munged --force --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" --pid-file="$RUN/munged.pid" \
    --log-file="$LOG/munged.log" --seed-file="$MUNGE_DIR/munged.seed" 9>&-
  for _ in $(seq 50); do [ -S "$MUNGE_SOCKET" ] && pid_of munged >/dev/null && return 0; sleep 0.1; done
  echo "munged did not start" >&2
  return 1
}

do_start() {
  local d
  for d in munged slurmctld slurmd; do
    if ! command -v "$d" >/dev/null; then
      echo "$d is not installed: run 'apt-get install -y slurm-wlm munge' (or 'bash .ci/install')" >&2
      exit 2
    fi
  done
  mkdir -p "$DIR"
  exec 9>"$DIR/.lock"   # one start or stop at a time
  flock 9
  if is_up; then
    echo "Slurm cluster already up ($DIR, node $NODE)"
    echo "use it with: export SLURM_CONF=$CONF"
    return 0
  fi
  # Part of it may be running (a daemon died): start again from nothing, keeping the saved state.
  stop_daemons quiet
  if [ ${#MUNGE_SOCKET} -ge 100 ]; then
    echo "RLPAPER_SLURM_DIR is too long for a unix socket path: $MUNGE_SOCKET" >&2
    exit 1
  fi
  mkdir -p "$DIR/state" "$DIR/spool" "$LOG" "$RUN" "$MUNGE_DIR"
  chmod 755 "$DIR" "$LOG" "$RUN" "$MUNGE_DIR"   # munged wants its socket's folder searchable by all; the key is 600
  chmod 700 "$DIR/state"
  write_conf
  local t0=$SECONDS
  start_munged || { tails; stop_daemons quiet; exit 1; }
  # 9>&-: the daemons must not inherit (and so hold forever) the lock
  slurmctld -f "$CONF" 9>&- || { tails; stop_daemons quiet; exit 1; }
  slurmd -f "$CONF" 9>&- || { tails; stop_daemons quiet; exit 1; }
  local state=""
  while [ $((SECONDS - t0)) -lt "$WAIT_S" ]; do
    state=$(node_state)
    if node_ready && pid_of slurmctld >/dev/null && pid_of slurmd >/dev/null; then
      echo "Slurm cluster up in $((SECONDS - t0)) s: node $NODE, $(nproc) CPUs, partition debug ($DIR)"
      echo "use it with: export SLURM_CONF=$CONF"
      return 0
    fi
    # a daemon that died (a port in use, a bad setting) will not come back: say so now
    if [ $((SECONDS - t0)) -ge 2 ] && ! { pid_of slurmctld >/dev/null && pid_of slurmd >/dev/null; }; then
      state="a daemon exited"; break
    fi
    sleep 0.5
  done
  echo "Slurm cluster did not come up within $WAIT_S s (node state: '${state:-no answer}')" >&2
  tails
  if grep -qs 'Address already in use' "$LOG"/slurmctld.log "$LOG"/slurmd.log; then
    echo "another Slurm holds port $CTLD_PORT or $SLURMD_PORT: set RLPAPER_SLURMCTLD_PORT and RLPAPER_SLURMD_PORT" >&2
  fi
  stop_daemons quiet
  exit 1
}

stop_daemons() {  # $1=quiet: say nothing. slurmd and slurmctld together (each takes about 2 s), then munged.
  local group d pid any=0 pids
  for group in "slurmd slurmctld" munged; do
    pids=""
    for d in $group; do
      pid=$(pid_of "$d") || { rm -f "$RUN/$d.pid"; continue; }
      any=1
      kill -TERM "$pid" 2>/dev/null || true
      pids="$pids $d:$pid"
    done
    for d in $pids; do
      pid=${d#*:}
      for _ in $(seq 150); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
      if [ -d "/proc/$pid" ]; then
        echo "${d%:*} ($pid) did not stop in 15 s: killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
      fi
      rm -f "$RUN/${d%:*}.pid"
      [ "${1:-}" = quiet ] || echo "stopped ${d%:*} ($pid)"
    done
  done
  [ "${1:-}" = quiet ] || [ $any = 1 ] || echo "Slurm cluster not running ($DIR)"
}

do_stop() {
  [ -d "$DIR" ] || { echo "Slurm cluster not running ($DIR)"; return 0; }
  exec 9>"$DIR/.lock"
  flock 9
  stop_daemons
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status)
    if is_up; then echo "Slurm cluster up ($DIR, node $NODE, state $(node_state))"; exit 0
    else echo "Slurm cluster not up ($DIR)"; exit 1; fi ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 64 ;;
esac
