#!/usr/bin/env bash
# Submits a batch job as a Slurm sweep: a prepare job (the calibration and the unquantized
# reference runs, once), an array job of N shards (`--array=0-(N-1)`, each `skvq batch
# --shard I/N` into its own run store), and a merge job (`--dependency=afterok`) that combines
# the shards' stores into SWEEP_DIR/merged.sqlite.
#
# Usage: submit-sweep.sh JOB.json [SHARDS] [SWEEP_DIR]
#   SHARDS     at most this many array tasks (default: one per unit of the job; never more
#              than the job has units: `skvq batch JOB.json --plan` lists them)
#   SWEEP_DIR  where the stores and logs go (default: ./sweep-<job name>); must be a folder
#              every node sees (each shard is the only writer of its own store)
# Environment:
#   SKVQ              the skvq program (default: skvq on PATH); must run on the compute nodes
#   SKVQ_SBATCH_ARGS  extra sbatch options for every job, e.g. "--partition=gpu --time=04:00:00"
# A job with "device": "cuda..." asks for one GPU per task (--gres=gpu:1).
# Prints the three job ids as PREPARE_JOB=, ARRAY_JOB=, MERGE_JOB= lines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ] || [ $# -gt 3 ]; then
  echo "usage: $0 JOB.json [SHARDS] [SWEEP_DIR]" >&2
  exit 1
fi
job=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -f "$job" ] || { echo "submit-sweep: $1: no such batch file" >&2; exit 1; }
SKVQ=${SKVQ:-skvq}
command -v "$SKVQ" >/dev/null || { echo "submit-sweep: $SKVQ: not found (set SKVQ to the skvq program)" >&2; exit 1; }
command -v sbatch >/dev/null || { echo "submit-sweep: sbatch not found: run this on a Slurm login node" >&2; exit 1; }

plan=$("$SKVQ" batch "$job" --plan)
units=$(awk '$1 == "units" { print $2 }' <<<"$plan")
device=$(awk '$1 == "device" { print $2 }' <<<"$plan")
[ -n "$units" ] && [ "$units" -ge 1 ] || { echo "submit-sweep: $job: no units in its plan" >&2; exit 1; }
shards=${2:-$units}
[[ "$shards" =~ ^[0-9]+$ ]] && [ "$shards" -ge 1 ] || { echo "submit-sweep: SHARDS must be a positive integer, got '$shards'" >&2; exit 1; }
[ "$shards" -le "$units" ] || shards=$units
dir=${3:-$PWD/sweep-$(basename "$job" .json)}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

gres=()
case "$device" in cuda*) gres=(--gres=gpu:1) ;; esac
# shellcheck disable=SC2206  # word splitting of the user's extra options is wanted
extra=(${SKVQ_SBATCH_ARGS:-})
export SKVQ SKVQ_JOB="$job" SKVQ_SHARDS="$shards" SKVQ_SWEEP_DIR="$dir"
common=(--parsable --chdir="$PWD" --export=ALL "${extra[@]}")

prepare=$(sbatch "${common[@]}" "${gres[@]}" --job-name=skvq-prepare --output="$dir/prepare.log" \
  "$here/prepare.sbatch")
prepare=${prepare%%;*}
array=$(sbatch "${common[@]}" "${gres[@]}" --job-name=skvq-shard --array="0-$((shards - 1))" \
  --dependency="afterok:$prepare" --output="$dir/shard-%a.log" "$here/shard.sbatch")
array=${array%%;*}
merge=$(sbatch "${common[@]}" --job-name=skvq-merge --dependency="afterok:$array" \
  --output="$dir/merge.log" "$here/merge.sbatch")
merge=${merge%%;*}

echo "submit-sweep: $units units of $job in $shards shards (device ${device:-cpu}); stores and logs in $dir"
echo "PREPARE_JOB=$prepare"
echo "ARRAY_JOB=$array"
echo "MERGE_JOB=$merge"
echo "submit-sweep: when job $merge is done, the runs are in $dir/merged.sqlite (skvq --db $dir/merged.sqlite runs list)"
