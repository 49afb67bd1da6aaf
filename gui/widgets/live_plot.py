"""Live metric plots: one plot per metric group, redrawn at most ~20 times a second.

The plot observes a ``RunSession``: when series grow it only marks them dirty; a
single-shot timer coalesces bursts and redraws the dirty curves with views of the
session's arrays (no copies). Curves clip to the view and downsample with pyqtgraph's
``peak`` method, which keeps each bucket's min and max, so a spike is never hidden. The
full-resolution data stays in the session and the store.

Ranges follow the data in steps (the x range grows by a quarter at a time, the y range
only when a point falls outside or the data shrinks well inside it) instead of
pyqtgraph's auto-range on every frame: axes then keep their cached pictures and most
frames only repaint the curves. Zooming or panning by hand stops following; the "A"
button in a plot's corner resumes it.

Smoothing is an exponential moving average (debiased, as TensorBoard's), drawn over a
faint raw curve; it is updated incrementally as points arrive.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.run_session import RunSession, Series

REDRAW_MS = 50  # at most 20 redraws a second
X_HEADROOM = 1.25  # the x range grows to 125% of the data's extent when points pass its end
Y_MARGIN = 0.08
COLUMNS = 2
_GROUPS = (("loss", "loss"), ("acc", "accuracy"), ("f1", "F1"), ("precision", "precision"), ("recall", "recall"))


_ORDER = ("loss", "accuracy", "F1", "precision", "recall", "learning rate")


def group_order(group: str) -> tuple[int, str]:
    """Loss first, then accuracy, F1, ...; other groups after them by name."""
    return (_ORDER.index(group), "") if group in _ORDER else (len(_ORDER), group)


def metric_group(name: str) -> str:
    """Metrics that share a plot: train_loss and val_loss, val_accuracy and test_accuracy, ..."""
    lower = name.lower()
    for needle, group in _GROUPS:
        if needle in lower:
            return group
    if lower in ("lr", "learning_rate") or lower.endswith("_lr") or "learning_rate" in lower:
        return "learning rate"
    return name


class _Smoother:
    """Incremental debiased EMA of one series (NaNs carry the last value forward)."""

    def __init__(self, weight: float):
        self.weight = weight
        self.done = 0
        self.state = 0.0
        self.last = math.nan
        self.out = np.empty(0)

    def update(self, values: np.ndarray) -> np.ndarray:
        n = len(values)
        if n < self.done:  # series replaced: start again
            self.__init__(self.weight)  # type: ignore[misc]
        if n > self.done:
            new = np.array(values[self.done : n], dtype=np.float64)
            finite = np.isfinite(new)
            if not finite.all():  # carry the last finite value over gaps
                index = np.maximum.accumulate(np.where(finite, np.arange(len(new)), -1))
                lead = self.last if math.isfinite(self.last) else 0.0
                new = np.where(index >= 0, new[np.maximum(index, 0)], lead)
            a = self.weight
            from scipy.signal import lfilter  # only when smoothing is on

            raw, zf = lfilter([1.0 - a], [1.0, -a], new, zi=[a * self.state])
            self.state = float(zf[0]) / a if a else float(raw[-1])
            index = np.arange(self.done + 1, n + 1, dtype=np.float64)
            smoothed = raw / (1.0 - a**index) if a else raw
            self.out = np.concatenate([self.out, smoothed]) if self.done else smoothed
            self.done = n
            self.last = float(new[-1])
        return self.out


class _Curve:
    def __init__(self, plot: pg.PlotItem, name: str, color: QColor):
        self.name = name
        faint = QColor(color)
        faint.setAlpha(70)
        options = {"clipToView": True, "autoDownsample": True, "downsampleMethod": "peak", "skipFiniteCheck": True}
        self.faint = plot.plot(pen=pg.mkPen(faint, width=1), **options)
        # Width 1: wider lines take Qt's slow path in software rendering (several ms a frame).
        self.main = plot.plot(pen=pg.mkPen(color, width=1), name=name, **options)
        self.faint.setVisible(False)
        self.smoother: _Smoother | None = None


class LivePlot(QWidget):
    """Plots of one session's metrics, with smoothing, x by step or wall time and a crosshair."""

    redrawn = Signal()  # after each redraw (tests and benchmarks count them)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: RunSession | None = None
        self.smoothing = 0.0
        self.x_mode = "step"  # or "wall"
        self.redraws = 0
        self._plots: dict[str, pg.PlotItem] = {}
        self._follow: dict[str, bool] = {}
        self._curves: dict[str, _Curve] = {}
        self._dirty: set[str] = set()
        self._wall_origin: float | None = None
        self.view = pg.GraphicsLayoutWidget()
        self.readout = QLabel("Move the mouse over a plot to read values.")
        self.readout.setObjectName("plotReadout")
        self.empty = QLabel("No metrics yet: they appear here as the engine reports them.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.readout)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        self._mouse = pg.SignalProxy(self.view.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse)
        self._apply_palette()

    # --- the session --------------------------------------------------------------------
    def set_session(self, session: RunSession | None) -> None:
        if self.session is not None:
            try:
                self.session.metrics_changed.disconnect(self._on_metrics)
            except (RuntimeError, TypeError):
                pass
        self.session = session
        self._clear()
        if session is not None:
            session.metrics_changed.connect(self._on_metrics)
            self._on_metrics(set(session.series))
            self.redraw()

    def _clear(self) -> None:
        self.view.clear()
        self._plots.clear()
        self._follow.clear()
        self._curves.clear()
        self._dirty.clear()
        self._wall_origin = None
        self.empty.setVisible(True)
        self.readout.setText("Move the mouse over a plot to read values.")

    def _on_metrics(self, names: set[str]) -> None:
        self._dirty |= names
        if not self._timer.isActive():
            self._timer.start()

    # --- settings -----------------------------------------------------------------------
    def set_smoothing(self, weight: float) -> None:
        self.smoothing = min(max(weight, 0.0), 0.999)
        for curve in self._curves.values():
            curve.smoother = None
        self._redraw_all()

    def set_x_mode(self, mode: str) -> None:
        self.x_mode = mode
        label = "wall time (s)" if mode == "wall" else "step"
        for plot in self._plots.values():
            plot.setLabel("bottom", label)
        self._redraw_all()
        for group in self._plots:
            self.follow(group)

    def _redraw_all(self) -> None:
        if self.session is not None:
            self._dirty |= set(self.session.series)
        self.redraw()

    # --- drawing ------------------------------------------------------------------------
    def plot_for(self, group: str) -> pg.PlotItem:
        plot = self._plots.get(group)
        if plot is None:
            plot = pg.PlotItem()
            plot.setTitle(group)
            plot.setLabel("left", group)
            plot.setLabel("bottom", "wall time (s)" if self.x_mode == "wall" else "step")
            # No grid by default: alpha-blended grid lines cost ~7 ms a frame per axis in software
            # rendering (right-click > Grid turns it on).
            # Rising curves (accuracy, F1, ...) end top-right: their legend goes bottom-right.
            rising = group in ("accuracy", "F1", "precision", "recall")
            plot.addLegend(offset=(-10, -10) if rising else (-10, 10))
            plot.setClipToView(True)
            plot.disableAutoRange()
            self._follow[group] = True
            plot.vb.sigRangeChangedManually.connect(lambda *_a, g=group: self._follow.__setitem__(g, False))
            plot.autoBtn.clicked.connect(lambda *_a, g=group: self.follow(g))
            plot.setDownsampling(auto=True, mode="peak")
            if self._plots:
                plot.setXLink(next(iter(self._plots.values())))
            plot.crosshair = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((128, 128, 128), width=1))
            plot.crosshair.setVisible(False)  # until the mouse is over a plot
            plot.addItem(plot.crosshair, ignoreBounds=True)
            for side in ("left", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)  # "(x0.001)" on an accuracy axis reads badly
            self._plots[group] = plot
            self._style_plot(plot)
            self._relayout()
            self.empty.setVisible(False)
        return plot

    def _relayout(self) -> None:
        """Plots in a fixed order (loss, accuracy, ...) whatever order their metrics arrived in."""
        layout = self.view.ci
        for plot in self._plots.values():
            if plot in layout.items:
                layout.removeItem(plot)
        for index, group in enumerate(sorted(self._plots, key=group_order)):
            layout.addItem(self._plots[group], row=index // COLUMNS, col=index % COLUMNS)

    def curve_for(self, name: str) -> _Curve:
        curve = self._curves.get(name)
        if curve is None:
            plot = self.plot_for(metric_group(name))
            color = pg.intColor(len(self._curves), hues=9, values=1, maxValue=220, minValue=150)
            curve = self._curves[name] = _Curve(plot, name, color)
        return curve

    def x_values(self, series: Series) -> np.ndarray:
        if self.x_mode != "wall":
            return series.steps
        walls = series.walls
        if self._wall_origin is None and len(walls):
            first = float(walls[0])
            # Absolute Unix times start at the run's start; times since start stay as they are.
            start = self.session.started_at if self.session else first
            self._wall_origin = min(first, start) if first > 1e9 else 0.0
        return walls - (self._wall_origin or 0.0)

    def redraw(self) -> None:
        self._timer.stop()
        if self.session is None:
            self._dirty.clear()
            return
        dirty, self._dirty = self._dirty, set()
        groups = set()
        new_plots = 0
        for name in sorted(dirty):
            series = self.session.series.get(name)
            if series is None or series.size == 0:
                continue
            if metric_group(name) not in self._plots:
                if new_plots:  # one new plot per redraw: each costs ~50-100 ms (axes, menus, layout)
                    self._dirty.add(name)
                    continue
                new_plots += 1
            curve = self.curve_for(name)
            groups.add(metric_group(name))
            x, y = self.x_values(series), series.values
            if self.smoothing > 0:
                if curve.smoother is None:
                    curve.smoother = _Smoother(self.smoothing)
                curve.faint.setData(x, y)
                curve.faint.setVisible(True)
                curve.main.setData(x, curve.smoother.update(y))
            else:
                curve.faint.setVisible(False)
                curve.main.setData(x, y)
        for group in groups:
            if self._follow.get(group):
                self._fit(group)
        self.redraws += 1
        if self._dirty:  # series held back for a plot of their own: next turn
            QTimer.singleShot(0, self, self.redraw)
        self.redrawn.emit()

    # --- ranges ---------------------------------------------------------------------------
    def follow(self, group: str) -> None:
        """Let ``group``'s plot follow its data again (after a zoom or pan by hand)."""
        plot = self._plots.get(group)
        if plot is None:
            return
        plot.disableAutoRange()
        self._follow[group] = True
        self._fit(group, force=True)

    def _data_bounds(self, group: str) -> tuple[float, float, float, float] | None:
        if self.session is None:
            return None
        key = "wall" if self.x_mode == "wall" else "step"
        x0 = y0 = math.inf
        x1 = y1 = -math.inf
        for name, series in self.session.series.items():
            if metric_group(name) != group or not series.size:
                continue
            bx, by = series.bounds[key], series.bounds["value"]
            x0, x1 = min(x0, bx[0]), max(x1, bx[1])
            y0, y1 = min(y0, by[0]), max(y1, by[1])
        if not (math.isfinite(x0) and math.isfinite(y0)):
            return None
        if key == "wall":
            origin = self._wall_origin or 0.0
            x0, x1 = x0 - origin, x1 - origin
        return x0, x1, y0, y1

    def _fit(self, group: str, *, force: bool = False) -> None:
        bounds = self._data_bounds(group)
        if bounds is None:
            return
        x0, x1, y0, y1 = bounds
        plot = self._plots[group]
        (v0, v1), (w0, w1) = plot.vb.viewRange()
        span = max(x1 - x0, 1e-9)
        if force or v0 > x0 or v1 < x1 or (v1 - v0) > 2 * X_HEADROOM * span:
            plot.setXRange(x0, x0 + span * X_HEADROOM, padding=0)
        yspan = y1 - y0 if y1 > y0 else max(abs(y0) * 0.1, 1e-9)
        if force or w0 > y0 or w1 < y1 or (w1 - w0) > 3 * (yspan + 2 * Y_MARGIN * yspan):
            plot.setYRange(y0 - Y_MARGIN * yspan, y1 + Y_MARGIN * yspan, padding=0)

    def point_count(self) -> int:
        """Points currently held by the curves (tests check the plot is fed)."""
        total = 0
        for curve in self._curves.values():
            x, _ = curve.main.getOriginalDataset()
            total += 0 if x is None else len(x)
        return total

    def plot_names(self) -> list[str]:
        return list(self._plots)

    # --- crosshair ----------------------------------------------------------------------
    def _on_mouse(self, args: tuple[Any, ...]) -> None:
        pos = args[0]
        for plot in self._plots.values():
            if plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                self.show_readout(x)
                return

    def show_readout(self, x: float) -> None:
        for plot in self._plots.values():
            plot.crosshair.setPos(x)
            plot.crosshair.setVisible(True)
        if self.session is None:
            return
        parts = []
        for name, series in sorted(self.session.series.items()):
            xs = self.x_values(series)
            if not len(xs):
                continue
            i = int(np.clip(np.searchsorted(xs, x), 0, len(xs) - 1))
            if i > 0 and abs(xs[i - 1] - x) < abs(xs[i] - x):
                i -= 1
            parts.append(f"{name} {series.values[i]:.4g}")
        axis = "wall time" if self.x_mode == "wall" else "step"
        self.readout.setText(f"{axis} {x:.4g}  ·  " + "  ·  ".join(parts))

    # --- palette ------------------------------------------------------------------------
    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        self.view.setBackground(self.palette().color(QPalette.ColorRole.Base))
        for plot in self._plots.values():
            self._style_plot(plot)

    def _style_plot(self, plot: pg.PlotItem) -> None:
        text = self.palette().color(QPalette.ColorRole.Text)
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        plot.titleLabel.setText(plot.titleLabel.text, color=text.name())
        if plot.legend is not None:
            plot.legend.setLabelTextColor(text)
