"""Live monitor: a run's plots, progress (ETA, episodes/s, device memory) and searchable log.

The page observes one ``RunSession`` at a time (the picker lists this session's runs);
switching runs re-points the views, the sessions keep collecting in the background.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.engine_info import format_bytes
from gui.formatting import format_duration
from gui.models.log_model import LogFilterModel
from gui.oom_relaunch import OomPanel
from gui.run_session import RunSession
from gui.widgets.live_plot import LivePlot


class MonitorPage(QWidget):
    stop_requested = Signal(str)  # run id
    resume_requested = Signal(str)  # run id: continue from its newest checkpoint

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: RunSession | None = None
        self.sessions: list[RunSession] = []

        self.picker = QComboBox()
        self.picker.setMinimumContentsLength(30)
        self.picker.currentIndexChanged.connect(self._picked)
        self.status = QLabel("No run yet: launch one from New experiment.")
        self.status.setObjectName("runStatus")
        self.status.setWordWrap(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Graceful stop: the engine finishes the step, writes a checkpoint, then exits")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self._stop_clicked)
        top = QHBoxLayout()
        top.addWidget(QLabel("Run"))
        top.addWidget(self.picker)
        top.addWidget(self.status, 1)
        top.addWidget(self.stop_button)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue this interrupted or failed run from its newest checkpoint")
        self.resume_button.setEnabled(False)
        self.resume_button.clicked.connect(self._resume_clicked)
        top.addWidget(self.resume_button)
        self.oom_panel = OomPanel()

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m")
        self._progress_timer = QTimer(self, singleShot=True, interval=100)
        self._progress_timer.timeout.connect(self._show_latest_progress)
        self.progress_text = QLabel("")
        self.progress_text.setObjectName("progressText")
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
        self.smoothing.setToolTip("Exponential moving average; the raw curve stays visible, faint")
        self.smoothing_label = QLabel("0.00")
        self.smoothing.valueChanged.connect(self._smoothing_changed)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("x axis"))
        controls.addWidget(self.x_mode)
        controls.addSpacing(16)
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.smoothing)
        controls.addWidget(self.smoothing_label)
        controls.addStretch(1)
        controls.addWidget(QLabel("Drag to pan, wheel to zoom, right-click for options"))

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
        layout.addWidget(self.oom_panel)
        layout.addLayout(progress_row)
        layout.addWidget(splitter, 1)

    # --- sessions -----------------------------------------------------------------------
    def add_session(self, session: RunSession, *, show: bool = True) -> None:
        self.sessions.append(session)
        self.picker.addItem(self._picker_text(session), session.run_id)
        session.status_changed.connect(lambda _s, s=session: self._session_status(s))
        if show:
            self.picker.setCurrentIndex(self.picker.count() - 1)

    def show_session(self, session: RunSession) -> None:
        if session not in self.sessions:
            self.add_session(session)
        else:
            self.picker.setCurrentIndex(self.sessions.index(session))

    def _picker_text(self, session: RunSession) -> str:
        return f"{session.name} ({session.run_id}) — {session.status}"

    def _picked(self, index: int) -> None:
        if self.session is not None:
            for signal, slot in (
                (self.session.progress_changed, self._queue_progress),
                (self.session.info_changed, self._show_status),
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
        self.log_filter.setSourceModel(self.session.log)
        self.log_view.scrollToBottom()
        self._show_progress(self.session.progress)
        self._show_status()

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
            text += headline_summary(s.final_metrics)
        self.status.setText(text)
        self.stop_button.setEnabled(s.status in ("queued", "starting", "running"))
        self.resume_button.setEnabled(s.status in ("interrupted", "failed"))
        self.oom_panel.show_for(s)

    def _queue_progress(self, _event: dict[str, Any]) -> None:
        """Progress can arrive hundreds of times a second: show it at most 10 times."""
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def _show_latest_progress(self) -> None:
        if self.session is not None:
            self._show_progress(self.session.progress)

    def _show_progress(self, event: dict[str, Any]) -> None:
        if not event:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress_text.setText("")
            return
        done, total = int(event.get("done") or 0), int(event.get("total") or 0)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        over = self.session is not None and self.session.is_over
        parts = [] if over else [f"ETA {format_duration(event.get('eta_seconds'))}"]
        rate = event.get("rate")
        if isinstance(rate, (int, float)):
            parts.append(f"{rate:.1f} episodes/s")
        memory = event.get("memory_allocated", event.get("memory"))
        if isinstance(memory, (int, float)):
            parts.append(f"device memory {format_bytes(memory)}")
        phase = event.get("phase")
        if phase:
            parts.insert(0, str(phase))
        self.progress_text.setText(" · ".join(parts))

    def _smoothing_changed(self, value: int) -> None:
        weight = value / 100
        self.smoothing_label.setText(f"{weight:.2f}")
        self.plot.set_smoothing(weight)

    def _stop_clicked(self) -> None:
        if self.session is not None:
            self.stop_requested.emit(self.session.run_id)

    def _resume_clicked(self) -> None:
        if self.session is not None:
            self.resume_requested.emit(self.session.run_id)


def headline_summary(final: dict[str, Any]) -> str:
    """' — test F1 0.280 ± 0.016': the task's headline metric (accuracy for older runs)."""
    key = final.get("headline_metric") or "test_accuracy"
    value = final.get(key)
    if not isinstance(value, (int, float)):
        return ""
    ci = final.get(f"{key}_ci95")
    name = key.replace("_", " ").replace(" f1", " F1")
    return f" — {name} {value:.3f}" + (f" ± {ci:.3f}" if isinstance(ci, (int, float)) else "")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
