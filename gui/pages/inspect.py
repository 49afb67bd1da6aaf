"""Inspect a finished run: one meta-test episode's examples mapped in 2-D by the base model
(before training) and by the run's trained model (after), coloured by class, with the
queries each got wrong, and confusion matrices for the episode and for all meta-test
episodes. The engine computes everything (``metalab-engine inspect --json``) in its own
process; this page only draws the answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.paths import artifacts_dir
from engine.store import Store
from gui.background import Worker
from gui.engine_info import EngineCall
from gui.engine_process import engine_command
from gui.formatting import headline_text
from gui.widgets.confusion_table import ConfusionTable
from gui.widgets.embedding_map import EmbeddingMap, legend_html
from gui.widgets.message_line import MessageLine

PROJECTION_CHOICES = (("auto", "UMAP if installed, else t-SNE"), ("tsne", "t-SNE"), ("umap", "UMAP (umap-learn)"))
# The first inspection of a run adapts to every meta-test episode (MAML on CPU: minutes);
# progress lines show it going, and Cancel ends it.
INSPECT_TIMEOUT_MS = 0


def inspectable(final: dict[str, Any]) -> bool:
    """Whether a finished run's results are what ``inspect`` shows: meta-test episodes of
    sentence classification (an NER or language-modelling run has another headline, a
    supervised run no episodes)."""
    return (final.get("headline_metric") or "test_accuracy") == "test_accuracy" and bool(final.get("test_episodes"))


NO_RUNS = "No finished episodic run with saved weights yet."


def inspectable_runs(db_path: Path) -> list[dict[str, Any]]:
    """Finished episodic classification runs with saved weights, newest first."""
    if not db_path.exists():
        return []
    with Store(db_path, readonly=True) as store:
        runs = store.list_runs(status="finished", config=False)
    root = artifacts_dir(db_path)
    return [r for r in runs if r.get("task_mode", "episodic") == "episodic" and inspectable(r.get("final_metrics") or {})
            and (root / r["id"] / "weights" / "model.safetensors").exists()]


class InspectPage(QWidget):
    inspected = Signal()  # an answer is on screen
    failed = Signal(str)

    def __init__(self, db_path: Path, parent: QWidget | None = None, *, command: list[str] | None = None):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.command = command or engine_command()
        self.worker = Worker(self)
        self.call: EngineCall | None = None
        self.result: dict[str, Any] | None = None
        self._pending: tuple[str, int] | None = None  # (run id, episode) asked for before the list arrived

        self.run_combo = QComboBox()
        self.run_combo.setMinimumContentsLength(12)  # the window must fit 1024 px wide
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run_combo.currentIndexChanged.connect(self._run_changed)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.episode = QSpinBox()
        self.episode.setRange(0, 0)
        self.episode.setToolTip("Meta-test episode: the same episodes for every run on this data and split seed")
        self.projection = QComboBox()
        for value, text in PROJECTION_CHOICES:
            self.projection.addItem(text, value)
        self.inspect_button = QPushButton("Inspect")
        self.inspect_button.clicked.connect(self.inspect)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.message = MessageLine()

        self.before_map = EmbeddingMap()
        self.after_map = EmbeddingMap()
        self.legend = QLabel("")
        self.legend.setWordWrap(True)
        self.episode_table = ConfusionTable()
        self.all_table = ConfusionTable()
        self.tables = QTabWidget()
        self.tables.addTab(self.episode_table, "This episode")
        self.tables.addTab(self.all_table, "All meta-test episodes")

        top = QHBoxLayout()
        top.addWidget(QLabel("Run"))
        top.addWidget(self.run_combo, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(QLabel("Episode"))
        top.addWidget(self.episode)
        top.addWidget(QLabel("Map"))
        top.addWidget(self.projection)
        top.addWidget(self.inspect_button)
        top.addWidget(self.cancel_button)
        maps = QWidget()
        maps_layout = QVBoxLayout(maps)
        maps_layout.setContentsMargins(0, 0, 0, 0)
        pair = QHBoxLayout()
        self.map_titles = {}
        for name, widget in (("before", self.before_map), ("after", self.after_map)):
            column = QVBoxLayout()
            self.map_titles[name] = QLabel("")
            self.map_titles[name].setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.map_titles[name].setWordWrap(True)
            column.addWidget(self.map_titles[name])
            column.addWidget(widget, 1)
            pair.addLayout(column)
        maps_layout.addLayout(pair, 1)
        maps_layout.addWidget(self.legend)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(maps)
        splitter.addWidget(self.tables)
        splitter.setSizes([420, 260])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)
        self._set_busy(False)

    # --- runs ----------------------------------------------------------------------------
    def refresh(self) -> None:
        self.worker.submit(lambda: inspectable_runs(self.db_path), self._runs_loaded, lambda exc: self.message.setText(str(exc)))

    def _runs_loaded(self, runs: list[dict[str, Any]]) -> None:
        current = self._pending[0] if self._pending else self.run_combo.currentData()
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for run in runs:
            score = headline_text(run["final_metrics"] or {})
            self.run_combo.addItem(f"{run['name']} ({run['id']}, {run['method']}{', ' + score if score else ''})", run["id"])
            self.run_combo.setItemData(self.run_combo.count() - 1, run, Qt.ItemDataRole.UserRole + 1)
        if current and self.run_combo.findData(current) >= 0:
            self.run_combo.setCurrentIndex(self.run_combo.findData(current))
        self.run_combo.blockSignals(False)
        self._run_changed()
        if not runs:
            self.message.setText(NO_RUNS)
        elif self.message.text() == NO_RUNS:  # said before the run finished: not beside the run now listed
            self.message.setText("")
        pending, self._pending = self._pending, None
        if pending:
            run_id, episode = pending
            if self.run_combo.currentData() == run_id:
                self.episode.setValue(episode)
                self.inspect()
            else:
                self.message.setText(f"Run {run_id} cannot be inspected: only finished episodic runs with saved weights can.")

    def _run_changed(self) -> None:
        run = self.run_combo.currentData(Qt.ItemDataRole.UserRole + 1)
        episodes = int(((run or {}).get("final_metrics") or {}).get("test_episodes") or 1)
        self.episode.setRange(0, max(0, episodes - 1))
        self._set_busy(self.call is not None)

    def show_run(self, run_id: str, episode: int = 0) -> None:
        """Selects ``run_id`` (reloading the list) and inspects it (Runs, Compare, Monitor)."""
        self._pending = (run_id, episode)
        self.refresh()

    # --- the engine call -------------------------------------------------------------------
    def inspect(self) -> None:
        run_id = self.run_combo.currentData()
        if not run_id or self.call is not None:
            return
        args = ["inspect", run_id, "--db", str(self.db_path), "--episode", str(self.episode.value()),
                "--projection", str(self.projection.currentData()), "--json"]
        self.message.setText(f"The engine is loading run {run_id}…")
        self.call = EngineCall(args, self.command, self, timeout_ms=INSPECT_TIMEOUT_MS)
        self.call.progress.connect(lambda text: self.message.setText(f"Answering every meta-test episode once: {text}"))
        self.call.done.connect(self._answered)
        self._set_busy(True)

    def cancel(self) -> None:
        if self.call is not None:
            call, self.call = self.call, None
            call.done.disconnect()
            call.kill()
            call.deleteLater()
            self.message.setText("Cancelled.")
            self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        self.inspect_button.setEnabled(not busy and self.run_combo.count() > 0)
        self.cancel_button.setEnabled(busy)

    def _answered(self, result: Any, error: str) -> None:
        self.call = None
        self._set_busy(False)
        if error or not isinstance(result, dict):
            self.message.setText(f"Cannot inspect: {error or 'no answer from the engine'}")
            self.failed.emit(error)
            return
        self.show_result(result)

    # --- drawing -----------------------------------------------------------------------------
    def show_result(self, result: dict[str, Any]) -> None:
        self.result = result
        classes, examples, views = result["classes"], result["examples"], result["views"]
        queries = sum(e["role"] == "query" for e in examples)
        for widget, name, when in ((self.before_map, "before", "Before training"), (self.after_map, "after", "After training")):
            view = views[name]
            sil = f" · silhouette {view['silhouette']:+.2f}" if view["silhouette"] is not None else ""
            widget.show_view(f"{when}: {sum(view['wrong'])} of {queries} queries wrong{sil}", examples, view, classes)
            self.map_titles[name].setText(f"<b>{widget.title}</b>")
        self.legend.setText(legend_html(classes))
        self.episode_table.show_table(result["confusion"]["episode"])
        overall = result["confusion"]["all"]
        self.all_table.show_table(overall)
        self.tables.setTabText(0, f"This episode: {result['confusion']['episode']['accuracy']:.0%}")
        self.tables.setTabText(1, f"All {overall['episodes']} meta-test episodes: {overall['accuracy']:.1%}")
        stored = result.get("stored_accuracy")
        recorded = f"; the run's meta-test recorded {stored:.0%} on it" if stored is not None else ""
        self.message.setText(f"Episode {result['episode']} of {result['name']} ({result['run_id']}, {result['method']}), "
                             f"{len(classes)} classes, map by {result['projection']}{recorded}.")
        self.inspected.emit()
