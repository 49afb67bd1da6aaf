"""The Compare page's curves: one plot per picked metric, one colour per run, drawn in batches.

Plots sit in a scrolling ``PlotGrid`` (each keeps a readable height, however many metrics
are picked); the runs' legend is a strip above the grid, outside the data, listing every
run. A final test metric (``test_accuracy``) is drawn as a star per run on its validation
curve's plot (``val_accuracy``), or on a plot of its own when that curve is not picked.
Sparse curves carry markers, so one point shows.

Set-up that stays (a ``PlotItem`` costs tens of ms: axes, menus) is made once per metric,
inside the batches; a redraw (full curves after the overview, smoothing, x axis) gives the
existing curve items new data rather than new items, which spares the scene's add/remove
work. Curves are set a few per event-loop turn with repaints held until the last, so 20
runs of 20 metrics never block the UI at once; when the grid itself changed, the plots then
show one per turn, so their first paint is split too.
"""

from __future__ import annotations

import html
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui.compare_data import Comparison
from gui.metric_kinds import final_partner, is_final, kind, label, order, smoothable
from gui.smoothing import smooth
from gui.widgets.metric_picker import MetricPicker
from gui.widgets.plot_grid import NEXT_TURN_MS, PlotGrid, finite_bounds, log_y, padded_x, padded_y

# Each curve costs ~4 ms of pyqtgraph set-up; one batch stays under this, then the UI breathes.
BATCH_SECONDS = 0.025
MARKER_MAX = 50  # curves with at most this many points carry a marker on each


@dataclass
class _CurveJob:
    key: tuple[str, str]  # (metric, run id)
    plot_key: str  # the plot it goes on
    x: np.ndarray
    y: np.ndarray
    color: QColor
    smoothing: float
    final: bool


def style_plot(plot: pg.PlotItem, *, grid: bool = True) -> None:
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen("#444"))
        axis.setTextPen(pg.mkPen("#222"))
        axis.enableAutoSIPrefix(False)
        # Axes replay their tick labels as a QPicture on every paint, re-shaping the text each
        # time (most of a repaint here); a pixmap cache redraws them only when they change.
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    if grid:
        plot.showGrid(x=True, y=True, alpha=0.2)


def plot_keys(picked: set[str], present: set[str]) -> dict[str, str]:
    """metric -> the plot it is drawn on: its own, or its validation curve's for a final one."""
    out = {}
    for metric in sorted(picked & present, key=order):
        partner = final_partner(metric)
        out[metric] = partner if is_final(metric) and partner in picked and partner in present else metric
    return out


