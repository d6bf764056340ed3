#!/usr/bin/env bash
# A real single-node Slurm (Debian's slurm-wlm and munge) runs examples/slurm over a small
# stories260K batch job in 4 shards; the merged run store must equal a single-process
# `skvq batch` of the same job: the same run identities, the same metrics (timings aside).
#
# Usage: check_slurm_sweep.sh SKVQ_BINARY SOURCE_DIR
# Exit 0 passed, 1 failed, 77 skipped (Slurm cannot start here; the reason is printed).
# With SKVQ_REQUIRE_SLURM=1 (scripts/test.sh, CI) a skip is a failure.
# The daemons (munged, slurmctld, slurmd) run as root from a temporary folder with their own
# socket, ports, state and logs, and are killed on exit.
set -uo pipefail
skvq=${1:?usage: check_slurm_sweep.sh SKVQ_BINARY SOURCE_DIR}
src=${2:?usage: check_slurm_sweep.sh SKVQ_BINARY SOURCE_DIR}
src=$(cd "$src" && pwd)
skvq=$(cd "$(dirname "$skvq")" && pwd)/$(basename "$skvq")
t0=$(date +%s)
export SKVQ_DATA_DIR=${SKVQ_DATA_DIR:-$(cd "$src/.." && pwd)/shared/data}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/skvq-slurm-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if [ "${keep:-0}" = 1 ]; then echo "check_slurm_sweep: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

