#!/usr/bin/env python3
"""Draws a benchmark run's results as SVG charts, next to its Markdown report.

For each database of the run: requests per second per scenario and target (grouped bars,
at one connection count), and the cost-growth ratios (req/s on the 10x larger database
over req/s on the smaller one, per scenario: 1.0 is a cost that does not grow with the
data). Plain SVG written by hand: no plotting library to install, and the files render
in any browser and on GitHub.

bench.py calls `write(summary, prefix)` after each run; on its own:
    bench/charts.py bench/results/<run>.json      # writes <run>-<db>-rps.svg and -growth.svg
"""

import json
import os
import sys
from html import escape

COLOURS = {
    "current": "#1f77b4",
    "baseline": "#aec7e8",
    "node-fast": "#ff7f0e",
    "floor": "#2ca02c",
    "http-floor": "#98df8a",
}
OTHER = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def _colour(target, others):
    if target in COLOURS:
        return COLOURS[target]
    if target not in others:
        others.append(target)
    return OTHER[(others.index(target)) % len(OTHER)]


def bars(title, groups, series, unit, reference=None):
    """An SVG of grouped bars: groups = [label], series = {target: [value or None]}."""
    width_per_group = 28 * max(1, len(series)) + 24
    left, top, bottom, right = 70, 40, 60, 170
    width = left + width_per_group * len(groups) + right
    height = 320
    plot_h = height - top - bottom
    peak = max([v for vs in series.values() for v in vs if v is not None] + [reference or 0, 1e-9])
    scale = plot_h / (peak * 1.1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14">{escape(title)}</text>']
    # Axis with four ticks.
    for i in range(5):
        value = peak * 1.1 * i / 4
        y = top + plot_h - value * scale
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        label = f"{value:,.0f}" if peak >= 10 else f"{value:.2f}"
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    out.append(f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
               f'text-anchor="middle">{escape(unit)}</text>')
    if reference is not None:
        y = top + plot_h - reference * scale
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#d62728" stroke-dasharray="4 3"/>')
    others = []
    for g, group in enumerate(groups):
        x0 = left + g * width_per_group + 12
        for s, (target, values) in enumerate(series.items()):
            value = values[g]
            if value is None:
                continue
            h = value * scale
            x = x0 + s * 28
            out.append(f'<rect x="{x}" y="{top + plot_h - h:.1f}" width="24" height="{h:.1f}" '
                       f'fill="{_colour(target, others)}"><title>{escape(target)} {escape(group)}: '
                       f'{value:,.2f}</title></rect>')
        out.append(f'<text x="{x0 + 14 * len(series)}" y="{top + plot_h + 16}" '
                   f'text-anchor="middle">{escape(group)}</text>')
    for s, target in enumerate(series):
        y = top + 10 + s * 18
        out.append(f'<rect x="{width - right + 16}" y="{y - 9}" width="12" height="12" '
                   f'fill="{_colour(target, others)}"/>')
        out.append(f'<text x="{width - right + 34}" y="{y + 1}">{escape(target)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def charts(summary, conns=16):
    """{(database, kind): svg} for a run's summary (bench.py's `summarize`)."""
    out = {}
    for db, rows in summary.items():
        picked = {k: r for k, r in rows.items() if r.get("conns") == conns}
        scenarios = [r["scenario"] for r in picked.values()]
        targets = []
        for r in picked.values():
            for t, v in r.items():
                if isinstance(v, dict) and "rps" in v and not t.endswith("-100k") and t not in targets:
                    targets.append(t)
        series = {t: [r.get(t, {}).get("rps") for r in picked.values()] for t in targets}
        out[(db, "rps")] = bars(f"{db}: requests per second, {conns} connections (median)",
                                scenarios, series, "req/s")
        growth = {}
        for t in targets:
            ratios = []
            for r in picked.values():
                small, large = r.get(t, {}).get("rps"), r.get(f"{t}-100k", {}).get("rps")
                ratios.append(large / small if small and large else None)
            if any(v is not None for v in ratios):
                growth[t] = ratios
        if growth:
            out[(db, "growth")] = bars(
                f"{db}: req/s on the 10x database over req/s on the small one (1.0 = cost does not grow)",
                scenarios, growth, "ratio", reference=1.0)
    return out


def write(summary, prefix):
    """Writes `<prefix>-<db>-<kind>.svg` for every chart; returns the paths."""
    paths = []
    for (db, kind), svg in charts(summary).items():
        path = f"{prefix}-{db}-{kind}.svg"
        with open(path, "w") as f:
            f.write(svg)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for run in sys.argv[1:]:
        with open(run) as f:
            summary = json.load(f)["summary"]
        for path in write(summary, os.path.splitext(run)[0]):
            print(path)
