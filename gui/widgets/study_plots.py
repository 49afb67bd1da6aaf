"""Study views in the style of optuna-dashboard, drawn with pyqtgraph from ``study show --json``.

Each ``draw_*`` takes a ``pg.PlotItem`` (or widget) and the study's details dict and
draws one view: optimisation history with the best value so far as a step line,
parameter importances, a slice with a colour key, parallel coordinates, a two-parameter
contour, and the Pareto front of the objective against trial duration. No Optuna here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg

STATE_COLORS = {"complete": "#1f77b4", "pruned": "#ff7f0e", "fail": "#d62728", "running": "#2ca02c", "waiting": "#7f7f7f"}
COLORMAP = "viridis"


def short(key: str) -> str:
    return key.removeprefix("method.params.")


def complete_trials(details: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in details.get("trials", []) if t.get("value") is not None and t["state"] == "complete"]


def style(plot: pg.PlotItem) -> None:
    for name in ("left", "bottom"):
        plot.getAxis(name).setPen(pg.mkPen("#444"))
        plot.getAxis(name).setTextPen(pg.mkPen("#222"))
        plot.getAxis(name).enableAutoSIPrefix(False)
    plot.showGrid(x=True, y=True, alpha=0.2)


def best_so_far_steps(numbers: list[float], values: list[float], maximize: bool) -> tuple[np.ndarray, np.ndarray]:
    """The running best as a step line: flat until a trial improves it, then a vertical jump."""
    x = np.asarray(numbers, dtype=float)
    y = np.asarray(values, dtype=float)
    best = np.maximum.accumulate(y) if maximize else np.minimum.accumulate(y)
    xs = np.repeat(x, 2)[1:]
    ys = np.repeat(best, 2)[:-1]
    return xs, ys


def draw_history(plot: pg.PlotItem, d: dict[str, Any]) -> None:
    plot.clear()
    plot.setLabel("bottom", "trial", color="#222")
    plot.setLabel("left", d.get("metric") or "value", color="#222")
    if plot.legend is None:
        plot.addLegend(offset=(-10, -10), labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 210))
    for state, color in STATE_COLORS.items():
        pts = [t for t in d.get("trials", []) if t["state"] == state and t.get("value") is not None]
        if pts:
            plot.plot([t["number"] for t in pts], [t["value"] for t in pts], pen=None, symbol="o", symbolSize=8,
                      symbolBrush=pg.mkBrush(color), symbolPen=None, name=f"{state} trials")
    complete = complete_trials(d)
    if complete:
        xs, ys = best_so_far_steps([t["number"] for t in complete], [t["value"] for t in complete],
                                   d.get("direction") != "minimize")
        plot.plot(xs, ys, pen=pg.mkPen("#d62728", width=2), name="best so far")


def draw_importances(plot: pg.PlotItem, d: dict[str, Any]) -> str:
    """Draws the bars; returns the note to show above them."""
    plot.clear()
    values = d.get("importances") or {}
    note = d.get("importance_note")
    evaluator = d.get("importance_evaluator") or ""
    sample = d.get("importance_sample") or {}
    sampled = sample.get("used", 0) < sample.get("of", 0)
    on = f" on {sample['used']:,} of {sample['of']:,} complete trials (a random sample)" if sampled else ""
    text = f"Not available: {note}." if note else (f"Optuna's {evaluator}{on}, sums to 1." if values else "")
    if d and d.get("importances_computed") is False:
        text = "Not computed yet (they take a while on a large study)."
    if not values:
        return text
    names = list(values)[::-1]
    heights = [values[n] for n in names]
    plot.addItem(pg.BarGraphItem(x0=0, y=np.arange(len(names)), height=0.6, width=heights, brush="#1f77b4"))
    plot.getAxis("left").setTicks([[(i, short(n)) for i, n in enumerate(names)]])
    plot.setLabel("bottom", "importance", color="#222")
    plot.setXRange(0, max(heights) * 1.1 if heights else 1)
    return text


def _axis_values(trials: list[dict[str, Any]], key: str, space: dict[str, Any]) -> tuple[np.ndarray, list[tuple[float, str]], bool]:
    """A parameter's values on a numeric axis, the tick labels for categories, and log scale."""
    raw = [t["params"].get(key) for t in trials]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)
    if numeric:
        log = bool(space.get(key, {}).get("log")) and all(v > 0 for v in raw)
        return np.array(raw, dtype=float), [], log
    cats = sorted({str(v) for v in raw})
    return np.array([cats.index(str(v)) for v in raw], dtype=float), [(float(i), c) for i, c in enumerate(cats)], False


