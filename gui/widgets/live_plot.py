"""Live metric plots: one plot per metric family, redrawn at most ~20 times a second.

The plot observes a ``RunSession``: when series grow it only marks them dirty; a
single-shot timer coalesces bursts and redraws the dirty curves with views of the
session's arrays (no copies). Curves clip to the view and downsample with pyqtgraph's
``peak`` method, which keeps each bucket's min and max, so a spike is never hidden. The
full-resolution data stays in the session and the store.

Only the picked metrics are drawn (``MetricPicker``; by default the train loss, the
headline validation metric with its final test value, and the inner-loop before/after
pair), one plot per family (``gui.metric_kinds``) in a scrolling ``PlotGrid``. A series
keeps its colour by its role (train, val, before, step 2, ...), never by arrival order,
so a live, stored and resumed view of a run look the same; the legend is the plot's
title, outside the data. Sparse series (validation, inner loop) carry markers, so a
single point shows; final test metrics are labelled stars.

Ranges follow the data in steps (the x range grows by a quarter at a time, the y range
only when a point falls outside, then with some room on that side, or when the data
shrinks well inside it) instead of
pyqtgraph's auto-range on every frame: axes then keep their cached pictures and most
frames only repaint the curves. The x range spans every drawn series of the run (the
plots share it) and is never narrower than one step. Zooming or panning by hand stops
following; the "A" button in a plot's corner resumes it. In log scale the ranges are
taken over the positive values.

Smoothing (``gui.smoothing.Ema``) is drawn over a faint raw curve and updated
incrementally; schedules (learning rate), system figures and final metrics stay raw.
"""

from __future__ import annotations

import html
import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui.chart_colors import series_color
from gui.metric_kinds import family, is_final, label, order, role_of, smoothable
from gui.run_session import RunSession, Series
from gui.smoothing import Ema
from gui.widgets.metric_picker import MetricPicker
from gui.widgets.plot_grid import NEXT_TURN_MS, PlotGrid, finite_bounds, log_y, padded_x, padded_y

REDRAW_MS = 50  # at most 20 redraws a second
# Curve updates per event-loop turn when the timer redraws (20 curves of thousands of points
# are ~20 ms); the rest follow on the next turn, so the UI never waits on them all at once.
REDRAW_BUDGET_S = 0.010
X_HEADROOM = 1.25  # the x range grows to 125% of the data's extent when points pass its end
# A live y range that a point passes grows by this share of the data's span on that side
# too: a rising accuracy would otherwise move it (and redraw the axes) every few redraws.
Y_HEADROOM = 0.15
MARKER_MAX = 50  # series with at most this many points carry a marker on each


def family_order(key: str, members: list[str]) -> tuple:
    return min((order(n) for n in members), default=(99, 0, key))


class _Curve:
    def __init__(self, plot: pg.PlotItem, name: str, color: QColor):
        self.name = name
        self.final = is_final(name)
        self.color = color
        faint = QColor(color)
        faint.setAlpha(70)
        options = {"clipToView": True, "autoDownsample": True, "downsampleMethod": "peak"}
        self.faint = plot.plot(pen=pg.mkPen(faint, width=1), **options)
        self.faint.setVisible(False)
        if self.final:  # one point at the end of the run: a labelled star
            self.main = plot.plot(pen=None, symbol="star", symbolSize=14, symbolBrush=color, symbolPen=pg.mkPen("#222"))
            self.label = pg.TextItem(anchor=(1.1, 1.1), color=color)
            plot.addItem(self.label, ignoreBounds=True)
        else:
            # Width 1: wider lines take Qt's slow path in software rendering (several ms a frame).
            self.main = plot.plot(pen=pg.mkPen(color, width=1), **options)
            self.label = None
        self.marked = False
        self.smoother: Ema | None = None

    def set_markers(self, on: bool) -> None:
        if self.final or on == self.marked:
            return
        self.marked = on
        if on:
            self.main.setSymbol("o")
            self.main.setSymbolSize(5)
            self.main.setSymbolBrush(self.color)
            self.main.setSymbolPen(None)
        else:
            self.main.setSymbol(None)

    def remove(self, plot: pg.PlotItem) -> None:
        for item in (self.faint, self.main, self.label):
            if item is not None:
                plot.removeItem(item)


