"""Studies: each hyper-parameter study's trials and views in the style of optuna-dashboard
(optimisation history, parameter importances, slice, parallel coordinates, contour, Pareto
front); create a study, open a trial's run, launch more trials.

The GUI never imports Optuna: it asks the engine (``metalab-engine study list --json`` and
``study show NAME --json``, short subprocesses through ``EngineCall``) and shows the JSON.
A new study (``StudyDialog``) and more trials run in detached engine processes
(``study run FILE`` / ``study worker``); the page refreshes while any of them runs, and
the status bar counts them (``workers_changed``).
"""

from __future__ import annotations

import math
from pathlib import Path
from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QProcess, QProcessEnvironment, QSortFilterProxyModel, Qt, QTimer, Signal
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

from engine.config import RunConfig
from engine.storage_secret import STORAGE_ENV, has_password, redact
from engine.text_escape import html_text
from gui.engine_info import CALL_TIMEOUT_MS, EngineCall
from gui.engine_process import engine_command, environment_with
from gui.formatting import format_duration, plural
from gui.models.records_model import SORT_ROLE, RecordsModel
from gui.pages.compare import table_view
from gui.pages.study_importances import StudyImportances
from gui.pages.study_launch import StudyLaunching
from gui.widgets import population_plots, study_plots
from gui.widgets.study_dialog import StudyDialog

LIVE_REFRESH_MS = 5000
STORAGE_TIP = "Optuna storage URL: journal:PATH, sqlite:///PATH or postgresql://…"
STUDY_COLUMNS = ["Study", "Sampler", "Trials", "Best", "Metric", "Direction"]
STATE_COLORS = study_plots.STATE_COLORS


def _value(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) and math.isfinite(v) else "–"