class ComparisonPlots(QWidget):
    drawn = Signal()  # the last batch of a draw() is on the plots

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.picker = MetricPicker("compare")
        self.legend = QLabel("")
        self.legend.setObjectName("runLegend")
        self.legend.setWordWrap(True)
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.grid = PlotGrid("w")
        # No grid lines on the curves' plots: alpha-blended grid lines are about a third of a
        # paint with 20 runs (right-click > Grid turns them on).
        self.grid.style_plot = lambda plot: style_plot(plot, grid=False)
        self.grid.log_changed.connect(self._refit)
        self.grid.follow_requested.connect(self._refit)
        self.grid.export_legend = lambda: self._legend_entries
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.legend)
        layout.addWidget(self.grid, 1)
        # (metric, run id) -> [curve, faint raw curve behind a smoothed one, or None]
        self._items: dict[tuple[str, str], list[Any]] = {}
        self._jobs: deque[_CurveJob] = deque()
        self._ranges: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}
        self._legend_entries: list[tuple[str, str]] = []
        self._shown: dict[tuple[str, str], _CurveJob] = {}
        self._order: list[str] = []
        self._titles: dict[str, str] = {}
        self._x_label = "step"
        self._generation = 0
        self._on_grid: list[str] = []  # the grid's plots when the current draw() began

    @property
    def plot_items(self) -> dict[str, pg.PlotItem]:
        """The plots on show, by key (a metric name)."""
        return {k: self.grid.plots[k] for k in self.grid.order}

    def draw(self, comp: Comparison, colors: dict[str, QColor], *, wall_time: bool, smoothing: float,
             keep_view: bool = False) -> None:
        """Lays out the picked metrics' plots; plots and curves follow in batches (``drawn``).

        ``keep_view``: plots the person zoomed or panned keep that view."""
        views = {k: p.getViewBox().viewRange() for k, p in self.plot_items.items()} if keep_view else {}
        self._generation += 1
        self._jobs.clear()
        for plot in self.grid.plots.values():  # (an earlier draw may have left some unrevealed)
            plot.setOpacity(1.0)
        self._on_grid = self.grid.order
        names = comp.metric_names()
        self.picker.set_names(names)
        keys = plot_keys(self.picker.picked, set(names))
        x_key = "walls" if wall_time else "steps"
        present = [(metric, run, curve) for metric in keys for run in comp.runs
                   if (curve := comp.curves.get(run["id"], {}).get(metric)) is not None and len(curve.values)]
        self._legend_entries = [(r["name"], colors[r["id"]].name()) for r in comp.runs]
        self.legend.setText("&nbsp;&nbsp; ".join(
            f"<span style='color:{c}'>━━</span>&nbsp;{html.escape(n)}" for n, c in self._legend_entries)
            + "&nbsp;&nbsp; <span style='color:#555'>★ final test value</span>")
        wanted = {(metric, run["id"]): keys[metric] for metric, run, _ in present}
        shown = set(wanted.values())
        run_ids = {r["id"] for r in comp.runs}
        for key, job in list(self._shown.items()):
            if wanted.get(key) == job.plot_key:
                continue  # drawn again below, on the same plot
            if key not in wanted and job.plot_key not in shown and key[1] in run_ids:
                continue  # unpicked with its plot: kept off the grid, ready if picked again (removing is slow)
            curve, faint = self._items.pop(key)
            del self._shown[key]
            plot = self.grid.plots.get(job.plot_key)
            for item in (curve, faint):
                if item is not None and plot is not None:
                    plot.removeItem(item)
        for metric, run, curve in present:
            self._jobs.append(_CurveJob((metric, run["id"]), keys[metric], getattr(curve, x_key), curve.values,
                                        colors[run["id"]], smoothing if smoothable(metric) else 0.0, is_final(metric)))
        order_keys = list(dict.fromkeys(keys[m] for m, _, _ in present))
        self._titles = {k: k + "".join(f"   ★ {m}" for m in keys if keys[m] == k and m != k) for k in order_keys}
        self._x_label = "wall time (s)" if wall_time else "step"
        self._ranges = {}
        for plot_key in order_keys:
            jobs = [j for j in self._jobs if j.plot_key == plot_key]
            self._ranges[plot_key] = views.get(plot_key) or self._fit(jobs, plot_key)
        self._order = order_keys
        generation = self._generation
        # No repaint between batches (each costs a full scene paint, ~25 ms): the plots show once, whole.
        self.grid.view.setUpdatesEnabled(False)
        self.grid.set_order([k for k in order_keys if k in self.grid.plots])
        QTimer.singleShot(NEXT_TURN_MS, self, lambda: self._draw_batch(generation))

    def _fit(self, jobs: list[_CurveJob], plot_key: str) -> tuple[tuple[float, float], tuple[float, float]] | None:
        plot = self.grid.plots.get(plot_key)
        log = log_y(plot) if plot is not None else self.grid.log_all
        x, y = finite_bounds([j.x for j in jobs]), finite_bounds([j.y for j in jobs], log=log)
        if x is None or y is None:
            return None
        return padded_x(x), padded_y(y)

    def _plot(self, plot_key: str) -> pg.PlotItem:
        made = plot_key in self.grid.plots
        plot = self.grid.plot(plot_key, label(plot_key))
        if not made:
            plot.setLabel("left", kind(plot_key), color="#222")
            # Into the grid now, in this batch (each addition re-lays out the grid: 18 at the end
            # would stall the UI at once).
            self.grid.set_order([k for k in self._order if k in self.grid.plots])
        title = self._titles.get(plot_key, plot_key)
        if getattr(plot, "title_text", None) != title:  # (a new title re-lays out the plot)
            plot.setTitle(title, color="#222", size="11pt")
            plot.title_text = title
        if plot.getAxis("bottom").labelText != self._x_label:  # a new label repaints the axis
            plot.setLabel("bottom", self._x_label, color="#222")
        view = self._ranges.pop(plot_key, None)
        if view is not None:
            # Set the final range now and hold it while the batches arrive: with auto-range on,
            # each added curve re-ranged the plot and made every earlier curve downsample again.
            plot.getViewBox().disableAutoRange()
            plot.getViewBox().setRange(xRange=view[0], yRange=view[1], padding=0)
            plot.getViewBox().prepareForPaint()
        return plot

    def _draw_batch(self, generation: int) -> None:
        if generation != self._generation:  # a newer draw() took over
            return
        deadline = time.perf_counter() + BATCH_SECONDS
        while self._jobs and time.perf_counter() < deadline:
            self._set_curve(self._jobs.popleft())
        if self._jobs:
            QTimer.singleShot(NEXT_TURN_MS, self, lambda: self._draw_batch(generation))
            return
        for key in list(self._ranges):  # plots whose range changed but got no new curve
            self._plot(key)
        self.grid.set_order(self._order)
        # When the grid changed (plots added, removed, moved to other cells: new sizes, so every
        # curve is downsampled again), the plots on screen show one per event-loop turn, top
        # row first: the first paint of nine plots of 20 runs at once held the UI ~80 ms of
        # CPU (measured). (Transparent, they keep their place in the layout and are not
        # painted; those scrolled out of view are painted when they come into it.)
        changed = self._order != self._on_grid
        hidden = [self.grid.plots[k] for k in self._order if changed and self.grid.on_screen(k)]
        for plot in hidden:
            plot.setOpacity(0.0)
        self.grid.view.setUpdatesEnabled(True)
        self._reveal(hidden, generation)

    def _reveal(self, hidden: list[pg.PlotItem], generation: int) -> None:
        """The next plot shows; ``drawn`` goes with the last, before its paint (as a draw
        with nothing to reveal announces itself before its one paint)."""
        if generation != self._generation:  # a newer draw() took over (and showed them all)
            return
        if hidden:
            hidden.pop(0).setOpacity(1.0)
        if hidden:
            QTimer.singleShot(NEXT_TURN_MS, self, lambda: self._reveal(hidden, generation))
            return
        self.drawn.emit()

    def _set_curve(self, job: _CurveJob) -> None:
        plot = self._plot(job.plot_key) if job.plot_key in self._ranges or job.plot_key not in self.grid.plots \
            else self.grid.plots[job.plot_key]
        self._shown[job.key] = job
        curve, faint = self._items.get(job.key, (None, None))
        if job.final:
            x, y = job.x[-1:], job.y[-1:]
            if curve is None:
                curve = plot.plot(x, y, pen=None, symbol="star", symbolSize=13, symbolBrush=job.color,
                                  symbolPen=pg.mkPen("#222"))
            else:
                curve.setData(x, y)
            self._items[job.key] = [curve, None]
            return
        y = smooth(job.y, job.smoothing) if job.smoothing > 0 else job.y
        if job.smoothing > 0:
            if faint is None:
                color = QColor(job.color)
                color.setAlpha(50)
                faint = plot.plot(job.x, job.y, pen=pg.mkPen(color, width=1), autoDownsampleFactor=1.0)
                faint.setZValue(-1)  # behind the smoothed curves
            else:
                faint.setData(job.x, job.y)
            faint.curve.getPath()
            faint.curve.boundingRect()
        elif faint is not None:
            plot.removeItem(faint)
            faint = None
        marked = len(job.x) <= MARKER_MAX
        symbol = {"symbol": "o", "symbolSize": 5, "symbolBrush": job.color, "symbolPen": None} if marked else {"symbol": None}
        if curve is None:
            # 1-pixel pens: wider ones take Qt's slow raster path (12 ms per 10,000-point curve).
            # autoDownsampleFactor 1: peak downsampling keeps each pixel column's min and max anyway.
            curve = plot.plot(job.x, y, pen=pg.mkPen(job.color, width=1), autoDownsampleFactor=1.0, **symbol)
        else:
            curve.setData(job.x, y, **symbol)
        # path and bounds built now, in this batch, not for all the curves at once in the first paint
        curve.curve.getPath()
        curve.curve.boundingRect()
        self._items[job.key] = [curve, faint]

    def _refit(self, plot_key: str) -> None:
        """After a log toggle or "A": a range that shows every point of the plot."""
        plot = self.grid.plots.get(plot_key)
        jobs = [j for k, j in self._shown.items() if j.plot_key == plot_key]
        view = self._fit(jobs, plot_key) if plot is not None else None
        if view is not None:
            plot.getViewBox().disableAutoRange()
            plot.getViewBox().setRange(xRange=view[0], yRange=view[1], padding=0)

    def export(self, fmt: str, key: str | None = None) -> bytes:
        for plot in self.grid.plots.values():  # every plot, even one still waiting to show
            plot.setOpacity(1.0)
        return self.grid.export(fmt, key)
