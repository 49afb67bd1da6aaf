"""The Compare page's curves: one plot per metric, one colour per run, drawn in batches.

Set-up that stays (a ``PlotItem`` costs tens of ms: axes, menus) is made once per set of
metrics and runs; a redraw (full curves after the overview, smoothing, x axis) gives the
existing curve items new data rather than new items, which spares the scene's add/remove
work. Curves are set a few per event-loop turn with repaints held until the last, so 40
curves of 10,000 points never block the UI at once.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem, QWidget

from gui.compare_data import Comparison, smooth
from gui.widgets.live_plot import metric_group

PLOT_COLUMNS = 2
# Each curve costs ~4 ms of pyqtgraph set-up; one batch stays under this, then the UI breathes.
BATCH_SECONDS = 0.025


@dataclass
class _CurveJob:
    key: tuple[str, str]  # (metric, run id)
    plot: pg.PlotItem
    x: np.ndarray
    y: np.ndarray
    color: QColor
    name: str | None
    smoothing: float


def style_plot(plot: pg.PlotItem) -> None:
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen("#444"))
        axis.setTextPen(pg.mkPen("#222"))
        axis.enableAutoSIPrefix(False)
        # Axes replay their tick labels as a QPicture on every paint, re-shaping the text each
        # time (most of a repaint here); a pixmap cache redraws them only when they change.
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    plot.showGrid(x=True, y=True, alpha=0.2)


class ComparisonPlots(pg.GraphicsLayoutWidget):
    drawn = Signal()  # the last batch of a draw() is on the plots

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setBackground("w")
        self.plot_items: dict[str, pg.PlotItem] = {}
        # (metric, run id) -> [curve, faint raw curve behind a smoothed one, or None]
        self._items: dict[tuple[str, str], list[Any]] = {}
        self._jobs: deque[_CurveJob] = deque()
        self._layout_key: tuple = ()
        self._generation = 0

    def draw(self, comp: Comparison, colors: dict[str, QColor], *, wall_time: bool, smoothing: float,
             keep_view: bool = False) -> None:
        """Lays out one plot per metric now; the curves follow in batches (``drawn``).

        ``keep_view``: plots the person zoomed or panned keep that view."""
        # (ranges are held, never auto, once drawn: so the current one is the one to keep)
        views = {metric: plot.getViewBox().viewRange() for metric, plot in self.plot_items.items()} if keep_view else {}
        self._generation += 1
        self._jobs.clear()
        metrics = comp.metric_names()
        x_key = "walls" if wall_time else "steps"
        present = [(metric, run, curve) for metric in metrics for run in comp.runs
                   if (curve := comp.curves.get(run["id"], {}).get(metric)) is not None and len(curve.values)]
        layout_key = (tuple(metrics), tuple((r["id"], r["name"]) for r in comp.runs),
                      tuple((metric, run["id"]) for metric, run, _ in present))
        if layout_key != self._layout_key:  # other metrics or runs: new plots and items
            self._lay_out(metrics, len(comp.runs))
            self._layout_key = layout_key
        x_label = "wall time (s)" if wall_time else "step"
        for plot in self.plot_items.values():
            if plot.getAxis("bottom").labelText != x_label:  # a new label repaints the axis
                plot.setLabel("bottom", x_label, color="#222")
        for metric, run, curve in present:
            plot = self.plot_items[metric]
            name = run["name"] if plot.legend is not None else None
            self._jobs.append(_CurveJob((metric, run["id"]), plot, getattr(curve, x_key), curve.values,
                                        colors[run["id"]], name, smoothing))
        for metric, plot in self.plot_items.items():
            if metric in views:
                (x0, x1), (y0, y1) = views[metric]
                plot.getViewBox().setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
            else:
                # Set the final range now and hold it while the batches arrive: with auto-range on,
                # each added curve re-ranged the plot and made every earlier curve downsample again.
                _set_range(plot, [j for j in self._jobs if j.plot is plot])
        for plot in self.plot_items.values():
            # The view boxes settle their transforms now, so each curve downsamples once, in its
            # batch, for the final view (not again in the first paint, which then asked for more).
            plot.getViewBox().prepareForPaint()
        generation = self._generation
        # No repaint between batches (each costs a full scene paint, ~25 ms): the plots show once, whole.
        self.setUpdatesEnabled(False)
        QTimer.singleShot(0, self, lambda: self._draw_batch(generation))

    def _lay_out(self, metrics: list[str], n_runs: int) -> None:
        self.clear()
        self.plot_items = {}
        self._items = {}
        for index, metric in enumerate(metrics):
            plot = self.addPlot(row=index // PLOT_COLUMNS, col=index % PLOT_COLUMNS)
            plot.setTitle(metric, color="#222", size="11pt")
            plot.setLabel("left", metric_group(metric), color="#222")
            style_plot(plot)
            # A fixed width: an axis that sizes itself to its tick labels re-lays out the plot
            # after its first paint, and every curve downsamples and paints again.
            plot.getAxis("left").setWidth(56)
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            if index == 0:
                legend = plot.addLegend(offset=(-10, 10), labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 210))
                legend.setColumnCount(1 if n_runs <= 10 else 2)
            self.plot_items[metric] = plot

    def _draw_batch(self, generation: int) -> None:
        if generation != self._generation:  # a newer draw() took over
            return
        deadline = time.perf_counter() + BATCH_SECONDS
        while self._jobs and time.perf_counter() < deadline:
            self._set_curve(self._jobs.popleft())
        if self._jobs:
            QTimer.singleShot(0, self, lambda: self._draw_batch(generation))
            return
        self.setUpdatesEnabled(True)
        self.drawn.emit()

    def _set_curve(self, job: _CurveJob) -> None:
        curve, faint = self._items.get(job.key, (None, None))
        y = smooth(job.y, job.smoothing) if job.smoothing > 0 else job.y
        if job.smoothing > 0:
            if faint is None:
                color = QColor(job.color)
                color.setAlpha(50)
                faint = job.plot.plot(job.x, job.y, pen=pg.mkPen(color, width=1), autoDownsampleFactor=1.0)
                faint.setZValue(-1)  # behind the smoothed curves
            else:
                faint.setData(job.x, job.y)
            faint.curve.getPath()
            faint.curve.boundingRect()
        elif faint is not None:
            job.plot.removeItem(faint)
            faint = None
        if curve is None:
            # 1-pixel pens: wider ones take Qt's slow raster path (12 ms per 10,000-point curve).
            # autoDownsampleFactor 1: peak downsampling keeps each pixel column's min and max anyway.
            curve = job.plot.plot(job.x, y, pen=pg.mkPen(job.color, width=1), name=job.name, autoDownsampleFactor=1.0)
        else:
            curve.setData(job.x, y)
        # path and bounds built now, in this batch, not for all 40 curves at once in the first paint
        curve.curve.getPath()
        curve.curve.boundingRect()
        self._items[job.key] = [curve, faint]


def _set_range(plot: pg.PlotItem, jobs: list[Any]) -> None:
    def span(arrays: list[np.ndarray]) -> tuple[float, float] | None:
        finite = [a[np.isfinite(a)] for a in arrays]
        finite = [a for a in finite if a.size]
        if not finite:
            return None
        return min(float(a.min()) for a in finite), max(float(a.max()) for a in finite)

    x, y = span([j.x for j in jobs]), span([j.y for j in jobs])
    if x is None or y is None:
        return
    box = plot.getViewBox()
    box.disableAutoRange()
    box.setRange(xRange=x, yRange=y)