logs() {
  for f in "$tmp"/munged.log "$tmp"/slurmctld.log "$tmp"/slurmd.log "$tmp"/sweep/*.log; do
    [ -f "$f" ] && { echo "--- $f (last lines)"; tail -n 15 "$f"; }
  done
}
skip() {
  if [ "${SKVQ_REQUIRE_SLURM:-0}" = 1 ]; then
    echo "check_slurm_sweep: FAILED: Slurm cannot start here and SKVQ_REQUIRE_SLURM=1: $*"
    logs
    exit 1
  fi
  echo "check_slurm_sweep: SKIPPED: Slurm cannot start here: $*"
  exit 77
}
fail() {
  echo "check_slurm_sweep: FAILED: $*"
  logs
  keep=${SKVQ_KEEP_SLURM_TMP:-0}
  exit 1
}

[ -x "$skvq" ] || fail "$skvq is not a built skvq"
for prog in munged slurmctld slurmd sbatch scontrol sinfo python3; do
  command -v "$prog" >/dev/null || PATH=$PATH:/usr/sbin:/sbin
  command -v "$prog" >/dev/null || skip "$prog not installed (scripts/install-deps.sh installs slurm-wlm and munge)"
done
[ "$(id -u)" = 0 ] || skip "the daemons need root (slurmd starts jobs as their user); running as $(id -un)"

# Three free TCP ports on localhost (slurmctld, slurmd, and one spare that the OS held apart).
read -r port_ctld port_d < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
host=$(hostname -s)
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/sweep" "$tmp/one"
chmod 700 "$tmp"

# munge: a fresh key and a private socket.
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 status=none
chmod 600 "$tmp/munge.key"
munged --force --key-file="$tmp/munge.key" --socket="$tmp/munge.sock" --pid-file="$tmp/munged.pid" \
  --log-file="$tmp/munged.log" --seed-file="$tmp/munged.seed" --foreground >"$tmp/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/munge.sock" ] && break; sleep 0.1; done
[ -S "$tmp/munge.sock" ] || skip "munged did not start ($(tail -n 3 "$tmp/munged.log" 2>/dev/null))"

cat >"$tmp/slurm.conf" <<EOF
ClusterName=skvqtest
SlurmctldHost=$host
SlurmctldAddr=127.0.0.1
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port_ctld
SlurmdPort=$port_d
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge.sock
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=skvqnode NodeHostname=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=500 State=UNKNOWN
PartitionName=debug Nodes=skvqnode Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$tmp/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" >"$tmp/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N skvqnode -f "$SLURM_CONF" >"$tmp/slurmd.out" 2>&1 &
pids+=($!)
state=""
for _ in $(seq 100); do
  state=$(sinfo -h -n skvqnode -o %T 2>/dev/null)
  [ "$state" = idle ] && break
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || skip "a Slurm daemon exited at start: $(tail -n 3 "$tmp"/slurm*.out "$tmp"/slurm*.log 2>/dev/null | tr '\n' ' ')"; done
  sleep 0.2
done
case "$state" in idle) ;; *) skip "the node did not become idle in 20 s (state '$state'): $(tail -n 3 "$tmp/slurmctld.log" 2>/dev/null | tr '\n' ' ')" ;; esac
echo "check_slurm_sweep: Slurm up in $(($(date +%s) - t0)) s (slurmctld :$port_ctld, slurmd :$port_d, node skvqnode $state)"

# The job: stories260K, 4 configurations (one calibrated), 2 chunks of 64 tokens, one thread
# per process (so that the same configuration gives the same bits in every process).
write_job() {  # FILE CALIBRATION_FILE
  cat >"$1" <<EOF
{"model": "models/stories260K/stories260K.bin", "threads": 1,
 "calibration": {"file": "$2", "text": "text/wikitext2/wiki.test.raw", "max_bytes": 20000,
                 "samples": 2, "seq_len": 64, "group_sizes": [8], "seed": 7},
 "ppl": {"text": "text/tinystories/tinystories_val.txt", "ctx_len": 64, "max_chunks": 2, "max_bytes": 20000},
 "configs": ["fp16", "k2-v2-g8-rtn", "k2-v2-g8-reorder-clip-sink5-fp8", "k4-v4-g8-KIVI"]}
EOF
}
write_job "$tmp/job.json" "$tmp/sweep/cal.json"
write_job "$tmp/one/job.json" "$tmp/one/cal.json"

export OMP_NUM_THREADS=1
out=$(cd "$tmp" && SKVQ=$skvq bash "$src/examples/slurm/submit-sweep.sh" "$tmp/job.json" 4 "$tmp/sweep" 2>&1) ||
  fail "submit-sweep.sh failed: $out"
echo "$out"
merge_job=$(sed -n 's/^MERGE_JOB=//p' <<<"$out")
array_job=$(sed -n 's/^ARRAY_JOB=//p' <<<"$out")
[ -n "$merge_job" ] || fail "submit-sweep.sh printed no MERGE_JOB"
grep -q "in 4 shards" <<<"$out" || fail "expected 4 shards"

# Wait for the merge job (it runs after the prepare job and all 4 shards succeeded).
job_state() { scontrol show job "$1" -o 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
deadline=$(($(date +%s) + 90))
while :; do
  s=$(job_state "$merge_job")
  case "$s" in
    COMPLETED) break ;;
    FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
      fail "merge job $merge_job ended $s" ;;
  esac
  if scontrol show job "$merge_job" -o 2>/dev/null | grep -q "Reason=DependencyNeverSatisfied"; then
    fail "a shard or the prepare job failed: merge job $merge_job can never run"
  fi
  [ "$(date +%s)" -lt "$deadline" ] || fail "merge job $merge_job not done in 90 s (state $s)"
  sleep 0.5
done
tasks=$(scontrol show job "$array_job" -o 2>/dev/null | grep -c "JobState=COMPLETED")
[ "$tasks" = 4 ] || fail "expected 4 completed array tasks, found $tasks"
echo "check_slurm_sweep: sweep done in $(($(date +%s) - t0)) s"
grep -q "4 runs added" "$tmp/sweep/merge.log" || fail "merge.log does not say 4 runs added"

# The same job in one process, in its own folder with its own calibration file.
(cd "$tmp/one" && "$skvq" --db "$tmp/one/runs.sqlite" batch "$tmp/one/job.json" >"$tmp/one/batch.log" 2>&1) ||
  fail "single-process skvq batch failed: $(tail -n 5 "$tmp/one/batch.log")"
cmp -s "$tmp/sweep/cal.json" "$tmp/one/cal.json" || fail "the sweep's calibration differs from the single process's"

# 1. By the store's own identity rule: the merged runs are duplicates of the single process's,
#    with equal results (a difference would be a conflict, exit 1).
"$skvq" runs merge "$tmp/check.sqlite" "$tmp/one/runs.sqlite" >/dev/null || fail "merging the single-process store failed"
m=$("$skvq" runs merge "$tmp/check.sqlite" "$tmp/sweep/merged.sqlite" 2>&1) || fail "merged store conflicts with one process: $m"
grep -q ": 0 runs added, 4 already there with equal results" <<<"$m" || fail "unexpected merge: $m"
# 2. Field by field: the same configurations, data, parameters and metrics, timings aside;
#    every merged run names the shard store it came from.
"$skvq" --db "$tmp/sweep/merged.sqlite" runs export --json --out "$tmp/merged.json" >/dev/null || fail "export failed"
"$skvq" --db "$tmp/one/runs.sqlite" runs export --json --out "$tmp/one.json" >/dev/null || fail "export failed"
python3 - "$tmp/merged.json" "$tmp/one.json" "$tmp/sweep/merged.sqlite" <<'EOF' || fail "merged store differs from one process"
import json, sqlite3, sys
timing = lambda k: k in ("wall_seconds", "seconds") or k.endswith(("_seconds", "_per_second", "_per_s"))
def runs(path):
    out = {}
    for r in json.load(open(path)):
        assert r["status"] == "done", r
        m = {k: v for k, v in r["metrics"].items() if not timing(k)}
        out[r["config"]] = (r["kind"], r["model"], r["data_sha256"], json.dumps(r["params"], sort_keys=True),
                            r["calibration_id"] is not None, json.dumps(m, sort_keys=True))
    return out
a, b = runs(sys.argv[1]), runs(sys.argv[2])
assert len(a) == 4 and sorted(a) == sorted(b), (sorted(a), sorted(b))
for k in b:
    assert a[k] == b[k], (k, a[k], b[k])
    print("  %-34s ppl %s" % (k, json.loads(a[k][5])["ppl"]))
db = sqlite3.connect("file:" + sys.argv[3] + "?mode=ro", uri=True)
rows = db.execute("SELECT r.config, s.source FROM runs r JOIN run_sources s ON s.run_id = r.id").fetchall()
assert {c for c, _ in rows} == set(a), rows
assert all("/shard-" in s or "/prepare.sqlite" in s for _, s in rows), rows
EOF
echo "check_slurm_sweep: PASSED in $(($(date +%s) - t0)) s: 4 shards on Slurm, merged store equals one process"
