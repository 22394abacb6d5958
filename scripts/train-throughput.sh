#!/usr/bin/env bash
# Training throughput as a Markdown table (docs/benchmarks.md, "Training throughput"): short
# `shardlab train` runs of one spec, one per row, each timed from its own metrics.csv.
#
#   scripts/train-throughput.sh OUT_DIR SPEC UPDATES "LABEL|ARGS" ["LABEL|ARGS" ...]
#
# Each row trains SPEC for UPDATES updates (train.total_steps = UPDATES x the rows of one update)
# with ARGS added to the train command (--set key=value ..., --nproc 2), in OUT_DIR/<n>/ (which
# must not exist yet), and reports the last update (the first warms up the convolution kernels):
#   env steps/s      rows of the update / (acting + update seconds)
#   update samples/s rows x ppo.update_epochs / update seconds (forward, backward, Adam)
#   acting steps/s   rows / acting seconds (policy forward, sampling, environment steps)
# With FROM_UPDATE=K in the environment it reports updates K to UPDATES together instead (their
# rows over their seconds): one update varies by 10-20% on a shared machine, their mean less.
# Example (the issue-12 settings, one rank then two):
#   scripts/train-throughput.sh /tmp/tp experiments/ppo_maze_top_right.ini 2 \
#     "1 rank|--set run.threads=1" "2 ranks|--set run.threads=1 --nproc 2"
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$#" -lt 4 ]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
  exit 2
fi
OUT="$1" SPEC="$2" UPDATES="$3"
shift 3
[ -f "$SPEC" ] || { echo "train-throughput: error: no spec file $SPEC" >&2; exit 2; }
case "$UPDATES" in '' | *[!0-9]* | 0) echo "train-throughput: error: UPDATES must be a positive integer, got '$UPDATES'" >&2; exit 2 ;; esac
FROM="${FROM_UPDATE:-$UPDATES}"
case "$FROM" in '' | *[!0-9]* | 0) echo "train-throughput: error: FROM_UPDATE must be a positive integer, got '$FROM'" >&2; exit 2 ;; esac
[ "$FROM" -le "$UPDATES" ] || { echo "train-throughput: error: FROM_UPDATE ($FROM) is after the last update ($UPDATES)" >&2; exit 2; }
for ((i = 1; i <= $#; ++i)); do
  [ ! -e "$OUT/$i" ] || { echo "train-throughput: error: $OUT/$i exists already: give a fresh OUT_DIR" >&2; exit 2; }
done
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"

# The value of [section] key in the resolved spec $resolved.
value() {
  awk -F' *= *' -v section="$1" -v key="$2" '
    /^\[/ { s = substr($0, 2, length($0) - 2); next }
    s == section && $1 == key { print $2; exit }' <<<"$resolved"
}

echo "| run | rows per update | env steps/s | update samples/s | acting steps/s |"
echo "|---|---|---|---|---|"
n=0
for row in "$@"; do
  n=$((n + 1))
  label="${row%%|*}"
  read -r -a args <<<"${row#*|}"
  # The resolved spec with this row's overrides (its --set pairs) tells the update's size.
  sets=()
  for ((i = 0; i < ${#args[@]}; ++i)); do
    if [ "${args[$i]}" = "--set" ] && [ $((i + 1)) -lt ${#args[@]} ]; then sets+=(--set "${args[$((i + 1))]}"); fi
  done
  resolved="$("$ROOT/shardlab" spec show "$SPEC" "${sets[@]}" 2>/dev/null || true)"
  envs="$(value env num_envs)" steps="$(value train num_steps)" epochs="$(value ppo update_epochs)"
  if [ -z "$envs" ] || [ -z "$steps" ] || [ -z "$epochs" ]; then
    echo "train-throughput: error: cannot resolve $SPEC with '${row#*|}' (see: shardlab spec show $SPEC ...)" >&2
    exit 2
  fi
  rows=$((envs * steps))
  echo "train-throughput: row $n/$#, $label: training $UPDATES update(s) of $rows rows (log: $OUT/$n.log)" >&2
  "$ROOT/shardlab" train "$SPEC" "${args[@]}" --set "train.total_steps=$((rows * UPDATES))" \
    --out "$OUT/$n" >"$OUT/$n.log" 2>&1 || { echo "train-throughput: error: row '$label' failed, see $OUT/$n.log" >&2; exit 1; }
  metrics="$(ls "$OUT/$n"/*/metrics.csv)"
  awk -F, -v label="$label" -v rows="$rows" -v epochs="$epochs" -v from="$FROM" '
      NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
      $col["update"] >= from { acting += $col["time/rollout_s"]; update += $col["time/update_s"]; ++n }
      END { r = rows * n; printf "| %s | %d | %.0f | %.0f | %.0f |\n", label, rows, r / (acting + update), r * epochs / update, r / acting }' "$metrics"
done
