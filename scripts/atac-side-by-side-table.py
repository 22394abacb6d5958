#!/usr/bin/python3
"""The table of scripts/atac-side-by-side.sh: reads OUT/lightatac_seedS.csv (scripts/lightatac-run.py)
and OUT/runs/shardlab_seedS/metrics.csv (`shardlab offline`), writes OUT/curves.csv (one row per
implementation, seed and step) and OUT/table.md (per step: mean [min, max] over seeds of each; then
how many cells' seed ranges overlap, and at the last step each metric's difference of means with
Welch's t), and prints it."""
import argparse
import csv
import math
import os
import statistics

METRICS = [("q_data", "losses/q_data", "Q(s, a)"), ("q_policy", "losses/q_policy", "Q_2(s, a_pi)"),
           ("entropy", "losses/entropy", "entropy"), ("alpha", "charts/alpha", "alpha")]


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def curves(out, seeds):
    """{(implementation, seed): {step: {metric: value}}}"""
    result = {}
    for seed in seeds:
        light = {}
        for row in read_rows(os.path.join(out, f"lightatac_seed{seed}.csv")):
            light[int(row["step"])] = {m: float(row[m]) for m, _, _ in METRICS}
        result[("lightATAC", seed)] = light
        ours = {}
        for row in read_rows(os.path.join(out, "runs", f"shardlab_seed{seed}", "metrics.csv")):
            if not row.get("losses/q_data"):
                continue  # an evaluation-only row
            ours[int(row["global_step"])] = {m: float(row[column]) for m, column, _ in METRICS}
        result[("shardlab", seed)] = ours
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", nargs="+", required=True)
    args = p.parse_args()
    data = curves(args.out, args.seeds)
    with open(os.path.join(args.out, "curves.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["implementation", "seed", "step"] + [m for m, _, _ in METRICS])
        for (impl, seed), rows in sorted(data.items()):
            for step, values in sorted(rows.items()):
                w.writerow([impl, seed, step] + [f"{values[m]:.6g}" for m, _, _ in METRICS])

    steps = sorted(set.intersection(*[set(rows) for rows in data.values()]))
    header = "| step | " + " | ".join(f"{label} lightATAC | {label} shardlab" for _, _, label in METRICS) + " |"
    lines = [header, "|---" * (1 + 2 * len(METRICS)) + "|"]
    overlap = cells = 0
    for step in steps:
        cells_text = []
        for m, _, _ in METRICS:
            ranges = []
            for impl in ("lightATAC", "shardlab"):
                values = [data[(impl, s)][step][m] for s in args.seeds]
                lo, hi, mean = min(values), max(values), sum(values) / len(values)
                ranges.append((lo, hi))
                cells_text.append(f"{mean:.2f} [{lo:.2f}, {hi:.2f}]")
            cells += 1
            overlap += ranges[0][0] <= ranges[1][1] and ranges[1][0] <= ranges[0][1]
        lines.append(f"| {step} | " + " | ".join(cells_text) + " |")
    table = "\n".join(lines) + "\n"
    summary = (f"{overlap} of {cells} (step, metric) cells have overlapping seed ranges "
               f"(seeds {' '.join(args.seeds)}).\n")
    if len(args.seeds) > 1:
        last = steps[-1]
        summary += f"\nAt step {last}, shardlab minus lightATAC (mean over seeds; Welch's t):\n\n"
        summary += "| metric | lightATAC mean (sd) | shardlab mean (sd) | difference | t |\n|---|---|---|---|---|\n"
        for m, _, label in METRICS:
            light = [data[("lightATAC", s)][last][m] for s in args.seeds]
            ours = [data[("shardlab", s)][last][m] for s in args.seeds]
            diff = statistics.mean(ours) - statistics.mean(light)
            se = math.sqrt(statistics.variance(ours) / len(ours) + statistics.variance(light) / len(light))
            t = diff / se if se > 0 else float("nan")
            summary += (f"| {label} | {statistics.mean(light):.3f} ({statistics.stdev(light):.3f}) | "
                        f"{statistics.mean(ours):.3f} ({statistics.stdev(ours):.3f}) | {diff:+.3f} | {t:+.1f} |\n")
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(table + "\n" + summary)
    print(table)
    print(summary, end="")


if __name__ == "__main__":
    main()
