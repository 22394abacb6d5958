#!/usr/bin/env bash
# ATAC side by side with microsoft/lightATAC's own code (docs/offline-atac.md): one dataset of the
# continuous lunar lander's heuristic pilot, both learners at the reference sizes (3 x 256 critic and
# actor, batch 256), beta 1, actor step 5e-5, no warm start, the same seeds; every 100 updates the
# mean Q(s, a), Q_2(s, a_pi), entropy estimate and temperature of each, averaged over the 100
# updates. Writes OUT/curves.csv (every run's rows) and OUT/table.md (mean [min, max] over seeds).
#
#   scripts/atac-side-by-side.sh [OUT]            (default OUT: side-by-side)
#
# A curve already in OUT is not run again (delete OUT, or OUT/runs for shardlab's, to rerun).
# Environment: SEEDS (default "0 1 2"), STEPS (2000), ROWS (30000), SHARDLAB (./build/shardlab),
# PYTHON (/usr/bin/python3: Debian's python3-torch and python3-h5py), LIGHTATAC (lightATAC's source
# tree, e.g. `git --git-dir=MIRROR archive HEAD | tar -x -C /tmp/lightatac`; default /tmp/lightatac).
# Each run uses one thread (OPENBLAS_NUM_THREADS=1, torch's pool at 1, as lightATAC's main.py).
set -euo pipefail

out=${1:-side-by-side}
seeds=${SEEDS:-0 1 2}
steps=${STEPS:-2000}
rows=${ROWS:-30000}
shardlab=${SHARDLAB:-./build/shardlab}
python=${PYTHON:-/usr/bin/python3}
lightatac=${LIGHTATAC:-/tmp/lightatac}
here=$(cd "$(dirname "$0")" && pwd)
export OPENBLAS_NUM_THREADS=1

mkdir -p "$out"
data="$out/lander_heuristic.h5"
if [ ! -f "$data" ]; then
  "$shardlab" collect --set env.name=lunar_lander_continuous --set run.seed=0 --policy heuristic \
    --steps "$rows" --next-observations --out "$data"
fi

for seed in $seeds; do
  if [ ! -f "$out/lightatac_seed$seed.csv" ]; then
    "$python" "$here/lightatac-run.py" --repo "$lightatac" --dataset "$data" --seed "$seed" --steps "$steps" \
      --beta 1 --actor-lr 5e-5 --log-every 100 --csv "$out/lightatac_seed$seed.csv"
  fi
  if [ ! -f "$out/runs/shardlab_seed$seed/result.json" ]; then  # written when the run finishes
    rm -rf "$out/runs/shardlab_seed$seed"
    "$shardlab" offline --out "$out/runs" --set run.name="shardlab_seed$seed" --set run.seed="$seed" \
      --set run.threads=1 --set offline.algo=atac --set offline.dataset="$data" --set offline.steps="$steps" \
      --set offline.log_every=100 --set offline.eval_episodes=0 --set offline.batch_size=256 \
      --set agent.torso=mlp --set agent.hidden=256 --set agent.mlp_layers=3 --set agent.mlp_activation=relu \
      --set agent.policy_head=tanh_gaussian --set atac.hidden=256 --set atac.layers=3 \
      --set atac.warmup_steps=0 --set atac.beta=1 --set atac.actor_lr=5e-5 >/dev/null
  fi
done

"$python" "$here/atac-side-by-side-table.py" --out "$out" --seeds $seeds
