"""Live monitor: a run's plots, progress (ETA, episodes/s, device memory) and searchable log.

The page observes one ``RunSession`` at a time (the picker lists this session's runs);
switching runs re-points the views, the sessions keep collecting in the background.
Speed and ETA are measured here, per phase, from each run's progress events
(``gui.progress_rate``). With no run open (a fresh start), the page offers the newest run
of the store; names are re-read from the store when the page shows (a rename elsewhere).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QFileDialog,
    QLineEdit,
    QListView,
    QMenu,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import UserError
from engine.fileio import atomic_write_bytes
from engine.store import Store
from gui import startup_imports
from gui.engine_info import format_bytes
from gui.formatting import format_duration, headline_text
from gui.models.log_model import LogFilterModel
from gui.oom_relaunch import OomPanel
from gui.pages.inspect import inspectable
from gui.progress_rate import PHASE_TITLES, PhaseRate, format_rate
from gui.resume import NO_CHECKPOINT_TIP, RESUME_TIP, has_checkpoint
from gui.run_session import RunSession
from gui.widgets.elided_label import ElidedLabel
from gui.widgets.live_plot import LivePlot

# What a run does before its first progress event (a busy bar shows no text).
WAITING = {
    "queued": "waiting for the runs before it",
    "starting": "loading the dataset and the model…",
    "running": "preparing the first episode…",
}
INSPECT_TIP = "Embedding maps and confusion matrices of this finished run's meta-test episodes"


class MonitorPage(QWidget):
    stop_requested = Signal(str)  # run id
    resume_requested = Signal(str)  # run id: continue from its newest checkpoint
    open_requested = Signal(str)  # run id: open a stored run (the newest, offered after a restart)
    inspect_requested = Signal(str)  # run id: a finished run's embedding maps and confusion matrices

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: RunSession | None = None
        self.sessions: list[RunSession] = []
        self.rates: dict[str, PhaseRate] = {}  # run id -> measured speed of its current phase
        self.db_path: Path | None = None  # set by the window: the newest run and renames come from it
        self._latest: str | None = None

        self.picker = QComboBox()
        self.picker.setMinimumContentsLength(24)
        # (not AdjustToContents: a long run name would widen the window)
        self.picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.picker.currentIndexChanged.connect(self._picked)
        self.status = QLabel("No run yet: launch one from New experiment.")
        self.status.setObjectName("runStatus")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.latest_button = QPushButton("Open the latest run")
        self.latest_button.setVisible(False)
        self.latest_button.clicked.connect(lambda: self._latest and self.open_requested.emit(self._latest))
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Graceful stop: the engine finishes the step, writes a checkpoint, then exits")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self._stop_clicked)
        top = QHBoxLayout()
        top.addWidget(QLabel("Run"))
        top.addWidget(self.picker)
        top.addWidget(self.status, 1)
        top.addWidget(self.latest_button)
        top.addWidget(self.stop_button)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip(RESUME_TIP)
        self.resume_button.setEnabled(False)
        self.resume_button.clicked.connect(self._resume_clicked)
        top.addWidget(self.resume_button)
        self.inspect_button = QPushButton("Inspect")
        self.inspect_button.setToolTip(INSPECT_TIP)
        self.inspect_button.setEnabled(False)
        self.inspect_button.clicked.connect(self._inspect_clicked)
        top.addWidget(self.inspect_button)
        self.oom_panel = OomPanel()
        # A run's warnings (validation on training data, a locked database...) stay in sight,
        # not only in the log pane where they scroll away.
        self.warning_line = QLabel("")
        self.warning_line.setObjectName("runWarning")
        self.warning_line.setTextFormat(Qt.TextFormat.PlainText)
        self.warning_line.setWordWrap(True)
        self.warning_line.setStyleSheet("QLabel#runWarning { color: #7a4a00; background: #fff3dc; padding: 4px; }")
        self.warning_line.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.warning_line.setVisible(False)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self._progress_timer = QTimer(self, singleShot=True, interval=100)
        self._progress_timer.timeout.connect(self._show_latest_progress)
        self.progress_text = QLabel("")
        self.progress_text.setObjectName("progressText")
        self.progress_text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 2)
        progress_row.addWidget(self.progress_text, 3)

        self.plot = LivePlot()
        self.x_mode = QComboBox()
        self.x_mode.addItem("Step", "step")
        self.x_mode.addItem("Wall time", "wall")
        self.x_mode.currentIndexChanged.connect(lambda _i: self.plot.set_x_mode(self.x_mode.currentData()))
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(0)
        self.smoothing.setMaximumWidth(200)
        self.smoothing.setToolTip("Exponential moving average; the raw curve stays visible, faint "
                                  "(not applied to the learning rate, system figures or final metrics)")
        self.smoothing_label = QLabel("0.00")
        self.smoothing.valueChanged.connect(self._smoothing_changed)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("x axis"))
        controls.addWidget(self.x_mode)
        controls.addSpacing(16)
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.smoothing)
        controls.addWidget(self.smoothing_label)
        controls.addSpacing(16)
        self.log_y = QCheckBox("Log y")
        self.log_y.setToolTip("Log scale on every plot (non-positive values are left out); right-click a plot for one")
        self.log_y.toggled.connect(self.plot.set_log)
        controls.addWidget(self.plot.picker)
        controls.addWidget(self.log_y)
        self.export_button = QToolButton(text="Export")
        self.export_button.setToolTip("Every chart as one image (one chart: right-click it)")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        export_menu = QMenu(self)
        export_menu.addAction("Charts as PNG…", lambda: self._export_dialog("png"))
        export_menu.addAction("Charts as SVG…", lambda: self._export_dialog("svg"))
        self.export_button.setMenu(export_menu)
        controls.addWidget(self.export_button)
        controls.addStretch(1)
        self.hint = ElidedLabel("Drag to pan, wheel to zoom, right-click for options")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignRight)
        controls.addWidget(self.hint, 1)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search the log")
        self.search.setClearButtonEnabled(True)
        self.log_filter = LogFilterModel(self)
        self.search.textChanged.connect(self.log_filter.set_search)
        self.log_view = QListView()
        self.log_view.setModel(self.log_filter)
        self.log_view.setUniformItemSizes(True)
        self.log_view.setObjectName("logView")
        font = self.log_view.font()
        font.setFamily("monospace")
        font.setStyleHint(font.StyleHint.Monospace)
        self.log_view.setFont(font)
        log_box = QWidget()
        log_layout = QVBoxLayout(log_box)
        log_layout.setContentsMargins(0, 0, 0, 0)
        log_layout.addWidget(self.search)
        log_layout.addWidget(self.log_view)

        plots = QWidget()
        plots_layout = QVBoxLayout(plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addLayout(controls)
        plots_layout.addWidget(self.plot, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(plots)
        splitter.addWidget(log_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.warning_line)
        layout.addWidget(self.oom_panel)
        layout.addLayout(progress_row)
        layout.addWidget(splitter, 1)

    # --- sessions -----------------------------------------------------------------------
    def add_session(self, session: RunSession, *, show: bool = True) -> None:
        earlier = next((i for i, s in enumerate(self.sessions) if s.run_id == session.run_id), None)
        if earlier is not None:  # a resumed run: its new session takes the old one's place, listed once
            self.sessions[earlier] = session
            self.picker.setItemText(earlier, self._picker_text(session))
            self.rates.pop(session.run_id, None)
        else:
            self.sessions.append(session)
            self.picker.addItem(self._picker_text(session), session.run_id)
        session.status_changed.connect(lambda _s, s=session: self._session_status(s))
        rate = self.rates.setdefault(session.run_id, PhaseRate())
        session.progress_changed.connect(rate.update)
        if session.progress:
            rate.update(session.progress)
        self.latest_button.setVisible(False)
        if show:
            index = self.sessions.index(session)
            if self.picker.currentIndex() == index:
                self._picked(index)  # the same row, a new session: show it
            else:
                self.picker.setCurrentIndex(index)
        if not session.is_over:  # a run launched while scipy still imports: the stream comes first
            self._hold_imports_while_live(session)

    def _hold_imports_while_live(self, session: RunSession) -> None:
        """The start-up imports (scipy, for Compare) wait while a run streams: an import holds
        the GIL, and beside 2,000 events a second it stalled the loop ~100-150 ms at a time.
        Compare imports what it needs on its own thread meanwhile."""
        startup_imports.hold()

        def release_when_over(_status: str) -> None:
            if session.is_over:
                session.status_changed.disconnect(release_when_over)  # once, however often the end is told
                startup_imports.release()

        session.status_changed.connect(release_when_over)

    def show_session(self, session: RunSession) -> None:
        if session not in self.sessions:
            self.add_session(session)
        else:
            self.picker.setCurrentIndex(self.sessions.index(session))

    def _picker_text(self, session: RunSession) -> str:
        return f"{session.name} ({session.run_id}) — {session.status}"

    def showEvent(self, event) -> None:  # noqa: ANN001
        super().showEvent(event)
        self.refresh_from_store()

    def refresh_from_store(self) -> None:
        """Names as the store has them now (a rename on the Runs page or the CLI), and, with
        no run open, the newest run offered."""
        if self.db_path is None or not Path(self.db_path).exists():
            return
        try:
            with Store(self.db_path, readonly=True) as store:
                names = {}
                for session in self.sessions:
                    try:
                        names[session.run_id] = store.get_run(session.run_id)["name"]
                    except UserError:  # deleted since: it keeps the name it had
                        pass
                latest = store.list_runs(config=False, limit=1) if not self.sessions else []
        except (UserError, OSError, ValueError):
            return
        for index, session in enumerate(self.sessions):
            name = names.get(session.run_id)
            if name and name != session.name:
                session.name = name
                self.picker.setItemText(index, self._picker_text(session))
        if latest:
            run = latest[0]
            self._latest = run["id"]
            short = run["name"] if len(run["name"]) <= 32 else run["name"][:31] + "…"  # a button never widens the window
            self.latest_button.setText(f"Open the latest run: {short}")
            self.latest_button.setVisible(True)
            self.latest_button.setToolTip(f"{run['name']} ({run['id']}), {run['status']}")
            self.status.setText("No run open yet.")

    def _picked(self, index: int) -> None:
        if self.session is not None:
            for signal, slot in (
                (self.session.progress_changed, self._queue_progress),
                (self.session.info_changed, self._show_status),
                (self.session.log.rowsInserted, self._show_warnings),
                (self.session.log.rowsAboutToBeInserted, self._note_log_position),
                (self.session.log.rowsInserted, self._follow_log),
            ):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.session = self.sessions[index] if 0 <= index < len(self.sessions) else None
        self.plot.set_session(self.session)
        if self.session is None:
            return
        self.session.progress_changed.connect(self._queue_progress)
        self.session.info_changed.connect(self._show_status)
        self.session.log.rowsInserted.connect(self._show_warnings)
        self.session.log.rowsAboutToBeInserted.connect(self._note_log_position)
        self.session.log.rowsInserted.connect(self._follow_log)
        self.log_filter.setSourceModel(self.session.log)
        self.log_view.scrollToBottom()
        self._show_warnings()
        self._show_progress(self.session.progress)
        self._show_status()

    def _note_log_position(self, *_args: Any) -> None:
        bar = self.log_view.verticalScrollBar()
        self._log_at_bottom = bar.value() >= bar.maximum()

    def _follow_log(self, *_args: Any) -> None:
        """New lines scroll into view, unless the user scrolled up to read older ones."""
        if getattr(self, "_log_at_bottom", True):
            self.log_view.scrollToBottom()

    def _show_warnings(self, *_args: Any) -> None:
        warnings = self.session.log.warnings if self.session is not None else []
        if warnings:
            more = f"  (+{len(warnings) - 1} more in the log)" if len(warnings) > 1 else ""
            self.warning_line.setText(f"⚠ {warnings[0]}{more}")
        self.warning_line.setVisible(bool(warnings))

    def _session_status(self, session: RunSession) -> None:
        if session in self.sessions:
            self.picker.setItemText(self.sessions.index(session), self._picker_text(session))
        if session is self.session:
            self._show_status()

    # --- showing ------------------------------------------------------------------------
    def _show_status(self) -> None:
        s = self.session
        if s is None:
            return
        text = f"<b>{s.status}</b>"
        if s.device:
            text += f" on {s.device}"
        self._show_progress(s.progress)
        if s.status == "failed" and s.error:
            text += f" — <span style='color:#c62828'>{_escape(s.error)}</span>"
        elif s.status == "interrupted" and s.error:
            text += f" — {_escape(s.error)}"
        elif s.status == "finished" and s.final_metrics:
            headline = headline_text(s.final_metrics, with_ci=True)
            text += f" — {headline}" if headline else ""
        self.status.setText(text)
        self.stop_button.setEnabled(s.status in ("queued", "starting", "running"))
        resumable = s.status in ("interrupted", "failed")
        checkpointed = resumable and has_checkpoint(self.db_path, s.run_id)
        self.resume_button.setEnabled(checkpointed)
        self.resume_button.setToolTip(RESUME_TIP if checkpointed or not resumable else NO_CHECKPOINT_TIP)
        self.inspect_button.setEnabled(s.status == "finished" and inspectable(s.final_metrics))
        self.inspect_button.setToolTip(INSPECT_TIP if s.status != "finished" or inspectable(s.final_metrics) else
                                       "Inspect shows the meta-test episodes of sentence classification runs: not this run's")
        self.oom_panel.show_for(s)

    def _queue_progress(self, _event: dict[str, Any]) -> None:
        """Progress can arrive hundreds of times a second: show it at most 10 times."""
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def _show_latest_progress(self) -> None:
        if self.session is not None:
            self._show_progress(self.session.progress)

    def _show_progress(self, event: dict[str, Any]) -> None:
        s = self.session
        status = s.status if s is not None else ""
        done, total = int(event.get("done") or 0), int(event.get("total") or 0)
        if status == "finished":  # full, whatever the last event said (or none: a reopened run)
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(max(total, 1))
            self.progress.setFormat("finished: %v / %m" if total else "finished")
        elif not event or not total:
            if status in ("queued", "starting", "running"):
                self.progress.setRange(0, 0)  # busy: no count to show yet
                self.progress.setFormat(status)
            else:
                self.progress.setRange(0, 1)
                self.progress.setValue(0)
                self.progress.setFormat(status)
        else:
            phase = str(event.get("phase") or "train")
            if status == "interrupted" and s is not None and s.train_progress:
                # a stop in a validation or the meta-test: the step training reached, not that phase's counter
                losses = s.series.get("train_loss")
                last_step = int(losses.steps[-1]) if losses is not None and losses.size else 0  # progress is coalesced
                done = max(int(s.train_progress.get("done") or 0), last_step)
                total = int(s.train_progress.get("total") or 0) or total
                phase = "train"
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            title = PHASE_TITLES.get(phase, phase)
            stopped = "interrupted at step %v / %m" if phase == "train" else f"interrupted in the {title} at %v / %m"
            self.progress.setFormat(f"{title} %v / %m" if status != "interrupted" else stopped)
        parts = [WAITING[status]] if not event and status in WAITING else []  # what a busy bar cannot say
        rate = self.rates.get(s.run_id) if s is not None else None
        if event and s is not None and not s.is_over and rate is not None:
            # the engine's ETA covers every phase left (validations, reference, meta-test);
            # a follower reading the store has none, and shows this phase's
            whole_run = event.get("run_eta_seconds")
            eta = whole_run if isinstance(whole_run, (int, float)) else rate.eta()
            label = "ETA (whole run)" if isinstance(whole_run, (int, float)) else "ETA"
            parts.append(f"{label} {format_duration(eta)}" if eta is not None else "ETA: measuring…")
            speed = format_rate(rate.rate(), str(event.get("unit") or "episodes"))
            if speed:
                parts.append(speed)
        memory = event.get("memory_allocated", event.get("memory"))
        if isinstance(memory, (int, float)):
            parts.append(f"device memory {format_bytes(memory)}")
        self.progress_text.setText(" · ".join(parts))

    def _smoothing_changed(self, value: int) -> None:
        weight = value / 100
        self.smoothing_label.setText(f"{weight:.2f}")
        self.plot.set_smoothing(weight)

    def export_charts(self, fmt: str, path: Path) -> None:
        """Every chart of the run on show, as PNG or SVG."""
        atomic_write_bytes(Path(path), self.plot.grid.export(fmt))

    def _export_dialog(self, fmt: str) -> None:
        name = self.session.name if self.session is not None else "charts"
        path, _ = QFileDialog.getSaveFileName(self, "Export the charts", str(Path.home() / f"{name}.{fmt}"),
                                              "PNG image (*.png)" if fmt == "png" else "SVG image (*.svg)")
        if path:
            try:
                self.export_charts(fmt, Path(path))
            except OSError as exc:
                self.status.setText(f"Cannot export: {_escape(str(exc))}")

    def _stop_clicked(self) -> None:
        if self.session is not None:
            self.stop_requested.emit(self.session.run_id)

    def _inspect_clicked(self) -> None:
        if self.session is not None:
            self.inspect_requested.emit(self.session.run_id)

    def _resume_clicked(self) -> None:
        if self.session is not None:
            self.resume_requested.emit(self.session.run_id)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