class LivePlot(QWidget):
    """Plots of one session's picked metrics, with smoothing, x by step or wall time, a crosshair."""

    redrawn = Signal()  # after each redraw (tests and benchmarks count them)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: RunSession | None = None
        self.smoothing = 0.0
        self.x_mode = "step"  # or "wall"
        self.redraws = 0
        self._follow: dict[str, bool] = {}
        self._curves: dict[str, _Curve] = {}
        self._dirty: set[str] = set()
        self._stale: set[str] = set()
        self._wall_origin: float | None = None
        self.picker = MetricPicker("monitor")
        self.picker.picks_changed.connect(self._picks_changed)
        self.grid = PlotGrid()
        self.grid.style_plot = self._style_plot
        self.grid.log_changed.connect(self.follow)
        self.grid.follow_requested.connect(self.follow)
        self.view = self.grid.view
        self.readout = QLabel("Move the mouse over a plot to read values.")
        self.readout.setObjectName("plotReadout")
        # A fixed area: a long readout (MAML logs 20 metrics) wraps inside it and never widens the window.
        self.readout.setWordWrap(True)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.readout.setFixedHeight(self.readout.fontMetrics().lineSpacing() * 2 + 4)
        self.empty = QLabel("No metrics yet: they appear here as the engine reports them.")
        self.empty.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.readout)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(lambda: self.redraw(budget=REDRAW_BUDGET_S))
        self._mouse = pg.SignalProxy(self.view.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse)
        self._apply_palette()

    # --- the session --------------------------------------------------------------------
    def set_session(self, session: RunSession | None) -> None:
        if self.session is not None:
            for signal, slot in ((self.session.metrics_changed, self._on_metrics),
                                 (self.session.status_changed, self._on_status)):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.session = session
        self._clear()
        if session is not None:
            session.metrics_changed.connect(self._on_metrics)
            session.status_changed.connect(self._on_status)
            self.picker.set_names(session.series)  # (a person's picks carry over to the next run)
            self._on_metrics(set(session.series))
            self.redraw()

    def _clear(self) -> None:
        for name in list(self._curves):
            self._drop_curve(name)
        self.grid.set_order([])
        self._stale = set(self.grid.plots)  # plots kept from the last run: their ranges are its
        self._dirty.clear()
        self._wall_origin = None
        self.empty.setVisible(True)
        self.readout.setText("Move the mouse over a plot to read values.")

    def _on_metrics(self, names: set[str]) -> None:
        if self.session is not None and names - set(self.picker.names):
            if self.picker.set_names(self.session.series):  # the defaults moved (a headline metric arrived)
                for name in [n for n in self._curves if n not in self.picker.picked]:
                    self._drop_curve(name)
                self._lay_out()
        self._dirty |= names
        if not self._timer.isActive():
            self._timer.start()

    def _on_status(self, _status: str) -> None:
        """A run that ended gets tight ranges: no headroom for points that will not come."""
        if self.session is not None and self.session.is_over:
            self.redraw()
            for key in self.grid.order:
                if self._follow.get(key):
                    self._fit(key, force=True)

    def _picks_changed(self) -> None:
        for name in [n for n in self._curves if n not in self.picker.picked]:
            self._drop_curve(name)
        self._lay_out()
        self._redraw_all()

    def _drop_curve(self, name: str) -> None:
        curve = self._curves.pop(name)
        plot = self.grid.plots.get(family(name))
        if plot is not None:
            curve.remove(plot)
            self._update_title(family(name))

    # --- settings -----------------------------------------------------------------------
    def set_smoothing(self, weight: float) -> None:
        self.smoothing = min(max(weight, 0.0), 0.999)
        for curve in self._curves.values():
            curve.smoother = None
        self._redraw_all()

    def set_x_mode(self, mode: str) -> None:
        self.x_mode = mode
        label_text = "wall time (s)" if mode == "wall" else "step"
        for plot in self.grid.plots.values():
            plot.setLabel("bottom", label_text)
        self._redraw_all()
        for key in self.grid.plots:
            self.follow(key)

    def set_log(self, on: bool) -> None:
        """Log scale on every plot (non-positive values are left out, not drawn at -inf)."""
        self.grid.set_log_all(on)

    def _redraw_all(self) -> None:
        if self.session is not None:
            self._dirty |= set(self.session.series)
        self.redraw()

    # --- drawing ------------------------------------------------------------------------
    def plot_for(self, key: str) -> pg.PlotItem:
        made = key in self.grid.plots
        plot = self.grid.plot(key, label(key))
        if not made:
            plot.setLabel("bottom", "wall time (s)" if self.x_mode == "wall" else "step")
            # No grid by default: alpha-blended grid lines cost ~7 ms a frame per axis in software
            # rendering (right-click > Grid turns it on).
            self._follow[key] = True
            plot.vb.sigRangeChangedManually.connect(lambda *_a, k=key: self._follow.__setitem__(k, False))
            others = [p for k, p in self.grid.plots.items() if k != key]
            if others:
                plot.setXLink(others[0])
            plot.crosshair = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((128, 128, 128), width=1))
            plot.crosshair.setVisible(False)  # until the mouse is over a plot
            plot.addItem(plot.crosshair, ignoreBounds=True)
        return plot

    def _lay_out(self) -> None:
        """Plots of the picked metrics in a fixed order (loss, accuracy, inner loop, ...)."""
        members: dict[str, list[str]] = {}
        for name in self._curves:
            members.setdefault(family(name), []).append(name)
        keys = sorted(members, key=lambda k: family_order(k, members[k]))
        self.grid.set_order(keys)
        self.empty.setText("No metric picked: choose some under Metrics." if self.picker.names else
                           "No metrics yet: they appear here as the engine reports them.")
        self.empty.setVisible(not keys)

    def _update_title(self, key: str) -> None:
        plot = self.grid.plots.get(key)
        if plot is None:
            return
        text = self.palette().color(QPalette.ColorRole.Text).name()
        parts = [f"<span style='color:{text}'><b>{html.escape(label(key))}</b></span>"]
        for name in sorted((n for n in self._curves if family(n) == key), key=order):
            curve = self._curves[name]
            mark = "★" if curve.final else "━"
            parts.append(f"<span style='color:{curve.color.name()}'>{mark} {html.escape(role_of(name))}</span>")
        plot.setTitle("&nbsp;&nbsp;".join(parts), size="9pt")

    def curve_for(self, name: str) -> _Curve:
        curve = self._curves.get(name)
        if curve is None:
            key = family(name)
            plot = self.plot_for(key)
            curve = self._curves[name] = _Curve(plot, name, QColor(series_color(name)))
            self._update_title(key)
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

    def redraw(self, budget: float | None = None) -> None:
        """Curves of the dirty series get their data; ``budget`` (seconds) leaves the series
        past it for the next event-loop turn (the timer's redraws; a direct call does all)."""
        self._timer.stop()
        if self.session is None:
            self._dirty.clear()
            return
        dirty, self._dirty = self._dirty, set()
        picked = self.picker.picked
        keys = set()
        new_plots = 0
        laid_out = False
        deadline = time.perf_counter() + budget if budget else math.inf
        for name in sorted(dirty, key=order):  # plots made in the order they show: each new one goes last
            if time.perf_counter() > deadline:
                self._dirty.add(name)
                continue
            series = self.session.series.get(name)
            if series is None or series.size == 0 or name not in picked:
                continue
            if name not in self._curves:
                if family(name) not in self.grid.plots:
                    if new_plots:  # one new plot per redraw: each costs tens of ms (axes, menus, layout)
                        self._dirty.add(name)
                        continue
                    new_plots += 1
                laid_out = True
            curve = self.curve_for(name)
            keys.add(family(name))
            self._set_data(curve, series)
        if laid_out:
            self._lay_out()
        if keys:  # the x range is the run's: a plot whose data did not grow may still need a wider one
            for key in self.grid.order:
                if self._follow.get(key) or key in self._stale:
                    self._fit(key, force=key in self._stale)
        self.redraws += 1
        if self._dirty:  # series held back (a plot of their own, the budget): next turn
            QTimer.singleShot(NEXT_TURN_MS, self, lambda: self.redraw(budget=budget))
        self.redrawn.emit()

    def _set_data(self, curve: _Curve, series: Series) -> None:
        x, y = self.x_values(series), series.values
        if curve.final:
            curve.main.setData(x[-1:], y[-1:])
            value = float(y[-1])
            curve.label.setText(f"{role_of(curve.name)} {value:.4g}")
            plot = self.grid.plots[family(curve.name)]
            shown = math.log10(value) if log_y(plot) and value > 0 else value
            curve.label.setPos(float(x[-1]), shown)
            return
        curve.set_markers(series.size <= MARKER_MAX)
        if self.smoothing > 0 and smoothable(curve.name):
            if curve.smoother is None:
                curve.smoother = Ema(self.smoothing)
            curve.faint.setData(x, y)
            curve.faint.setVisible(True)
            curve.main.setData(x, curve.smoother.update(y))
        else:
            curve.faint.setVisible(False)
            curve.main.setData(x, y)

    # --- ranges ---------------------------------------------------------------------------
    def follow(self, key: str) -> None:
        """Let ``key``'s plot follow its data again (after a zoom, a pan or a log toggle)."""
        plot = self.grid.plots.get(key)
        if plot is None:
            return
        plot.disableAutoRange()
        self._follow[key] = True
        for name, curve in self._curves.items():  # labels sit at log10(value) in log scale
            if curve.final and family(name) == key and self.session and name in self.session.series:
                self._set_data(curve, self.session.series[name])
        self._fit(key, force=True)

    def _x_bounds(self) -> tuple[float, float] | None:
        """Every drawn series of the run: the plots share one x axis, and a plot whose first
        point came late (validation) must not narrow it."""
        if self.session is None:
            return None
        key = "wall" if self.x_mode == "wall" else "step"
        spans = [self.session.series[n].bounds[key] for n in self._curves if n in self.session.series]
        spans = [s for s in spans if math.isfinite(s[0])]
        if not spans:
            return None
        x0, x1 = min(s[0] for s in spans), max(s[1] for s in spans)
        if key == "wall":
            origin = self._wall_origin or 0.0
            x0, x1 = min(x0 - origin, 0.0), x1 - origin  # from the run's start, not the first point
        return x0, x1

    def _y_bounds(self, key: str, log: bool) -> tuple[float, float] | None:
        if self.session is None:
            return None
        names = [n for n in self._curves if family(n) == key and n in self.session.series]
        if not log:
            spans = [self.session.series[n].bounds["value"] for n in names]
            spans = [s for s in spans if math.isfinite(s[0])]
            return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None
        return finite_bounds([self.session.series[n].values for n in names], log=True)

    def _fit(self, key: str, *, force: bool = False) -> None:
        x_bounds, plot = self._x_bounds(), self.grid.plots[key]
        y_bounds = self._y_bounds(key, log_y(plot))
        if x_bounds is None:
            return
        if key in self._stale and y_bounds is not None:
            self._stale.discard(key)
            self._follow[key] = True
        (v0, v1), (w0, w1) = plot.vb.viewRange()
        x0, x1 = padded_x(x_bounds)
        headroom = 1.0 if self.session is not None and self.session.is_over else X_HEADROOM  # no more points to come
        # The left edge is checked against the data, not the padded edge: the margin grows with
        # the span, so the padded edge moves left with every new point and the range (with
        # every axis picture) would be redone on every redraw.
        if force or v0 > x_bounds[0] or v1 < x1 or (v1 - v0) > 2 * headroom * (x1 - x0):
            plot.setXRange(*padded_x(x_bounds, headroom), padding=0)
        if y_bounds is None:
            return
        y0, y1 = padded_y(y_bounds)
        if force or w0 > y_bounds[0] or w1 < y_bounds[1] or (w1 - w0) > 3 * (y1 - y0):
            if not force and headroom > 1.0:  # live: room for the trend to go on
                span = y_bounds[1] - y_bounds[0]
                y0 -= Y_HEADROOM * span if w0 > y_bounds[0] else 0.0
                y1 += Y_HEADROOM * span if w1 < y_bounds[1] else 0.0
            plot.setYRange(y0, y1, padding=0)

    def point_count(self) -> int:
        """Points currently held by the curves (tests check the plot is fed)."""
        total = 0
        for curve in self._curves.values():
            x, _ = curve.main.getOriginalDataset()
            total += 0 if x is None else len(x)
        return total

    def plot_names(self) -> list[str]:
        return self.grid.order

    @property
    def _plots(self) -> dict[str, pg.PlotItem]:
        return self.grid.plots

    # --- crosshair ----------------------------------------------------------------------
    def _on_mouse(self, args: tuple[Any, ...]) -> None:
        pos = args[0]
        for key in self.grid.order:
            plot = self.grid.plots[key]
            if plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                self.show_readout(x, key)
                return

    def show_readout(self, x: float, key: str | None = None) -> None:
        """Values at ``x`` of the plot under the mouse (``key``), or of every drawn series."""
        for k in self.grid.order:
            plot = self.grid.plots[k]
            plot.crosshair.setPos(x)
            plot.crosshair.setVisible(True)
        if self.session is None:
            return
        parts = []
        names = [n for n in self._curves if key is None or family(n) == key] or list(self.session.series)
        for name in sorted(names, key=order):
            series = self.session.series.get(name)
            if series is None:
                continue
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
        for key, plot in self.grid.plots.items():
            self._style_plot(plot)
            self._update_title(key)

    def _style_plot(self, plot: pg.PlotItem) -> None:
        text = self.palette().color(QPalette.ColorRole.Text)
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
