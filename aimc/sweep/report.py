"""The HTML report of a results store (``aimc report STORE -o report.html``).

One self-contained page, viewable without a network: matplotlib figures inlined as SVG (text kept
as text, every figure's element ids salted apart so that the inlined figures cannot share clip
paths), CSS and a few lines of JavaScript (sortable tables) inline. Sections:

- accuracy versus time after programming, one panel per chip and workload, one line per cell
  (sweep, configuration and compensation setting) with its 95 % confidence band over chip
  instances (Student t, see :mod:`aimc.sweep.runner`) and the digital accuracy dashed; lines are
  labelled with their sweep when the page shows several sweeps, and with their version when one
  sweep holds two grid versions of the same configuration (same parameters, other repeats,
  epochs, seeds or chip spec): the page and stderr warn about those;
- heat maps of the accuracy at the last time over the first two swept parameters (when the store
  holds two), per sweep, chip and workload (mean over any other swept parameter; of a
  configuration stored in several versions, the latest one only);
- energy per inference by component (the cost model's nominal values), with the 90 % interval of
  the total as an error bar;
- per-chip tables of every row.
"""

from __future__ import annotations

import html
import io
import json
import math
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from .store import Store

CSS = """
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1400px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ccc; }
h3 { font-size: 15px; }
.figs { display: flex; flex-wrap: wrap; gap: 12px; }
.fig svg { width: 600px; height: auto; border: 1px solid #eee; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0 16px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #f0f0f0; cursor: pointer; } td.l, th.l { text-align: left; }
.meta { font-size: 12px; color: #555; } .warn { font-size: 13px; color: #a40000; }
"""
JS = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var rows = Array.from(body.rows);
    var key = function (r) { var v = r.cells[th.cellIndex].dataset.v || r.cells[th.cellIndex].textContent;
                             var n = parseFloat(v); return isNaN(n) ? v : n; };
    var dir = th.dataset.dir === "1" ? -1 : 1; th.dataset.dir = dir === 1 ? "1" : "-1";
    rows.sort(function (a, b) { var x = key(a), y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * dir; });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
document.body.dataset.ready = "1";
"""
TIME_NAMES = {1.0: "1 s", 60.0: "1 min", 3600.0: "1 h", 86400.0: "1 day", 2592000.0: "1 month",
              31536000.0: "1 year"}


def _time(t: float) -> str:
    return TIME_NAMES.get(float(t), f"{t:g} s")


def _config(params: dict, compensate: bool, settings: int) -> str:
    text = ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "preset"
    return text + ("" if settings == 1 else (", GDC" if compensate else ", no GDC"))


def _svg(fig, salt: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _swept(rows: list[dict]) -> list[str]:
    """Parameters that take more than one value in ``rows`` (in first-seen order)."""
    values: dict[str, set] = defaultdict(set)
    for r in rows:
        for k, v in r["p"].items():
            values[k].add(json.dumps(v))
    return [k for k, v in values.items() if len(v) > 1]


def _label(r: dict, settings: int, many_sweeps: bool) -> str:
    """A line's label: its sweep (when several are shown), configuration, setting and version."""
    text = _config(r["p"], r["compensate"], settings) + r["version"]
    return f"{r['sweep']}: {text}" if many_sweeps else text