def _trial_brushes(trials: list[dict[str, Any]]) -> tuple[list[Any], pg.ColorMap, tuple[float, float]]:
    cmap = pg.colormap.get(COLORMAP)
    numbers = np.array([t["number"] for t in trials], dtype=float)
    low, high = (float(numbers.min()), float(numbers.max())) if len(numbers) else (0.0, 1.0)
    span = high - low or 1.0
    return [pg.mkBrush(cmap.map((n - low) / span, mode="qcolor")) for n in numbers], cmap, (low, high if high > low else low + 1)


def draw_slice(widget: pg.PlotWidget, d: dict[str, Any], key: str, color_bar: pg.ColorBarItem | None) -> pg.ColorBarItem | None:
    """Objective against one parameter; points coloured by trial number, with a colour key."""
    plot = widget.getPlotItem()
    plot.clear()
    trials = [t for t in complete_trials(d) if key in t.get("params", {})]
    plot.setLabel("left", d.get("metric") or "value", color="#222")
    plot.setLabel("bottom", short(key), color="#222")
    if not trials:
        return color_bar
    x, ticks, log = _axis_values(trials, key, d.get("space") or {})
    plot.setLogMode(x=log, y=False)
    plot.getAxis("bottom").setTicks([ticks] if ticks else None)
    brushes, cmap, (low, high) = _trial_brushes(trials)
    plot.plot(x, [t["value"] for t in trials], pen=None, symbol="o", symbolSize=9, symbolBrush=brushes, symbolPen=None)
    if color_bar is None:
        color_bar = pg.ColorBarItem(colorMap=cmap, interactive=False, width=12, label="trial")
        plot.layout.addItem(color_bar, 2, 5)
    color_bar.setLevels((low, high))
    return color_bar


def draw_parallel(plot: pg.PlotItem, d: dict[str, Any]) -> list[str]:
    """One vertical axis per parameter and one for the objective; one line per complete trial,
    coloured by its value (yellow = best for a maximised metric). Returns the axis keys."""
    plot.clear()
    trials = complete_trials(d)
    keys = sorted({k for t in trials for k in t.get("params", {})})
    axes = [*keys, "objective"]
    plot.getAxis("bottom").setTicks([[(i, short(k) if k != "objective" else (d.get("metric") or "objective"))
                                      for i, k in enumerate(axes)]])
    plot.getAxis("left").setTicks([[(0.0, "low"), (1.0, "high")]])
    plot.showGrid(x=False, y=False)
    if not trials:
        return axes
    values = np.array([t["value"] for t in trials], dtype=float)
    columns = []
    categories: dict[int, list[tuple[float, str]]] = {}  # axis -> category ticks
    space = d.get("space") or {}
    for axis, key in enumerate(keys):
        present = [t for t in trials if key in t["params"]]
        if len(present) != len(trials):
            column = np.full(len(trials), np.nan)
        else:
            x, ticks, log = _axis_values(trials, key, space)
            column = np.log10(x) if log else x
            if ticks:
                categories[axis] = ticks
        columns.append(column)
    columns.append(values)
    matrix = np.array(columns, dtype=float)  # axes x trials
    lows, highs = np.nanmin(matrix, axis=1), np.nanmax(matrix, axis=1)
    scaled = (matrix - lows[:, None]) / np.where(highs > lows, highs - lows, 1.0)[:, None]
    cmap = pg.colormap.get(COLORMAP)
    span = (values.max() - values.min()) or 1.0
    good = (values - values.min()) / span if d.get("direction") != "minimize" else (values.max() - values) / span
    for i in np.argsort(good):  # best drawn last, on top
        pen = pg.mkPen(cmap.map(float(good[i]), mode="qcolor"), width=2)
        plot.plot(np.arange(len(axes), dtype=float), scaled[:, i], pen=pen, connect="finite")
    for i, key in enumerate(axes):
        plot.addItem(pg.InfiniteLine(pos=i, angle=90, pen=pg.mkPen("#888")))
        if i in categories:  # a categorical axis names its values where they sit
            span_i = (highs[i] - lows[i]) or 1.0
            for value, text in categories[i]:
                label = pg.TextItem(text, color="#333", anchor=(0.5, 0.5), fill=pg.mkBrush(255, 255, 255, 200))
                label.setPos(i, (value - lows[i]) / span_i)
                plot.addItem(label)
            continue
        for y, value in ((0.0, lows[i]), (1.0, highs[i])):
            shown = 10 ** value if key != "objective" and (space.get(key, {}).get("log")) else value
            label = pg.TextItem(_number(shown), color="#333", anchor=(0.5, 1.0 if y == 1.0 else 0.0))
            label.setPos(i, y)
            plot.addItem(label)
    plot.setXRange(-0.3, len(axes) - 0.7)
    plot.setYRange(-0.1, 1.1)
    return axes


