#!/usr/bin/env python3
"""Draws columns of a run's metrics.csv against global_step as an SVG (no dependencies).

usage: scripts/plot_metrics.py RUN_DIR/metrics.csv OUT.svg [COLUMN ...]
       (default columns: charts/cheese_rate charts/corner_rate)
Each column is smoothed with a running mean over 10 updates (weighted by charts/episodes when present).
"""
import csv
import sys

COLOURS = ["#1f5fbf", "#d0451b", "#2a9d3a", "#7b3fa0"]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, out = sys.argv[1], sys.argv[2]
    columns = sys.argv[3:] or ["charts/cheese_rate", "charts/corner_rate"]
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{path}: no rows")
    for c in columns:
        if c not in rows[0]:
            sys.exit(f"{path}: no column {c!r}")

    def number(text):
        try:
            v = float(text)
            return v if v == v else None
        except ValueError:
            return None

    steps = [float(r["global_step"]) for r in rows]
    weights = [number(r.get("charts/episodes", "1")) or 0.0 for r in rows]
    series = []
    for c in columns:
        values = [number(r[c]) for r in rows]
        smooth = []
        for i in range(len(values)):
            window = [(v, w) for v, w in zip(values[max(0, i - 9): i + 1], weights[max(0, i - 9): i + 1]) if v is not None]
            total = sum(w for _, w in window)
            smooth.append(sum(v * w for v, w in window) / total if total > 0 else None)
        series.append(smooth)
    finite = [v for s in series for v in s if v is not None]
    lo, hi = min(0.0, min(finite)), max(1.0, max(finite))
    width, height, left, bottom, top, right = 640, 360, 60, 40, 20, 170
    x = lambda s: left + (s - steps[0]) / max(1.0, steps[-1] - steps[0]) * (width - left - right)
    y = lambda v: top + (hi - v) / (hi - lo) * (height - top - bottom)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    for k in range(6):
        v = lo + (hi - lo) * k / 5
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.1f}</text>')
    for k in range(5):
        s = steps[0] + (steps[-1] - steps[0]) * k / 4
        parts.append(f'<text x="{x(s):.1f}" y="{height - bottom + 16}" text-anchor="middle">{s / 1e6:.1f}M</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 6}" text-anchor="middle">environment steps</text>')
    for i, (c, s) in enumerate(zip(columns, series)):
        points = " ".join(f"{x(st):.1f},{y(v):.1f}" for st, v in zip(steps, s) if v is not None)
        colour = COLOURS[i % len(COLOURS)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        parts.append(f'<text x="{width - right + 10}" y="{top + 16 + 18 * i}" fill="{colour}">{c}</text>')
    parts.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(parts) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