def _param(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def trials_text(study: dict[str, Any]) -> str:
    """Trials that count toward the budget (complete and pruned) of the budget, then the rest:
    ``3 / 3``, ``2 / 3, 1 running``. Failed trials are retried, so they do not count."""
    counts = study.get("counts") or {}
    if not counts:  # an older engine: only the total is known
        return f"{study.get('n_trials', 0)} / {study.get('budget') or '–'}"
    done = counts.get("complete", 0) + counts.get("pruned", 0)
    text = f"{done} / {study.get('budget') or '–'}"
    extra = [f"{counts[s]} {s}" for s in ("running", "waiting", "fail") if counts.get(s)]
    return text + (", " + ", ".join(extra) if extra else "")


def _plot_widget() -> pg.PlotWidget:
    widget = pg.PlotWidget(background="w")
    study_plots.style(widget.getPlotItem())
    widget.setMinimumSize(200, 150)
    return widget


class StudiesPage(StudyLaunching, StudyImportances, QWidget):
    open_requested = Signal(str)  # a trial's run id
    study_shown = Signal(str)  # a study's details are on screen
    workers_changed = Signal(int)  # study engine processes running from this page
    compare_requested = Signal(list)  # run ids: the best PBT member's lineage

    def __init__(self, db_path: Path, parent: QWidget | None = None, *, command: list[str] | None = None):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.command = command or engine_command()
        self.studies: list[dict[str, Any]] = []
        self.details: dict[str, Any] | None = None
        self.pending_trial: int | None = None  # a trial to select once its study is read (show_trial)
        self._calls: set[EngineCall] = set()
        self._shown_request = 0  # the newest details request: an older answer arriving late is stale
        self._wanted: str | None = None  # a study to select once it is listed (just created)
        self.workers: list[QProcess] = []
        self.form_config: Callable[[], RunConfig | None] = lambda: None  # the New experiment form's config
        self.dialog: StudyDialog | None = None

        self.storage = QLineEdit(placeholderText=f"default: studies.journal beside {self.db_path.name}")
        self.storage.setToolTip(STORAGE_TIP)
        # a database URL can hold a password: shown only while it is edited (until what is typed has none)
        self.storage.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        self.storage.textChanged.connect(self._storage_typed)
        self.storage.returnPressed.connect(self.refresh)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.new_button = QPushButton("New study…")
        self.new_button.setToolTip("Search hyper-parameters around the New experiment form's config or a past run's")
        self.new_button.clicked.connect(lambda: self.new_study())
        self.message = QLabel("")
        self.message.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Storage"))
        top.addWidget(self.storage, 2)
        top.addWidget(self.refresh_button)
        top.addWidget(self.new_button)
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

        self.history = _plot_widget()
        self.importances = _plot_widget()
        self.importance_note = QLabel("")
        self.importance_button = self.make_importance_button()
        self.slice_param = QComboBox()
        self.slice_param.currentTextChanged.connect(lambda _t: self.draw_slice())
        self.slice = _plot_widget()
        self.slice_color_bar: pg.ColorBarItem | None = None
        self.parallel = _plot_widget()
        self.contour_x, self.contour_y = QComboBox(), QComboBox()
        for combo in (self.contour_x, self.contour_y):
            combo.currentTextChanged.connect(lambda _t: self.draw_contour())
        self.contour = _plot_widget()
        self.contour_note = QLabel("")
        self.pareto = _plot_widget()
        self.pareto_note = QLabel("")
        self.pareto_note.setWordWrap(True)

        self.tabs = QTabWidget()
        self.tabs.setUsesScrollButtons(True)
        self.tabs.addTab(self.trials_view, "Trials")
        self.tabs.addTab(self.history, "History")
        self.tabs.addTab(_page(_row(self.importance_button, self.importance_note), self.importances), "Importances")
        self.tabs.addTab(_page(_row(QLabel("Parameter"), self.slice_param), self.slice), "Slice")
        self.tabs.addTab(self.parallel, "Parallel coordinates")
        self.tabs.addTab(_page(_row(QLabel("x"), self.contour_x, QLabel("y"), self.contour_y), self.contour_note, self.contour),
                         "Contour")
        self.tabs.addTab(_page(self.pareto_note, self.pareto), "Pareto front")
        # population-based training: the population over time and the best member's schedule
        self.population = _plot_widget()
        self.schedule = _plot_widget()
        self.schedule_param = QComboBox()
        self.schedule_param.currentTextChanged.connect(lambda _: self.draw_schedule())
        self.population_note = QLabel()
        self.population_note.setWordWrap(True)
        self.schedule_note = QLabel()
        self.schedule_note.setWordWrap(True)
        self.compare_lineage_button = QPushButton("Compare the best lineage")
        self.compare_lineage_button.setToolTip("Open the runs the best member's weights went through in Compare")
        self.compare_lineage_button.clicked.connect(self.compare_lineage)
        self.population_tab = _page(self.population_note, self.population,
                                    _row(QLabel("Schedule of"), self.schedule_param, self.compare_lineage_button),
                                    self.schedule_note, self.schedule)
        self.tabs.addTab(self.population_tab, "Population")
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
        splitter.setSizes([300, 700])
        self.studies_view.setMinimumWidth(160)

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

    def storage_environment(self) -> QProcessEnvironment:
        """The storage URL for an engine process: in its environment, never its argv (``/proc/PID/cmdline``)."""
        return environment_with({STORAGE_ENV: self.storage_url()})

    def _storage_typed(self, text: str) -> None:
        # a URL with a password shows as dots unless the field is being edited; the redacted form is its tooltip
        secret = has_password(text)
        masked = secret or not text.strip()
        self.storage.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit if masked else QLineEdit.EchoMode.Normal)
        self.storage.setToolTip((f"{redact(text.strip())}\n" if secret else "") + STORAGE_TIP)

    def _call(self, args: list[str], on_done: Any, *, timeout_ms: int = CALL_TIMEOUT_MS) -> None:
        call = EngineCall([*args, "--db", str(self.db_path)], self.command, self, timeout_ms=timeout_ms,
                          environment=self.storage_environment())
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
            self.message.setText(f"Cannot read the studies: {redact(error)}")
            return
        self.studies = list(result or [])
        current = self._wanted or self.current_study()
        rows = [[s["name"], s.get("sampler") or "", trials_text(s), _value(s.get("best_value")),
                 s.get("metric") or "", s.get("direction") or ""] for s in self.studies]
        self.studies_model.set_rows(rows)
        self.message.setText(f"{plural(len(rows), 'study')} in {redact(self.storage_url())}" if rows else
                             "No studies yet: press New study… (or run metalab-engine study run STUDY.toml)")
        names = [s["name"] for s in self.studies]
        if names:
            row = names.index(current) if current in names else 0
            if current in names:
                self._wanted = None
            self.studies_view.selectionModel().blockSignals(True)
            self.studies_view.selectRow(row)
            self.studies_view.selectionModel().blockSignals(False)
            self._study_selected(row)  # always re-read: the list changing says the trials changed
        elif self.running_workers():
            self.live_timer.start()  # a study just launched is not listed yet

    def current_study(self) -> str | None:
        return self.details["name"] if self.details else None

    def _study_selected(self, row: int) -> None:
        if 0 <= row < len(self.studies):
            self.show_study(self.studies[row]["name"])

    def show_study(self, name: str) -> None:
        self._shown_request += 1
        request = self._shown_request
        self._call(["study", "show", name, "--json"], lambda result, error: self._details_loaded(result, error, request))

    def show_trial(self, name: str, number: int) -> None:
        """A run's trial (Runs page: Open trial): the study, with that trial selected once it is read."""
        self.pending_trial = number
        self.show_study(name)

    def _select_pending_trial(self) -> None:
        number, self.pending_trial = self.pending_trial, None
        if number is None:
            return
        for row in range(self.trials_proxy.rowCount()):
            if self.trials_proxy.data(self.trials_proxy.index(row, 0), SORT_ROLE) == number:
                self.trials_view.selectRow(row)
                self._update_buttons()
                return

    def _details_loaded(self, result: Any, error: str, request: int | None = None) -> None:
        if request is not None and request != self._shown_request:
            return  # a newer request is on its way: this answer may predate the latest trials
        if error:
            self.message.setText(f"Cannot read the study: {redact(error)}")
            return
        self.details = self.keep_importances(result)
        self.show_details()
        self._select_pending_trial()
        running = result.get("counts", {}).get("running", 0) or self.running_workers()
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
        rest = (f" — {d.get('sampler')} sampler, {d.get('pruner')} pruner, {d.get('direction')} {d.get('metric')}. "
                f"Trials: {counts or 'none'} (budget {d.get('budget') or '–'}).{best}")
        self.summary.setText(f"<b>{html_text(d['name'])}</b>{html_text(rest)}")  # rich text: the study's name is the user's
        for row, study in enumerate(self.studies):  # the list row follows the details just read
            if study["name"] == d["name"]:
                study.update(counts=d.get("counts", {}), budget=d.get("budget"), best_value=d.get("best_value"))
                self.studies_model.rows[row][2] = trials_text(study)
                self.studies_model.rows[row][3] = _value(d.get("best_value"))
                self.studies_model.dataChanged.emit(self.studies_model.index(row, 2), self.studies_model.index(row, 3))
        trials = d.get("trials", [])
        keys = sorted({k for t in trials for k in t.get("params", {})})
        header = ["#", "State", "Value", "Duration", "Run", *[study_plots.short(k) for k in keys]]
        rows, sort_keys = [], []
        for t in trials:
            params = t.get("params", {})
            rows.append([t["number"], t["state"], _value(t.get("value")), format_duration(t.get("duration_seconds")),
                         t.get("run_id") or "", *[_param(params[k]) if k in params else "" for k in keys]])
            sort_keys.append([t["number"], t["state"], t.get("value") if t.get("value") is not None else -math.inf,
                              t.get("duration_seconds") or 0.0, t.get("run_id") or "", *[params.get(k) for k in keys]])
        self.trials_model.set_rows(rows, columns=header, sort_keys=sort_keys)
        self.param_keys = keys
        _refill(self.slice_param, keys)
        _refill(self.contour_x, keys, 0)
        _refill(self.contour_y, keys, 1)
        self.draw_history()
        self.draw_importances()
        self.draw_slice()
        self.draw_parallel()
        self.draw_contour()
        self.draw_pareto()
        _refill(self.schedule_param, keys)
        self.draw_population()
        self._update_buttons()

    def _complete(self) -> list[dict[str, Any]]:
        return study_plots.complete_trials(self.details or {})

    def draw_history(self) -> None:
        study_plots.draw_history(self.history.getPlotItem(), self.details or {})

    def draw_importances(self) -> None:
        self.importance_note.setText(study_plots.draw_importances(self.importances.getPlotItem(), self.details or {}))

    def draw_slice(self) -> None:
        self.slice_color_bar = study_plots.draw_slice(self.slice, self.details or {}, self.slice_param.currentText(),
                                                      self.slice_color_bar)

    def draw_parallel(self) -> None:
        study_plots.draw_parallel(self.parallel.getPlotItem(), self.details or {})

    def draw_contour(self) -> None:
        self.contour_note.setText(study_plots.draw_contour(self.contour.getPlotItem(), self.details or {},
                                                           self.contour_x.currentText(), self.contour_y.currentText()))

    def draw_pareto(self) -> None:
        d = self.details or {}
        front = study_plots.draw_pareto(self.pareto.getPlotItem(), d)
        kind = "NSGA-II study: " if d.get("sampler") == "nsga2" else ""
        self.pareto_note.setText(f"{kind}{d.get('metric') or 'objective'} against trial duration; red: trials no other "
                                 f"trial beats on both (Pareto front: {', '.join(f'#{n}' for n in front) or 'none yet'}).")

    def draw_population(self) -> None:
        d = self.details or {}
        if not d.get("population"):
            self.population.getPlotItem().clear()
            self.schedule.getPlotItem().clear()
            self.population_note.setText('Population views are for population-based training studies (sampler = "pbt").')
            self.schedule_note.setText("")
            self.compare_lineage_button.setEnabled(False)
            return
        links = population_plots.draw_population(self.population.getPlotItem(), d)
        population = d["population"]
        self.population_note.setText(
            f"{len(population.get('members', {}))} members, {len(population.get('events', []))} exploits: a dashed line "
            f"in the donor's colour joins the donor's value to the member that continues from its weights ({links} drawn)."
        )
        self.draw_schedule()

    def draw_schedule(self) -> None:
        d = self.details or {}
        if not d.get("population"):
            return
        self.schedule_note.setText(population_plots.draw_schedule(self.schedule.getPlotItem(), d, self.schedule_param.currentText()))
        self.compare_lineage_button.setEnabled(bool(self.lineage_runs()))

    def lineage_runs(self) -> list[str]:
        """The best member's runs along its lineage, generation 0 first, each once."""
        schedule = ((self.details or {}).get("population") or {}).get("best_schedule") or []
        return list(dict.fromkeys(u["run_id"] for u in schedule if u.get("run_id")))

    def compare_lineage(self) -> None:
        runs = self.lineage_runs()
        if runs:
            self.compare_requested.emit(runs)

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

    def shutdown(self) -> None:
        """Ends engine calls; a study worker started here stops with the window (its running
        trial is failed by the heartbeat check, and the next worker carries the study on)."""
        for call in list(self._calls):
            call.kill()


def _refill(combo: QComboBox, items: list[str], default: int = 0) -> None:
    current = combo.currentText()
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(items)
    if current in items:
        combo.setCurrentText(current)
    elif items:
        combo.setCurrentIndex(min(default, len(items) - 1))
    combo.blockSignals(False)


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget)
    row.addStretch(1)
    return row


def _page(*parts: Any) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    for part in parts:
        if isinstance(part, QHBoxLayout):
            layout.addLayout(part)
        else:
            layout.addWidget(part, 1 if isinstance(part, pg.PlotWidget) else 0)
    return page
