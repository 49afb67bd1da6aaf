"""Studies: each hyper-parameter study's trials, optimisation history, parameter importances
and a slice view; open a trial's run, launch more trials.

The GUI never imports Optuna: it asks the engine (``metalab-engine study list --json`` and
``study show NAME --json``, short subprocesses through ``EngineCall``) and shows the JSON.
More trials run in a detached ``study worker`` process that raises the study's budget; the
page refreshes while it has trials running.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QProcess, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.engine_info import EngineCall
from gui.engine_process import engine_command, repo_root
from gui.formatting import format_duration
from gui.models.records_model import SORT_ROLE, RecordsModel
from gui.pages.compare import table_view

LIVE_REFRESH_MS = 5000
STUDY_COLUMNS = ["Study", "Sampler", "Trials", "Best", "Metric", "Direction"]
STATE_COLORS = {"complete": "#1f77b4", "pruned": "#ff7f0e", "fail": "#d62728", "running": "#2ca02c", "waiting": "#7f7f7f"}


def _value(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) and math.isfinite(v) else "–"


def _param(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class StudiesPage(QWidget):
    open_requested = Signal(str)  # a trial's run id
    study_shown = Signal(str)  # a study's details are on screen

    def __init__(self, db_path: Path, parent: QWidget | None = None, *, command: list[str] | None = None):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.command = command or engine_command()
        self.studies: list[dict[str, Any]] = []
        self.details: dict[str, Any] | None = None
        self._calls: set[EngineCall] = set()
        self.workers: list[QProcess] = []

        self.storage = QLineEdit(placeholderText=f"default: studies.journal beside {self.db_path.name}")
        self.storage.setToolTip("Optuna storage URL: journal:PATH, sqlite:///PATH or postgresql://…")
        self.storage.returnPressed.connect(self.refresh)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Storage"))
        top.addWidget(self.storage, 2)
        top.addWidget(self.refresh_button)
        top.addWidget(self.message, 3)

        self.studies_model = RecordsModel(STUDY_COLUMNS)
        self.studies_view = table_view(self.studies_model)
        self.studies_view.selectionModel().currentRowChanged.connect(lambda cur, _prev: self._study_selected(cur.row()))

        self.trials_model = RecordsModel()
        self.trials_proxy = QSortFilterProxyModel(self)
        self.trials_proxy.setSourceModel(self.trials_model)
        self.trials_proxy.setSortRole(SORT_ROLE)
        self.trials_view = table_view(self.trials_model)
        self.trials_view.setModel(self.trials_proxy)
        self.trials_view.setSortingEnabled(True)
        self.trials_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.trials_view.doubleClicked.connect(lambda _i: self.open_selected_trial())
        self.trials_view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        self.history = pg.PlotWidget(background="w")
        self.importances = pg.PlotWidget(background="w")
        self.slice_param = QComboBox()
        self.slice_param.currentTextChanged.connect(lambda _t: self.draw_slice())
        self.slice = pg.PlotWidget(background="w")
        for plot in (self.history, self.importances, self.slice):
            item = plot.getPlotItem()
            for name in ("left", "bottom"):
                item.getAxis(name).setPen(pg.mkPen("#444"))
                item.getAxis(name).setTextPen(pg.mkPen("#222"))
                item.getAxis(name).enableAutoSIPrefix(False)
            item.showGrid(x=True, y=True, alpha=0.2)
        slice_page = QWidget()
        slice_layout = QVBoxLayout(slice_page)
        row = QHBoxLayout()
        row.addWidget(QLabel("Parameter"))
        row.addWidget(self.slice_param, 1)
        slice_layout.addLayout(row)
        slice_layout.addWidget(self.slice, 1)
        self.importance_note = QLabel("")
        imp_page = QWidget()
        imp_layout = QVBoxLayout(imp_page)
        imp_layout.addWidget(self.importance_note)
        imp_layout.addWidget(self.importances, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.trials_view, "Trials")
        self.tabs.addTab(self.history, "Optimisation history")
        self.tabs.addTab(imp_page, "Parameter importances")
        self.tabs.addTab(slice_page, "Slice")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.summary)
        right_layout.addWidget(self.tabs, 1)
        splitter = QSplitter()
        splitter.addWidget(self.studies_view)
        splitter.addWidget(right)
        splitter.setSizes([380, 900])

        self.open_button = QPushButton("Open trial's run")
        self.open_button.clicked.connect(self.open_selected_trial)
        self.more_trials = QSpinBox(minimum=1, maximum=1000, value=10)
        self.more_button = QPushButton("Launch more trials")
        self.more_button.setToolTip("Starts a study worker in the background that raises the study's budget by this many trials")
        self.more_button.clicked.connect(self.launch_more_trials)
        bottom = QHBoxLayout()
        bottom.addWidget(self.open_button)
        bottom.addStretch(1)
        bottom.addWidget(self.more_trials)
        bottom.addWidget(self.more_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)
        self.live_timer = QTimer(self, interval=LIVE_REFRESH_MS)
        self.live_timer.timeout.connect(lambda: self.refresh() if self.isVisible() and not self._calls else None)
        self._update_buttons()

    # --- engine calls ---------------------------------------------------------------------------
    def storage_url(self) -> str:
        return self.storage.text().strip() or f"journal:{self.db_path.expanduser().resolve().parent / 'studies.journal'}"

    def _call(self, args: list[str], on_done: Any) -> None:
        call = EngineCall([*args, "--db", str(self.db_path), "--storage", self.storage_url()], self.command, self)
        self._calls.add(call)

        def done(result: Any, error: str) -> None:
            self._calls.discard(call)
            on_done(result, error)

        call.done.connect(done)

    def refresh(self) -> None:
        self.message.setText("Asking the engine…")
        self._call(["study", "list", "--json"], self._studies_loaded)

    def _studies_loaded(self, result: Any, error: str) -> None:
        if error:
            self.message.setText(f"Cannot read the studies: {error}")
            return
        self.studies = list(result or [])
        current = self.current_study()
        rows = [[s["name"], s.get("sampler") or "", f"{s['n_trials']} / {s.get('budget') or '–'}", _value(s.get("best_value")),
                 s.get("metric") or "", s.get("direction") or ""] for s in self.studies]
        self.studies_model.set_rows(rows)
        self.message.setText(f"{len(rows)} studies in {self.storage_url()}" if rows else
                             "No studies yet: start one with metalab-engine study run STUDY.toml (docs/STUDIES.md)")
        names = [s["name"] for s in self.studies]
        if names:
            row = names.index(current) if current in names else 0
            self.studies_view.selectRow(row)
            self._study_selected(row)

    def current_study(self) -> str | None:
        return self.details["name"] if self.details else None

    def _study_selected(self, row: int) -> None:
        if 0 <= row < len(self.studies):
            self._call(["study", "show", self.studies[row]["name"], "--json"], self._details_loaded)

    def show_study(self, name: str) -> None:
        self._call(["study", "show", name, "--json"], self._details_loaded)

    def _details_loaded(self, result: Any, error: str) -> None:
        if error:
            self.message.setText(f"Cannot read the study: {error}")
            return
        self.details = result
        self.show_details()
        running = result.get("counts", {}).get("running", 0) or any(p.state() != QProcess.ProcessState.NotRunning for p in self.workers)
        if running:
            self.live_timer.start()
        else:
            self.live_timer.stop()
        self.study_shown.emit(result["name"])

    # --- views ------------------------------------------------------------------------------------
    def show_details(self) -> None:
        d = self.details
        if d is None:
            return
        counts = ", ".join(f"{n} {s}" for s, n in sorted(d.get("counts", {}).items()))
        best = ""
        if d.get("best_value") is not None:
            params = ", ".join(f"{k.rsplit('.', 1)[-1]} = {_param(v)}" for k, v in d["best_params"].items())
            best = f" Best: trial {d['best_trial']}, {d.get('metric')} {d['best_value']:.4f} ({params})."
        self.summary.setText(f"<b>{d['name']}</b> — {d.get('sampler')} sampler, {d.get('pruner')} pruner, "
                             f"{d.get('direction')} {d.get('metric')}. Trials: {counts or 'none'}.{best}")
        trials = d.get("trials", [])
        keys = sorted({k for t in trials for k in t.get("params", {})})
        header = ["#", "State", "Value", "Duration", "Run", *[k.removeprefix("method.params.") for k in keys]]
        rows, sort_keys = [], []
        for t in trials:
            params = t.get("params", {})
            rows.append([t["number"], t["state"], _value(t.get("value")), format_duration(t.get("duration_seconds")),
                         t.get("run_id") or "", *[_param(params[k]) if k in params else "" for k in keys]])
            sort_keys.append([t["number"], t["state"], t.get("value") if t.get("value") is not None else -math.inf,
                              t.get("duration_seconds") or 0.0, t.get("run_id") or "", *[params.get(k) for k in keys]])
        self.trials_model.set_rows(rows, columns=header, sort_keys=sort_keys)
        self.param_keys = keys
        self.slice_param.blockSignals(True)
        current = self.slice_param.currentText()
        self.slice_param.clear()
        self.slice_param.addItems(keys)
        if current in keys:
            self.slice_param.setCurrentText(current)
        self.slice_param.blockSignals(False)
        self.draw_history()
        self.draw_importances()
        self.draw_slice()
        self._update_buttons()

    def _complete(self) -> list[dict[str, Any]]:
        return [t for t in (self.details or {}).get("trials", []) if t.get("value") is not None and t["state"] == "complete"]

    def draw_history(self) -> None:
        plot = self.history.getPlotItem()
        plot.clear()
        d = self.details or {}
        plot.setLabel("bottom", "trial", color="#222")
        plot.setLabel("left", d.get("metric") or "value", color="#222")
        if plot.legend is None:
            plot.addLegend(offset=(-10, -10), labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 210))
        for state, color in STATE_COLORS.items():
            pts = [t for t in d.get("trials", []) if t["state"] == state and t.get("value") is not None]
            if pts:
                plot.plot([t["number"] for t in pts], [t["value"] for t in pts], pen=None, symbol="o", symbolSize=8,
                          symbolBrush=pg.mkBrush(color), symbolPen=None, name=f"{state} trials")
        complete = self._complete()
        if complete:
            x = np.array([t["number"] for t in complete], dtype=float)
            y = np.array([t["value"] for t in complete], dtype=float)
            best = np.maximum.accumulate(y) if d.get("direction") != "minimize" else np.minimum.accumulate(y)
            plot.plot(x, best, pen=pg.mkPen("#d62728", width=2), stepMode=None, name="best so far")

    def draw_importances(self) -> None:
        plot = self.importances.getPlotItem()
        plot.clear()
        d = self.details or {}
        values = d.get("importances") or {}
        note = d.get("importance_note")
        evaluator = d.get("importance_evaluator") or ""
        self.importance_note.setText(f"Not available: {note}." if note else (f"Optuna's {evaluator}, sums to 1." if values else ""))
        if not values:
            return
        names = list(values)[::-1]
        heights = [values[n] for n in names]
        bars = pg.BarGraphItem(x0=0, y=np.arange(len(names)), height=0.6, width=heights, brush="#1f77b4")
        plot.addItem(bars)
        axis = plot.getAxis("left")
        axis.setTicks([[(i, n.removeprefix("method.params.")) for i, n in enumerate(names)]])
        plot.setLabel("bottom", "importance", color="#222")
        plot.setXRange(0, max(heights) * 1.1 if heights else 1)

    def draw_slice(self) -> None:
        plot = self.slice.getPlotItem()
        plot.clear()
        key = self.slice_param.currentText()
        complete = [t for t in self._complete() if key in t.get("params", {})]
        d = self.details or {}
        plot.setLabel("left", d.get("metric") or "value", color="#222")
        plot.setLabel("bottom", key.removeprefix("method.params."), color="#222")
        if not complete:
            return
        raw = [t["params"][key] for t in complete]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)
        space = (d.get("space") or {}).get(key, {})
        log = bool(space.get("log")) and numeric and all(v > 0 for v in raw)
        plot.setLogMode(x=log, y=False)
        if numeric:
            x = np.array(raw, dtype=float)
            axis_ticks = None
        else:
            cats = sorted({str(v) for v in raw})
            x = np.array([cats.index(str(v)) for v in raw], dtype=float)
            axis_ticks = [[(i, c) for i, c in enumerate(cats)]]
        plot.getAxis("bottom").setTicks(axis_ticks)
        numbers = np.array([t["number"] for t in complete], dtype=float)
        brushes = [pg.mkBrush(pg.intColor(int(n), hues=max(len(numbers), 2), minValue=120)) for n in numbers]
        plot.plot(x, [t["value"] for t in complete], pen=None, symbol="o", symbolSize=9, symbolBrush=brushes, symbolPen=None)
        plot.setTitle("colour: trial order", color="#555", size="9pt")

    # --- actions -----------------------------------------------------------------------------------
    def selected_trial(self) -> dict[str, Any] | None:
        index = self.trials_view.currentIndex()
        if not index.isValid() or self.details is None:
            return None
        number = self.trials_proxy.data(self.trials_proxy.index(index.row(), 0), SORT_ROLE)
        return next((t for t in self.details["trials"] if t["number"] == number), None)

    def _update_buttons(self) -> None:
        trial = self.selected_trial()
        self.open_button.setEnabled(bool(trial and trial.get("run_id")))
        self.more_button.setEnabled(self.details is not None)

    def open_selected_trial(self) -> None:
        trial = self.selected_trial()
        if trial and trial.get("run_id"):
            self.open_requested.emit(trial["run_id"])

    def worker_arguments(self) -> list[str]:
        d = self.details or {}
        so_far = sum(n for s, n in d.get("counts", {}).items() if s != "fail")
        budget = so_far + self.more_trials.value()
        return [*self.command[1:], "study", "worker", "--storage", self.storage_url(), "--study", d["name"],
                "--db", str(self.db_path), "--n-trials", str(budget)]

    def launch_more_trials(self) -> None:
        if self.details is None:
            return
        process = QProcess(self)
        process.setWorkingDirectory(str(repo_root()))
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyRead.connect(lambda: process.readAll())  # a worker prints a line per trial; not kept
        process.finished.connect(lambda code, _s: self._worker_finished(process, code))
        process.start(self.command[0], self.worker_arguments())
        self.workers.append(process)
        self.message.setText(f"Worker started for {self.details['name']}: {self.more_trials.value()} more trials.")
        self.live_timer.start()

    def _worker_finished(self, process: QProcess, code: int) -> None:
        self.message.setText("Study worker finished." if code == 0 else f"Study worker stopped (exit code {code}).")
        self.refresh()

    def shutdown(self) -> None:
        """Ends engine calls; a study worker started here stops with the window (its running
        trial is failed by the heartbeat check, and the next worker carries the study on)."""
        for call in list(self._calls):
            call.kill()
