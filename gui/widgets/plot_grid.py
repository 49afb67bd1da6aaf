"""A scrolling grid of plots, shared by Monitor and Compare.

Every plot keeps ``MIN_PLOT_HEIGHT``: with twenty metrics the grid scrolls instead of
squeezing them to slivers, and the number of columns follows the width (one below about
900 px). The grid never asks for more width than it is given, so no page can widen the
window through it.

Each plot has a log-scale toggle that works with non-positive values (they are left out,
not drawn at minus infinity), ``A`` and the page's toggles restore a range that shows all
data, and the right-click menu exports the one chart as PNG or SVG. ``export`` renders
the whole grid (every row, not only the scrolled-to part) with an optional legend strip;
SVGs go through ``bake_transforms`` so that tools other than Qt draw them the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QIODevice, QPoint, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QFrame, QGraphicsItem, QScrollArea, QSizePolicy, QWidget

from engine.fileio import atomic_write_bytes
from gui.export_places import exported, suggested
from gui.metric_kinds import log_by_default
from gui.svg_bake import bake_transforms

MIN_PLOT_HEIGHT = 230
MIN_COLUMN_WIDTH = 440
MAX_COLUMNS = 3
MIN_X_SPAN = 1.0  # a single step still gets an axis one step wide, not "10.0000000002"
Y_MARGIN = 0.08
X_MARGIN = 0.03
LEGEND_ROW = 22
# Work split over event-loop turns continues after this delay: a 0 ms timer is handled before
# timers already due and before input, so a chain of them held the UI for whole batches at once.
NEXT_TURN_MS = 1
# Plots made ahead, one per turn once the window is up (a PlotItem is ~10 ms of axes and
# menus): the first plots a run or a comparison needs then cost no set-up while data streams.
SPARE_PLOTS = 3
SPARE_DELAY_MS = 100


def finite_bounds(arrays: Iterable[np.ndarray], *, log: bool = False) -> tuple[float, float] | None:
    """The finite (and, in log mode, positive: then log10) extent of ``arrays``."""
    lo, hi = math.inf, -math.inf
    for array in arrays:
        a = np.asarray(array, dtype=np.float64)
        a = a[np.isfinite(a)]
        if log:
            a = a[a > 0]
        if a.size:
            lo, hi = min(lo, float(a.min())), max(hi, float(a.max()))
    if not math.isfinite(lo):
        return None
    return (math.log10(lo), math.log10(hi)) if log else (lo, hi)


def padded_x(bounds: tuple[float, float], headroom: float = 1.0) -> tuple[float, float]:
    """At least one step wide; a margin each side, so a marker on the first or last step shows
    whole; ``headroom`` > 1 leaves room for points still to come."""
    x0, x1 = bounds
    span = max(x1 - x0, MIN_X_SPAN)
    if x1 - x0 < MIN_X_SPAN:
        x0 -= (span - (x1 - x0)) / 2
    margin = X_MARGIN * span
    return x0 - margin, x0 + span * headroom + margin


def padded_y(bounds: tuple[float, float]) -> tuple[float, float]:
    """A margin above and below; one value (or values equal but for float32 rounding, as a
    run and its TensorBoard copy are) gets a readable range around it, not an axis 1e-8 tall."""
    y0, y1 = bounds
    flat = y1 - y0 <= max(abs(y0), abs(y1)) * 1e-5
    span = max(abs(y0) * 0.1, 0.05) if flat else y1 - y0
    return y0 - Y_MARGIN * span, y1 + Y_MARGIN * span


def log_y(plot: pg.PlotItem) -> bool:
    return bool(plot.ctrl.logYCheck.isChecked())


class PlotGrid(QScrollArea):
    """Named plots in rows of 1 to 3, each at least ``MIN_PLOT_HEIGHT`` tall, scrolling."""

    plot_created = Signal(str, object)  # key, PlotItem
    log_changed = Signal(str)  # key of a plot whose log toggle changed
    follow_requested = Signal(str)  # key: its "A" button was pressed

    def __init__(self, background: QColor | str = "w", parent: QWidget | None = None):
        super().__init__(parent)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(background)
        self.view.setMinimumHeight(MIN_PLOT_HEIGHT)
        self.view.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setWidget(self.view)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)
        self.plots: dict[str, pg.PlotItem] = {}
        self._order: list[str] = []
        self._cells: dict[str, tuple[int, int]] = {}  # key -> (row, column) it sits in
        self._columns = 0
        self.log_all = False
        self.style_plot: Callable[[pg.PlotItem], None] | None = None
        self.export_legend: Callable[[], list[tuple[str, str]]] = lambda: []
        self._spares: list[pg.PlotItem] = []
        self._spare_timer = QTimer(self)
        self._spare_timer.setSingleShot(True)
        self._spare_timer.timeout.connect(self._make_spare)
        self._spare_timer.start(SPARE_DELAY_MS)

    def _make_spare(self) -> None:
        if len(self.plots) + len(self._spares) < SPARE_PLOTS:
            self._spares.append(pg.PlotItem())
            self._spare_timer.start(NEXT_TURN_MS)

    # --- plots ------------------------------------------------------------------------------
    def plot(self, key: str, title: str | None = None) -> pg.PlotItem:
        """The plot for ``key``, made on first use (then laid out with the others)."""
        plot = self.plots.get(key)
        if plot is None:
            plot = self._spares.pop(0) if self._spares else pg.PlotItem()
            plot.setTitle(title or key)
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            plot.disableAutoRange()
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.enableAutoSIPrefix(False)  # "(x0.001)" on an accuracy axis reads badly
                # Tick labels as a pixmap, redrawn only when they change (most of a repaint otherwise).
                axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            plot.getAxis("left").setWidth(56)  # fixed: an axis sizing itself re-lays out after its first paint
            if self.log_all or log_by_default(key):
                plot.ctrl.logYCheck.setChecked(True)
            plot.ctrl.logYCheck.toggled.connect(lambda _on, k=key: self.log_changed.emit(k))
            plot.autoBtn.clicked.connect(lambda *_a, k=key: self.follow_requested.emit(k))
            menu = plot.vb.menu
            menu.addSeparator()
            log_action = menu.addAction("Log scale (y)")
            log_action.setCheckable(True)
            log_action.setChecked(self.log_all)
            log_action.toggled.connect(plot.ctrl.logYCheck.setChecked)
            plot.ctrl.logYCheck.toggled.connect(log_action.setChecked)
            menu.addAction("Export this chart as PNG…", lambda k=key: self._export_dialog("png", k))
            menu.addAction("Export this chart as SVG…", lambda k=key: self._export_dialog("svg", k))
            if self.style_plot is not None:
                self.style_plot(plot)
            self.plots[key] = plot
            self.plot_created.emit(key, plot)
        return plot

    def set_order(self, keys: list[str]) -> None:
        """Shows these plots, in this order (others stay made but hidden from the grid)."""
        keys = [k for k in keys if k in self.plots]
        if keys == self._order and self._columns == self._fit_columns():
            return
        self._order = keys
        self._relayout()

    @property
    def order(self) -> list[str]:
        return list(self._order)

    def _fit_columns(self) -> int:
        width = self.viewport().width() or self.width()
        return max(1, min(MAX_COLUMNS, width // MIN_COLUMN_WIDTH, len(self._order) or 1))

    def _relayout(self) -> None:
        """Moves only the plots whose cell changed (a plot added at the end moves nothing).

        The grid's Qt layout is used directly: pyqtgraph's ``GraphicsLayout.removeItem`` takes
        a plot out of the scene and ``addItem`` puts it back, which walks every curve of it
        (~17 ms a plot of 20 runs) and re-lays out the grid each time. Here a plot leaving
        the grid is only hidden, and the layout is settled once."""
        grid = self.view.ci.layout  # a QGraphicsGridLayout
        self._columns = self._fit_columns()
        cells = {key: (i // self._columns, i % self._columns) for i, key in enumerate(self._order)}
        for key in [k for k in self._cells if self._cells[k] != cells.get(k)]:
            plot = self.plots.get(key)
            index = next((i for i in range(grid.count()) if grid.itemAt(i) is plot), None)
            if index is not None:
                grid.removeAt(index)
            if plot is not None and key not in cells:
                plot.hide()
            del self._cells[key]
        for key, (row, col) in cells.items():
            if key not in self._cells:
                plot = self.plots[key]
                if plot.parentItem() is not self.view.ci:
                    plot.setParentItem(self.view.ci)
                grid.addItem(plot, row, col)
                plot.show()
                self._cells[key] = (row, col)
        grid.activate()
        rows = max(1, math.ceil(len(self._order) / self._columns))
        self.view.setMinimumHeight(rows * MIN_PLOT_HEIGHT)

    def on_screen(self, key: str) -> bool:
        """Whether any of ``key``'s plot is in the scrolled-to part of a shown grid."""
        plot = self.plots.get(key)
        if plot is None or not self.isVisible() or key not in self._cells:
            return False
        shown = QRect(QPoint(0, self.verticalScrollBar().value()), self.viewport().size())
        return self.view.mapFromScene(plot.sceneBoundingRect()).boundingRect().intersects(shown)

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        if self._order and self._fit_columns() != self._columns:
            self._relayout()

    def sizeHint(self) -> QSize:
        return QSize(600, 2 * MIN_PLOT_HEIGHT)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, MIN_PLOT_HEIGHT)

    # --- log scale ----------------------------------------------------------------------------
    def set_log_all(self, on: bool) -> None:
        """The page's log toggle: every plot at once (each can still be changed on its own)."""
        self.log_all = on
        for plot in self.plots.values():
            plot.ctrl.logYCheck.setChecked(on)

    # --- export -------------------------------------------------------------------------------
    def export(self, fmt: str, key: str | None = None) -> bytes:
        """One chart (``key``) or the whole grid as PNG or SVG bytes, legend strip on top."""
        legend = self.export_legend()
        if key is not None:
            item = self.plots[key]
            source = item.mapRectToScene(item.boundingRect())
            target = self.view.mapFromScene(source).boundingRect()
        else:
            target = self.view.rect()
        width = target.width()
        legend_height = _legend_height(legend, width)
        size = QSize(width, target.height() + legend_height)

        def paint(painter: QPainter) -> None:
            painter.fillRect(QRectF(0, 0, size.width(), size.height()), self.view.backgroundBrush())
            _paint_legend(painter, legend, width)
            self.view.render(painter, QRectF(0, legend_height, width, target.height()), target)

        if fmt == "png":
            image = QImage(size, QImage.Format.Format_ARGB32)
            image.fill(Qt.GlobalColor.white)
            painter = QPainter(image)
            paint(painter)
            painter.end()
            buffer = QBuffer()
            buffer.open(QIODevice.OpenModeFlag.WriteOnly)
            image.save(buffer, "PNG")
            return bytes(buffer.data().data())
        if fmt == "svg":
            from PySide6.QtSvg import QSvgGenerator

            buffer = QBuffer()
            buffer.open(QIODevice.OpenModeFlag.WriteOnly)
            generator = QSvgGenerator()
            generator.setOutputDevice(buffer)
            generator.setSize(size)
            generator.setViewBox(QRectF(0, 0, size.width(), size.height()))
            generator.setTitle(key or "MetaLab charts")
            painter = QPainter(generator)
            # Export mode: markers are drawn as shapes, not copied from pyqtgraph's pixmap cache
            # (which other tools show as smudges).
            items = [i for i in self.view.scene().items() if hasattr(i, "setExportMode")]
            for item in items:
                item.setExportMode(True, {"antialias": True})
            try:
                paint(painter)
            finally:
                painter.end()
                for item in items:
                    item.setExportMode(False)
            return bake_transforms(bytes(buffer.data().data()).decode("utf-8")).encode("utf-8")
        raise ValueError(fmt)

    def _export_dialog(self, fmt: str, key: str) -> None:
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)
        path, _ = QFileDialog.getSaveFileName(self, "Export the chart", suggested(f"{name}.{fmt}"),
                                              "PNG image (*.png)" if fmt == "png" else "SVG image (*.svg)")
        if path:
            atomic_write_bytes(Path(path), self.export(fmt, key))
            exported(self, path, "the chart")


