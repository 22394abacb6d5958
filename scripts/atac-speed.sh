#!/usr/bin/env bash
# ATAC updates/s at the reference sizes (3 x 256 critic and actor, batch 256, the continuous lunar
# lander's 8-dim observations and 2-dim actions), shardlab against microsoft/lightATAC's own code,
# back to back in ROUNDS rounds on this machine (docs/benchmarks.md).
#
#   scripts/atac-speed.sh DATASET.h5      (e.g. the side-by-side run's lander_heuristic.h5)
#
# shardlab: bench/bench_offline.cpp's BM_OfflineAtac{Update,TwoThreadUpdate,AutogradUpdate} (fixed
# random batches). lightATAC: scripts/lightatac-run.py --time (its ATAC.update on batches sampled as
# main.py samples them, one torch thread as main.py sets; updates after the first 20), plain, with
# the glibc allocator settings shardlab sets in-process (core/malloc_settings.cpp) given through
# the environment, with those and one OpenBLAS thread, and with those and two torch threads. Then
# shardlab end to end: `shardlab offline` on DATASET (batches sampled from it, metrics rows), the
# side-by-side's settings, with run.threads 1 and 2 (2: the fused step's two threads), updates/s
# by wall time after the first 100 updates.
# Environment: ROUNDS (3), STEPS (updates per timed run, 400), BENCH (./build/shardlab_bench),
# SHARDLAB (./build/shardlab),
# PYTHON (/usr/bin/python3), LIGHTATAC (/tmp/lightatac).
set -euo pipefail

data=${1:?usage: scripts/atac-speed.sh DATASET.h5}
rounds=${ROUNDS:-3}
steps=${STEPS:-400}
bench=${BENCH:-./build/shardlab_bench}
python=${PYTHON:-/usr/bin/python3}
lightatac=${LIGHTATAC:-/tmp/lightatac}
shardlab=${SHARDLAB:-./build/shardlab}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
malloc=(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=67108864)

echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$rounds"); do
  echo "## round $round (load $(cut -d" " -f1-3 /proc/loadavg))"
  env OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE "$bench" \
    --benchmark_filter='BM_OfflineAtac(Update|TwoThreadUpdate|AutogradUpdate)/' --benchmark_min_time=3 2>/dev/null |
    grep '^BM_' | awk '{print $1, $NF}'
  run_lightatac() {  # VAR=VALUE ... [-- more lightatac-run.py arguments]
    local vars=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do vars+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    env "${vars[@]}" "$python" "$here/lightatac-run.py" --repo "$lightatac" --dataset "$data" --steps "$steps" \
      --time --beta 1 --actor-lr 5e-5 "$@"
  }
  echo "lightATAC plain (OpenBLAS default threads) $(run_lightatac)"
  echo "lightATAC allocator settings $(run_lightatac "${malloc[@]}")"
  echo "lightATAC allocator settings, OPENBLAS_NUM_THREADS=1 $(run_lightatac "${malloc[@]}" OPENBLAS_NUM_THREADS=1)"
  echo "lightATAC allocator settings, 2 torch threads $(run_lightatac "${malloc[@]}" -- --threads 2)"
  for threads in 1 2; do  # end to end: sampling from the dataset, metrics rows; updates after the first row
    rm -rf "$work/runs"
    "$shardlab" offline --out "$work/runs" --set run.name=speed --set run.seed=0 --set run.threads=$threads \
      --set offline.algo=atac --set offline.dataset="$data" --set offline.steps=$((steps + 100)) \
      --set offline.log_every=100 --set offline.eval_episodes=0 --set offline.batch_size=256 \
      --set agent.torso=mlp --set agent.hidden=256 --set agent.mlp_layers=3 --set agent.mlp_activation=relu \
      --set agent.policy_head=tanh_gaussian --set atac.hidden=256 --set atac.layers=3 \
      --set atac.warmup_steps=0 --set atac.beta=1 --set atac.actor_lr=5e-5 >/dev/null 2>&1
    echo "shardlab offline run.threads=$threads $("$python" -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
first, last = rows[0], rows[-1]  # wall time from the end of the first row to the end of the last
steps = int(last["global_step"]) - int(first["global_step"])
print("%.2f updates/s" % (steps / (float(last["time_s"]) - float(first["time_s"]))))
' "$work/runs/speed/metrics.csv")"
  done
done
