"""Compare 2 to 20 runs: overlaid curves, results with 95% CIs, paired statistics against a
reference run with a scatter of per-episode accuracy, a config diff, and exports.

Everything heavy (reading curves, the statistics of ``engine.compare``) runs on a worker
thread; the page only turns the result into Qt models and pyqtgraph items. Curves clip to
the view and downsample with the ``peak`` method, so 20 x 10,000 points draw at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QSizePolicy,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.fileio import atomic_write_bytes, atomic_write_text
from engine.text_escape import html_text
from gui import startup_imports
from gui.background import Worker
from gui.chart_colors import run_colors
from gui.export_places import exported, suggested
from gui.compare_data import (
    PAIRED_HEADER,
    Comparison,
    baseline_ncm,
    comparison_csv,
    config_value,
    load_comparison,
    load_curves,
    load_stats,
    paired_metric,
    paired_table,
    report_html,
    report_markdown,
    results_table,
    unpaired_note,
)
from gui.models.records_model import RecordsModel
from gui.widgets import plain_message
from gui.widgets.comparison_plots import ComparisonPlots, style_plot

MAX_RUNS = 20
OVERVIEW_POINTS = 3000  # per curve on the first paint; the full curves replace them when read


def table_view(model: RecordsModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.verticalHeader().setVisible(False)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    return view

PAIRED_TITLE = "<b>Against the reference</b> — per-episode difference in {metric} (run − reference)"


class ComparePage(QWidget):
    open_requested = Signal(str)
    inspect_requested = Signal(str)  # run id: its embedding maps and confusion matrices
    loaded = Signal()  # a comparison is on screen, every curve drawn (its statistics may still be coming)
    stats_shown = Signal()  # the statistics (results, paired tests) of the comparison on screen are shown
    curves_drawn = Signal()  # the last batch of curves of a draw_curves() call is on the plots
    details_loaded = Signal()  # the full curves replaced the first paint's overviews

    def __init__(self, db_path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.ids: list[str] = []
        self.comparison: Comparison | None = None
        self.worker = Worker(self)
        self.stats_worker = Worker(self)
        self.detail_worker = Worker(self)
        self.imports = startup_imports.start()  # scipy, off the UI thread, before the first Compare
        self._holding_imports = False

        self.title = QLabel("Select 2 to 20 runs on the Runs page and press Compare.")
        # One line that never changes height: a wrapping title re-laid out (and re-downsampled) every plot.
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # run names are the user's text, never markup
        self.reference = QComboBox()
        # (not AdjustToContents: a long run name would widen the window)
        self.reference.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.reference.setMinimumContentsLength(18)
        self.reference.setToolTip("The run every other run is compared with")
        self.reference.currentIndexChanged.connect(self._reference_changed)
        self.align = QComboBox()
        self.align.addItems(["step", "wall time"])
        self.align.currentTextChanged.connect(lambda _t: self.draw_curves())
        self.smoothing = QDoubleSpinBox(minimum=0.0, maximum=0.999, singleStep=0.1, decimals=3, value=0.0)
        self.smoothing.setToolTip("Exponential moving average weight (0 = raw curves)")
        self.smoothing.valueChanged.connect(lambda _v: self.draw_curves())
        self.log_y = QCheckBox("Log y")
        self.log_y.setToolTip("Log scale on every plot (non-positive values are left out); right-click a plot for one")
        self.export_button = QToolButton(text="Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        menu.addAction("Results as CSV…", lambda: self._export_dialog("csv"))
        menu.addAction("Plots as PNG…", lambda: self._export_dialog("png"))
        menu.addAction("Plots as SVG…", lambda: self._export_dialog("svg"))
        # (one chart: right-click it)
        menu.addAction("Report as HTML…", lambda: self._export_dialog("html"))
        menu.addAction("Report as Markdown (+ PNG beside it)…", lambda: self._export_dialog("md"))
        self.export_button.setMenu(menu)
        self.export_button.setEnabled(False)
        self.inspect_button = QToolButton(text="Inspect")
        self.inspect_button.setToolTip("One compared run's embedding maps and confusion matrices (Inspect page)")
        self.inspect_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.inspect_menu = QMenu(self)
        self.inspect_menu.aboutToShow.connect(self._fill_inspect_menu)
        self.inspect_button.setMenu(self.inspect_menu)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addSpacing(12)  # the run names end where the controls begin
        for label, widget in (("Reference", self.reference), ("x axis", self.align), ("Smoothing", self.smoothing)):
            top.addWidget(QLabel(label))
            top.addWidget(widget)

        # curves
        self.plots = ComparisonPlots()
        self.plots.drawn.connect(self._curves_drawn)
        self.plots.picker.picks_changed.connect(self.draw_curves)
        self.log_y.toggled.connect(self.plots.grid.set_log_all)
        top.addWidget(self.plots.picker)
        top.addWidget(self.log_y)
        top.addWidget(self.export_button)
        top.addWidget(self.inspect_button)
        self._announce_loaded = False
        self._announce_details = False

        # statistics
        self.results_model = RecordsModel()
        self.paired_model = RecordsModel(PAIRED_HEADER)
        self.paired_model.highlight = self._paired_highlight
        self.note = QLabel("")
        self.note.setTextFormat(Qt.TextFormat.PlainText)  # it names runs
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #9a6200;")
        self.scatter_run = QComboBox()
        self.scatter_run.currentIndexChanged.connect(lambda _i: self.draw_scatter())
        self.scatter = pg.PlotWidget(background="w")
        self.scatter.setMinimumWidth(240)
        style_plot(self.scatter.getPlotItem())
        stats = QWidget()
        left = QVBoxLayout()
        left.addWidget(_wrapping("<b>Results</b> — every final metric as mean ± 95% CI over the meta-test episodes"))
        left.addWidget(table_view(self.results_model), 1)
        self.paired_title = _wrapping(PAIRED_TITLE.format(metric="test accuracy"))
        left.addWidget(self.paired_title)
        left.addWidget(table_view(self.paired_model), 1)
        left.addWidget(self.note)
        right = QVBoxLayout()
        pick = QHBoxLayout()
        self.scatter_title = QLabel("Per-episode test accuracy, reference vs")
        self.scatter_title.setTextFormat(Qt.TextFormat.PlainText)  # a metric name from the user's files
        pick.addWidget(self.scatter_title)
        pick.addWidget(self.scatter_run, 1)
        right.addLayout(pick)
        right.addWidget(self.scatter, 1)
        row = QHBoxLayout(stats)
        row.addLayout(left, 3)
        row.addLayout(right, 2)

        # config diff
        self.diff_model = RecordsModel()
        self.diff_model.highlight = lambda r, c: c > 0
        self.diff_label = QLabel("")
        diff = QWidget()
        diff_layout = QVBoxLayout(diff)
        diff_layout.addWidget(self.diff_label)
        diff_layout.addWidget(table_view(self.diff_model), 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.plots, "Curves")
        self.tabs.addTab(stats, "Statistics")
        self.tabs.addTab(diff, "Config diff")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

    # --- loading ------------------------------------------------------------------------------
    def set_runs(self, ids: list[str], reference: str | None = None) -> None:
        if len(ids) < 2 or len(ids) > MAX_RUNS:
            self.title.setText(f"Compare needs 2 to {MAX_RUNS} runs ({len(ids)} selected).")
            return
        self.ids = list(ids)
        self.title.setText(f"Loading {len(ids)} runs…")
        self._hold_imports(True)  # scipy's import waits until the curves are on screen
        db_path = self.db_path
        picker = self.plots.picker  # the first paint reads only the curves it charts
        picks = set(picker.picked) if picker.customised else None
        self.worker.submit(
            lambda: load_comparison(db_path, list(ids), reference, max_points=OVERVIEW_POINTS, picks=picks, stats=False),
            self._loaded, self._failed
        )

    def _failed(self, exc: BaseException) -> None:
        self._hold_imports(False)
        self.title.setText(f"Cannot compare: {exc}")

    def _hold_imports(self, on: bool) -> None:
        if on != self._holding_imports:
            self._holding_imports = on
            (startup_imports.hold if on else startup_imports.release)()

    def closeEvent(self, event) -> None:  # noqa: ANN001
        self._hold_imports(False)
        super().closeEvent(event)

    def _loaded(self, comp: Comparison) -> None:
        self.comparison = comp
        names = [r["name"] for r in comp.runs]
        self.title.setText(f"{len(comp.runs)} runs: " + ", ".join(names))
        self.title.setToolTip("\n".join(names))
        self.reference.blockSignals(True)
        self.reference.clear()
        for run in comp.runs:
            self.reference.addItem(run["name"], run["id"])
        self.reference.setCurrentIndex(self.reference.findData(comp.reference))
        self.reference.blockSignals(False)
        self.export_button.setEnabled(False)  # the exports carry the statistics: once they are in
        self.show_stats()
        self.show_diff()
        self._announce_loaded = True  # once the curves are drawn (then the statistics)
        QTimer.singleShot(0, self, self.draw_curves)  # the tables paint first, then the plots lay out

    def _read_details(self) -> None:
        """After the first paint: the full curves in place of the overviews."""
        comp = self.comparison
        if comp is not None and comp.overview:
            ids, db_path = [r["id"] for r in comp.runs], self.db_path
            self.detail_worker.submit(lambda: (ids, load_curves(db_path, ids)), self._details_read, self._failed)

    def _details_read(self, result: tuple[list[str], dict]) -> None:
        ids, curves = result
        comp = self.comparison
        if comp is None or [r["id"] for r in comp.runs] != ids:  # another comparison took over
            return
        comp.curves = curves
        comp.partial = False
        self._announce_details = True
        self.draw_curves(keep_view=True)

    def _reference_changed(self, index: int) -> None:
        comp = self.comparison
        ref = self.reference.itemData(index)
        if comp is None or not ref or ref == comp.reference:
            return
        self._request_stats(ref)

    def _request_stats(self, ref: str) -> None:
        """The statistics against ``ref``, on a thread: the curves do not wait for scipy."""
        ids, db_path = [r["id"] for r in self.comparison.runs], self.db_path
        self.stats_worker.submit(lambda: (ids, load_stats(db_path, ref, ids)), self._stats_loaded, self._failed)

    def _stats_loaded(self, result: tuple[list[str], dict[str, Any]]) -> None:
        ids, stats = result
        comp = self.comparison
        if comp is None or [r["id"] for r in comp.runs] != ids:  # another comparison took over
            return
        comp.stats = stats
        self.show_stats()
        self.export_button.setEnabled(True)
        self.stats_shown.emit()

    # --- curves -------------------------------------------------------------------------------
    def color(self, run_id: str) -> QColor:
        """The run's colour: from its id, the same in every plot, export and comparison."""
        ids = [r["id"] for r in self.comparison.runs] if self.comparison else []
        return QColor(run_colors(ids).get(run_id, "#000000"))

    def draw_curves(self, *, keep_view: bool = False) -> None:
        """The curves of the comparison, in batches (``curves_drawn`` when the last is on)."""
        comp = self.comparison
        if comp is None:
            return
        colors = {run_id: QColor(c) for run_id, c in run_colors([r["id"] for r in comp.runs]).items()}
        self.plots.draw(comp, colors, wall_time=self.align.currentText() == "wall time",
                        smoothing=self.smoothing.value(), keep_view=keep_view)

    @property
    def plot_items(self) -> dict[str, pg.PlotItem]:
        return self.plots.plot_items

    def _curves_drawn(self) -> None:
        self.curves_drawn.emit()
        if self._announce_loaded:
            self._announce_loaded = False
            self.loaded.emit()
            self._hold_imports(False)
            if self.comparison is not None and self.comparison.stats_pending:
                self._request_stats(self.comparison.reference)
            self._read_details()
        if self._announce_details:
            self._announce_details = False
            self.details_loaded.emit()

    # --- statistics ---------------------------------------------------------------------------
    def show_stats(self) -> None:
        comp = self.comparison
        if comp is None:
            return
        header, rows = results_table(comp)
        self.results_model.set_rows(rows, columns=header)
        self.paired_model.set_rows(paired_table(comp))
        metric = paired_metric(comp)  # the reference task's headline: accuracy, F1, perplexity
        self.paired_title.setText(PAIRED_TITLE.format(metric=html_text(metric)))  # rich text: a metric name is the user's
        self.scatter_title.setText(f"Per-episode {metric}, reference vs")
        note = "Computing the statistics…" if comp.stats_pending else unpaired_note(comp)
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self.scatter_run.blockSignals(True)
        current = self.scatter_run.currentData()
        self.scatter_run.clear()
        for c in comp.stats["comparisons"]:
            if c["paired"]:
                self.scatter_run.addItem(c["name"], c["id"])
        if self.scatter_run.count() == 0:
            self.scatter_run.addItem("(computing…)" if comp.stats_pending else "(no run paired with the reference)", None)
        index = self.scatter_run.findData(current)
        self.scatter_run.setCurrentIndex(max(index, 0))
        self.scatter_run.blockSignals(False)
        self.draw_scatter()

    def _fill_inspect_menu(self) -> None:
        self.inspect_menu.clear()
        runs = self.comparison.runs if self.comparison is not None else []
        for run in runs:
            self.inspect_menu.addAction(f"{run['name']} ({run['id']})", lambda i=run["id"]: self.inspect_requested.emit(i))
        if not runs:
            self.inspect_menu.addAction("(no runs compared yet)").setEnabled(False)

    def _paired_highlight(self, row: int, col: int) -> bool:
        """The p-value cell of significant differences (p < 0.05)."""
        comp = self.comparison
        if comp is None or col != 5 or row >= len(comp.stats["comparisons"]):
            return False
        p = comp.stats["comparisons"][row]["p_value"]
        return isinstance(p, float) and p < 0.05

    def draw_scatter(self) -> None:
        comp = self.comparison
        plot = self.scatter.getPlotItem()
        plot.clear()
        run_id = self.scatter_run.currentData()
        if comp is None or not run_id:
            return
        a = np.asarray(comp.episodes.get(comp.reference, []), dtype=float)
        b = np.asarray(comp.episodes.get(run_id, []), dtype=float)
        n = min(len(a), len(b))
        ref_name, name = comp.run(comp.reference)["name"], comp.run(run_id)["name"]
        plot.setLabel("bottom", f"{ref_name} (reference)", color="#222")
        plot.setLabel("left", name, color="#222")
        # both axes over the same span, from just below the lowest accuracy to 1: the diagonal
        # (equal accuracy) runs corner to corner and the points fill the plot
        baseline = baseline_ncm(comp, run_id)  # the frozen encoder on these episodes: the level to beat
        higher_is_better = comp.stats.get("higher_is_better", True)
        if higher_is_better:  # a share (accuracy, F1): up to 1
            lo = float(np.floor(min(a[:n].min(), b[:n].min(), baseline or 1.0) * 20) / 20) if n else 0.0
            lo, hi = min(max(lo, 0.0), 0.95), 1.0
        else:  # perplexity: the span of the values, and below the diagonal is better
            lo = float(min(a[:n].min(), b[:n].min())) if n else 0.0
            hi = float(max(a[:n].max(), b[:n].max())) if n else 1.0
            hi = hi if hi > lo else lo + 1.0
        plot.plot([lo, hi], [lo, hi], pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
        if baseline is not None:
            plot.addItem(pg.InfiniteLine(
                pos=baseline, angle=0, pen=pg.mkPen("#c62828", style=Qt.PenStyle.DotLine), name="frozen NCM",
                label=f"frozen NCM {baseline:.3f}", labelOpts={"position": 0.12, "color": "#c62828"},
            ))
        above = int((b[:n] > a[:n]).sum())
        below = int((b[:n] < a[:n]).sum())
        if not higher_is_better:
            above, below = below, above
        plot.plot(a[:n], b[:n], pen=None, symbol="o", symbolSize=6, symbolBrush=pg.mkBrush(self.color(run_id)),
                  symbolPen=None)
        plot.setTitle(f"{n} episodes: {name} better on {above}, worse on {below}", color="#222", size="10pt")
        plot.setXRange(lo, hi, padding=0.02)
        plot.setYRange(lo, hi, padding=0.02)

    def show_diff(self) -> None:
        comp = self.comparison
        if comp is None:
            return
        names = [r["name"] for r in comp.runs]
        rows = [[key, *[config_value(v) for v in values]] for key, values in comp.diff]
        self.diff_model.set_rows(rows, columns=["Config key", *names])
        n_keys = len({k for r in comp.runs for k in _flat_keys(r["config"])})
        self.diff_label.setText(f"{len(rows)} of {n_keys} config keys differ; the {n_keys - len(rows)} identical ones "
                                "are folded away (name, notes and tags are not compared).")

    # --- exports ------------------------------------------------------------------------------
    def plots_png(self) -> bytes:
        """Every picked chart (the whole grid, not only the scrolled-to part), legend on top."""
        return self.plots.export("png")

    def plots_svg(self) -> bytes:
        """The same as SVG that other tools render alike (``gui.svg_bake``)."""
        return self.plots.export("svg")

    def picked_metrics(self) -> list[str]:
        return sorted(self.plots.picker.picked)

    def export(self, fmt: str, path: Path) -> bool:
        comp = self.comparison
        if comp is None or comp.stats_pending:  # (the Export button waits for the statistics too)
            return False
        path = Path(path)
        try:
            if fmt == "csv":
                atomic_write_text(path, comparison_csv(comp))
            elif fmt == "png":
                atomic_write_bytes(path, self.plots_png())
            elif fmt == "svg":
                atomic_write_bytes(path, self.plots_svg())
            elif fmt == "html":
                atomic_write_text(path, report_html(comp, self.plots_png(), metrics=self.picked_metrics()))
            elif fmt == "md":
                image = path.with_suffix(".png")
                atomic_write_bytes(image, self.plots_png())
                atomic_write_text(path, report_markdown(comp, image.name, metrics=self.picked_metrics()))
            else:
                raise ValueError(fmt)
        except OSError as exc:
            plain_message.warn(self, "Cannot export", str(exc))
            return False
        return True

    def _export_dialog(self, fmt: str) -> None:
        filters = {"csv": "CSV (*.csv)", "png": "PNG image (*.png)", "svg": "SVG image (*.svg)", "html": "HTML report (*.html)",
                   "md": "Markdown report (*.md)"}
        path, _ = QFileDialog.getSaveFileName(self, "Export the comparison", suggested(f"comparison.{fmt}"), filters[fmt])
        if path and self.export(fmt, Path(path)):
            exported(self, path, "the comparison")


def _wrapping(text: str) -> QLabel:
    """A heading that wraps rather than widening the window."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


def _flat_keys(config: dict[str, Any]) -> list[str]:
    from engine.compare import flatten_config

    return list(flatten_config(config))
