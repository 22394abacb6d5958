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
# the environment, and with those and one OpenBLAS thread.
# Environment: ROUNDS (3), STEPS (lightATAC updates per run, 400), BENCH (./build/shardlab_bench),
# PYTHON (/usr/bin/python3), LIGHTATAC (/tmp/lightatac).
set -euo pipefail

data=${1:?usage: scripts/atac-speed.sh DATASET.h5}
rounds=${ROUNDS:-3}
steps=${STEPS:-400}
bench=${BENCH:-./build/shardlab_bench}
python=${PYTHON:-/usr/bin/python3}
lightatac=${LIGHTATAC:-/tmp/lightatac}
here=$(cd "$(dirname "$0")" && pwd)
malloc=(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=67108864)

echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$rounds"); do
  echo "## round $round"
  env OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE "$bench" \
    --benchmark_filter='BM_OfflineAtac(Update|TwoThreadUpdate|AutogradUpdate)/' --benchmark_min_time=3 2>/dev/null |
    grep '^BM_' | awk '{print $1, $NF}'
  run_lightatac() {
    env "$@" "$python" "$here/lightatac-run.py" --repo "$lightatac" --dataset "$data" --steps "$steps" --time \
      --beta 1 --actor-lr 5e-5
  }
  echo "lightATAC plain (OpenBLAS default threads) $(run_lightatac)"
  echo "lightATAC allocator settings $(run_lightatac "${malloc[@]}")"
  echo "lightATAC allocator settings, OPENBLAS_NUM_THREADS=1 $(run_lightatac "${malloc[@]}" OPENBLAS_NUM_THREADS=1)"
done