def _legend_font() -> QFont:
    font = QFont()
    font.setPointSize(9)
    return font


def _legend_height(legend: list[tuple[str, str]], width: int) -> int:
    if not legend:
        return 0
    metrics = QFontMetrics(_legend_font())
    x, rows = 8, 1
    for text, _color in legend:
        w = 26 + metrics.horizontalAdvance(text) + 14
        if x + w > width and x > 8:
            rows, x = rows + 1, 8
        x += w
    return rows * LEGEND_ROW + 6


def _paint_legend(painter: QPainter, legend: list[tuple[str, str]], width: int) -> None:
    """Run names with their colours, in rows above the plots (outside the data)."""
    if not legend:
        return
    painter.save()
    font = _legend_font()
    painter.setFont(font)
    metrics = QFontMetrics(font)
    x, y = 8, 4
    for text, color in legend:
        w = 26 + metrics.horizontalAdvance(text) + 14
        if x + w > width and x > 8:
            x, y = 8, y + LEGEND_ROW
        painter.setPen(pg.mkPen(QColor(color), width=3))
        painter.drawLine(x, y + LEGEND_ROW // 2, x + 20, y + LEGEND_ROW // 2)
        painter.setPen(QColor("#222222"))
        painter.drawText(QRectF(x + 26, y, w, LEGEND_ROW), Qt.AlignmentFlag.AlignVCenter, text)
        x += w
    painter.restore()