def _accuracy_figure(rows: list[dict], title: str, salt: str, many_sweeps: bool) -> str:
    from matplotlib.figure import Figure

    settings = len({r["compensate"] for r in rows})
    lines: dict[str, list[dict]] = defaultdict(list)  # one line per (sweep, cell, setting)
    for r in rows:
        key = f"\0{r['sweep']}\0{r['cell_key']}\0{r['compensate']}"
        lines[_label(r, settings, many_sweeps) + key].append(r)
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.add_subplot()
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for i, (label, points) in enumerate(sorted(lines.items())):
        points.sort(key=lambda r: r["time_s"])
        t = [max(r["time_s"], 1e-3) for r in points]
        mean = [100 * r["accuracy_mean"] for r in points]
        low = [100 * (r["ci_low"] if r["ci_low"] is not None else r["accuracy_mean"]) for r in points]
        high = [100 * (r["ci_high"] if r["ci_high"] is not None else r["accuracy_mean"]) for r in points]
        color = cmap(i / max(1, len(lines) - 1) * 0.9)
        ax.plot(t, mean, "o-", color=color, label=label.split("\0")[0], markersize=3, linewidth=1.2)
        ax.fill_between(t, low, high, color=color, alpha=0.2, linewidth=0)
    digital = [r["digital_accuracy"] for r in rows if r["digital_accuracy"] is not None]
    if digital:
        ax.axhline(100 * max(set(digital), key=digital.count), color="k", linestyle="--", linewidth=1,
                   label="digital")
    ax.set_xscale("log")
    # plain tick labels: the figures are drawn with mathtext off (user strings may hold '$'),
    # and the log axis's default labels are mathtext
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("time after programming (s)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6, loc="lower left", ncol=2 if len(lines) > 6 else 1)
    return _svg(fig, salt)


def _heatmap_figure(rows: list[dict], p1: str, p2: str, title: str, salt: str) -> str | None:
    from matplotlib.figure import Figure

    rows = [r for r in rows if r["latest"]]  # one version of each configuration, never a mix
    last = max(r["time_s"] for r in rows)
    pick = [r for r in rows if r["time_s"] == last and (r["compensate"] or
                                                        not any(x["compensate"] for x in rows))]
    xs = sorted({json.dumps(r["p"].get(p1)) for r in pick}, key=_order)
    ys = sorted({json.dumps(r["p"].get(p2)) for r in pick}, key=_order)
    if len(xs) < 2 and len(ys) < 2:
        return None
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in pick:
        sums[(json.dumps(r["p"].get(p1)), json.dumps(r["p"].get(p2)))].append(100 * r["accuracy_mean"])
    grid = [[(sum(sums[(x, y)]) / len(sums[(x, y)])) if sums.get((x, y)) else math.nan for x in xs]
            for y in ys]
    fig = Figure(figsize=(4.6, 3.6))
    ax = fig.add_subplot()
    image = ax.imshow(grid, origin="lower", cmap="viridis", aspect="auto")
    import numpy as np

    middle = (np.nanmin(grid) + np.nanmax(grid)) / 2
    for j, row in enumerate(grid):
        for i, v in enumerate(row):
            if not math.isnan(v):
                ax.text(i, j, f"{v:.1f}", ha="center", va="center", fontsize=8,
                        color="white" if v < middle else "black")
    ax.set_xticks(range(len(xs)), [json.loads(x) for x in xs])
    ax.set_yticks(range(len(ys)), [json.loads(y) for y in ys])
    ax.set_xlabel(p1)
    ax.set_ylabel(p2)
    ax.set_title(f"{title}: accuracy (%) at {_time(last)}", fontsize=9)
    fig.colorbar(image, ax=ax, label="accuracy (%)")
    return _svg(fig, salt)


def _order(text: str):
    value = json.loads(text)
    return (0, value, "") if isinstance(value, int | float) else (1, 0, str(value))


def _energy_figure(rows: list[dict], title: str, salt: str, many_sweeps: bool) -> str | None:
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    configs: dict[str, dict] = {}  # one bar per (sweep, cell)
    for r in rows:
        if r["energy_j"] is not None:
            label = _config(r["p"], True, 1) + r["version"]
            configs.setdefault(f"{r['sweep']}: {label}" if many_sweeps else label, r)
    if not configs:
        return None
    labels = sorted(configs)
    breakdown = {c: json.loads(r["energy_breakdown"] or "{}") for c, r in configs.items()}
    parts = list(dict.fromkeys(k for b in breakdown.values() for k in b))
    fig = Figure(figsize=(6.0, 0.5 + 0.32 * len(labels) + 0.8))
    ax = fig.add_subplot()
    left = [0.0] * len(labels)
    cmap = colormaps["tab10"]
    for k, part in enumerate(parts):
        widths = [1e9 * breakdown[c].get(part, 0.0) for c in labels]
        ax.barh(range(len(labels)), widths, left=left, color=cmap(k % 10), label=part, height=0.6)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    nominal = [1e9 * configs[c]["energy_j"] for c in labels]
    err = [[n - 1e9 * configs[c]["energy_low_j"] for n, c in zip(nominal, labels, strict=True)],
           [1e9 * configs[c]["energy_high_j"] - n for n, c in zip(nominal, labels, strict=True)]]
    ax.errorbar(nominal, range(len(labels)), xerr=err, fmt="none", ecolor="k", capsize=3,
                label="total, 90 % interval")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("energy per inference (nJ)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _svg(fig, salt)


def _fmt(x: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "–" if x is None else f"{scale * x:.{digits}g}"


def _table(rows: list[dict], chip: str) -> str:
    head = ["sweep", "model", "parameters", "time", "GDC", "accuracy (%)", "95 % CI (%)", "n",
            "digital (%)", "energy (nJ)", "energy 90 % (nJ)", "latency (µs)", "seed"]
    out = [f'<table class="sortable chip-table" data-chip="{html.escape(chip)}"><thead><tr>']
    out += [f'<th class="{"l" if i < 3 else ""}">{html.escape(h)}</th>' for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for r in sorted(rows, key=lambda r: (r["sweep"], r["model"], r["params"], r["compensate"], r["time_s"])):
        params = ", ".join(f"{k}={v}" for k, v in sorted(r["p"].items())) or "preset"
        ci = (f"{_fmt(r['ci_low'], 100, 4)} – {_fmt(r['ci_high'], 100, 4)}"
              if r["ci_low"] is not None else "–")
        cells = [
            (r["sweep"], None, "l"), (r["model"], None, "l"), (params, None, "l"),
            (_time(r["time_s"]), r["time_s"], ""), ("on" if r["compensate"] else "off", None, ""),
            (_fmt(r["accuracy_mean"], 100, 4), None, ""), (ci, None, ""), (str(r["n"]), None, ""),
            (_fmt(r["digital_accuracy"], 100, 4), None, ""), (_fmt(r["energy_j"], 1e9), None, ""),
            (f"{_fmt(r['energy_low_j'], 1e9)} – {_fmt(r['energy_high_j'], 1e9)}", r["energy_low_j"], ""),
            (_fmt(r["latency_s"], 1e6), None, ""), (str(r["seed"]), None, ""),
        ]
        tds = "".join(f'<td class="{c}"' + (f' data-v="{v}"' if v is not None else "")
                      + f">{html.escape(t)}</td>" for t, v, c in cells)
        out.append(f'<tr class="result" data-cell="{r["cell_key"]}">{tds}</tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _versions(rows: list[dict]) -> list[str]:
    """Mark each row with its configuration's version: a configuration (sweep, chip, model,
    parameters, setting) stored under more than one cell key (the grid was edited under the same
    name: other repeats, epochs, seeds, chip spec) gets ``version`` " [version i of n: ...]" and
    ``latest`` on its newest cell only; returns one warning per such configuration."""
    keys: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for r in rows:  # rows come in insertion order: first seen = oldest
        keys[(r["sweep"], r["chip"], r["model"], r["params"], r["compensate"])].setdefault(r["cell_key"], r)
    version: dict[tuple[str, str], tuple[str, bool]] = {}
    warnings = []
    for (sw, chip, model, params, comp), cells in keys.items():
        n = len(cells)
        for i, (key, r) in enumerate(cells.items(), 1):
            text = f" [version {i} of {n}: {r['repeats']} instances, cell {key[:8]}]" if n > 1 else ""
            version[(sw, key)] = (text, i == n)
        if n > 1:
            warnings.append(f"sweep {sw!r}: {model} on {chip} with {_config(json.loads(params), comp, 2)} "
                            f"is stored in {n} versions (cells {', '.join(k[:8] for k in cells)}: the grid "
                            f"was changed under the same name); they are drawn as separate lines, heat maps "
                            f"use the latest")
    for r in rows:
        r["version"], r["latest"] = version[(r["sweep"], r["cell_key"])]
    return warnings


def render(store: Store | str | Path, sweep: str | None = None, warnings: list[str] | None = None) -> str:
    """The report's HTML text (the store opened read-only); warnings about the store's contents
    (a configuration stored in several versions) are in the page and appended to ``warnings``."""
    import matplotlib

    store = store if isinstance(store, Store) else Store(store, read_only=True)
    rows = store.rows(sweep)
    if not rows:
        raise ValueError(f"store {store.path} holds no rows" + (f" of sweep {sweep!r}" if sweep else "")
                         + f" (sweeps in it: {', '.join(store.sweeps()) or 'none'})")
    for r in rows:
        r["p"] = json.loads(r["params"])
    found = _versions(rows)
    if warnings is not None:
        warnings.extend(found)
    swept = _swept(rows)
    many = len({r["sweep"] for r in rows}) > 1
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["chip"], r["model"])].append(r)
    n_fig = 0

    def salt() -> str:
        nonlocal n_fig
        n_fig += 1
        return f"aimc-report-fig{n_fig}"

    body = ["<h1>aimc sweep report</h1>"]
    versions = sorted({r["code_version"] for r in rows})
    sweeps = sorted({r["sweep"] for r in rows})
    body.append(f'<p class="meta">store <code>{html.escape(str(store.path))}</code>; sweeps: '
                f'{html.escape(", ".join(sweeps))}; {len(rows)} rows of {len({r["cell_key"] for r in rows})} '
                f'cells; code: {html.escape("; ".join(versions))}; swept parameters: '
                f'{html.escape(", ".join(swept) or "none")}; generated '
                f'{datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}. Accuracy: mean over chip instances '
                f'with its 95 % confidence interval (Student t); energy and latency: cost model, '
                f'nominal with its 90 % interval.</p>')
    body += [f'<p class="warn">warning: {html.escape(w)}</p>' for w in found]
    # user strings (chip paths, parameter values) may hold '$': plain text, never mathtext
    with matplotlib.rc_context({"text.parse_math": False}):
        body.append('<h2 id="accuracy">Accuracy versus time</h2><div class="figs">')
        for (chip, model), g in sorted(groups.items()):
            svg = _accuracy_figure(g, f"{model} on {chip}", salt(), many)
            body.append(f'<div class="fig accuracy">{svg}</div>')
        body.append("</div>")
        if len(swept) >= 2:
            p1, p2 = swept[0], swept[1]
            body.append(f'<h2 id="heatmaps">Heat maps: {html.escape(p1)} × {html.escape(p2)}</h2>'
                        '<div class="figs">')
            by_sweep: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
            for r in rows:  # a heat map never averages cells of different sweeps
                by_sweep[(r["sweep"], r["chip"], r["model"])].append(r)
            for (sw, chip, model), g in sorted(by_sweep.items()):
                title = f"{sw}: {model} on {chip}" if many else f"{model} on {chip}"
                svg = _heatmap_figure(g, p1, p2, title, salt())
                if svg:
                    body.append(f'<div class="fig heatmap">{svg}</div>')
            body.append("</div>")
        body.append('<h2 id="energy">Energy per inference by component</h2><div class="figs">')
        for (chip, model), g in sorted(groups.items()):
            svg = _energy_figure(g, f"{model} on {chip}", salt(), many)
            if svg:
                body.append(f'<div class="fig energy">{svg}</div>')
    body.append('</div><h2 id="tables">Tables by chip</h2>')
    by_chip: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_chip[r["chip"]].append(r)
    for chip, g in sorted(by_chip.items()):
        body.append(f"<h3>{html.escape(chip)}</h3>{_table(g, chip)}")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>aimc sweep report</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}<script>{JS}</script></body></html>")


def write_report(store: Store | str | Path, out: str | Path, sweep: str | None = None) -> Path:
    """Write the report of ``store`` (one sweep, or all) to ``out``; returns the path.

    Example:
        >>> write_report("results.db", "report.html")  # doctest: +SKIP
    """
    out = Path(out)
    warnings: list[str] = []
    out.write_text(render(store, sweep, warnings), encoding="utf-8")
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return out