def interpolate_grid(x: np.ndarray, y: np.ndarray, z: np.ndarray, size: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse-distance weighting of scattered (x, y, z) on a size x size grid over [0, 1]^2."""
    gx, gy = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    dist = np.sqrt((gx[..., None] - x) ** 2 + (gy[..., None] - y) ** 2) + 1e-6
    weights = 1.0 / dist**2
    return gx, gy, (weights * z).sum(axis=-1) / weights.sum(axis=-1)


def draw_contour(plot: pg.PlotItem, d: dict[str, Any], x_key: str, y_key: str) -> str:
    """The objective over two parameters: an interpolated map, contour lines and the trials."""
    plot.clear()
    trials = [t for t in complete_trials(d) if x_key in t.get("params", {}) and y_key in t.get("params", {})]
    plot.setLabel("bottom", short(x_key), color="#222")
    plot.setLabel("left", short(y_key), color="#222")
    if x_key == y_key:
        return "Pick two different parameters."
    if len(trials) < 3:
        return "Needs at least 3 complete trials with both parameters."
    space = d.get("space") or {}
    coords, ranges = [], []
    for key in (x_key, y_key):
        values, ticks, log = _axis_values(trials, key, space)
        values = np.log10(values) if log else values
        low, high = float(values.min()), float(values.max())
        coords.append((values - low) / ((high - low) or 1.0))
        ranges.append((low, high, log, ticks))
    z = np.array([t["value"] for t in trials], dtype=float)
    _, _, grid = interpolate_grid(coords[0], coords[1], z)
    cmap = pg.colormap.get(COLORMAP)
    image = pg.ImageItem(grid)
    image.setColorMap(cmap)
    image.setRect(0, 0, 1, 1)
    plot.addItem(image)
    for level in np.linspace(z.min(), z.max(), 7)[1:-1]:
        curve = pg.IsocurveItem(data=grid, level=float(level), pen=pg.mkPen("#ffffff", width=1))
        curve.setParentItem(image)
    plot.plot(coords[0], coords[1], pen=None, symbol="o", symbolSize=8, symbolBrush=pg.mkBrush("#ffffff"),
              symbolPen=pg.mkPen("#222"))
    for axis, (low, high, log, ticks) in zip(("bottom", "left"), ranges, strict=True):
        if ticks:
            labels = [((v - low) / ((high - low) or 1.0), text) for v, text in ticks]
        else:
            labels = [(f, _number(10 ** (low + f * (high - low)) if log else low + f * (high - low))) for f in (0.0, 0.5, 1.0)]
        plot.getAxis(axis).setTicks([labels])
    plot.setXRange(0, 1)
    plot.setYRange(0, 1)
    return f"{d.get('metric') or 'objective'}: dark = {z.min():.4f}, bright = {z.max():.4f} (interpolated between trials)"


def pareto_front(points: list[tuple[float, float]], maximize: bool) -> list[int]:
    """Indices of the trials no other trial beats on both the objective and (shorter) duration."""
    front = []
    for i, (value, seconds) in enumerate(points):
        dominated = False
        for j, (other, other_seconds) in enumerate(points):
            if j == i:
                continue
            better = other >= value if maximize else other <= value
            strictly = (other > value if maximize else other < value) or other_seconds < seconds
            if better and other_seconds <= seconds and strictly:
                dominated = True
                break
        if not dominated:
            front.append(i)
    return front


def draw_pareto(plot: pg.PlotItem, d: dict[str, Any]) -> list[int]:
    """Objective against trial duration, the Pareto-optimal trials joined; returns their numbers."""
    plot.clear()
    trials = [t for t in complete_trials(d) if isinstance(t.get("duration_seconds"), (int, float))]
    plot.setLabel("bottom", "trial duration (s)", color="#222")
    plot.setLabel("left", d.get("metric") or "value", color="#222")
    if not trials:
        return []
    maximize = d.get("direction") != "minimize"
    points = [(float(t["value"]), float(t["duration_seconds"])) for t in trials]
    front = pareto_front(points, maximize)
    plot.plot([p[1] for p in points], [p[0] for p in points], pen=None, symbol="o", symbolSize=8,
              symbolBrush=pg.mkBrush("#9ecae1"), symbolPen=None)
    best = sorted(front, key=lambda i: points[i][1])
    plot.plot([points[i][1] for i in best], [points[i][0] for i in best], pen=pg.mkPen("#d62728", width=2),
              symbol="o", symbolSize=10, symbolBrush=pg.mkBrush("#d62728"), symbolPen=None)
    for i in best:
        label = pg.TextItem(f"#{trials[i]['number']}", color="#d62728", anchor=(0, 1))
        label.setPos(points[i][1], points[i][0])
        plot.addItem(label)
    return [trials[i]["number"] for i in best]


def _number(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, float) and math.isfinite(value) else str(value)
