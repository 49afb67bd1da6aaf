"""Try a trained model: a finished run's encoder labels query texts, adapted to a few
labelled examples typed here. The work runs in the engine (``metalab-engine predict``),
never in the GUI process; the answer shows as a table of labels with probabilities.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.paths import artifacts_dir
from engine.store import Store
from gui.background import Worker
from gui.engine_info import EngineCall
from gui.engine_process import engine_command
from gui.models.records_model import RecordsModel
from gui.pages.compare import table_view

EXAMPLE_SUPPORT = """refund: I want my money back for this order
refund: please return the payment to my card
delivery: where is my parcel right now
delivery: the package has not arrived yet
password: I forgot my password and cannot log in
password: reset my login details please"""
EXAMPLE_QUERY = """my order never came
can I get a refund
I cannot sign in to my account"""


def parse_support(text: str) -> list[dict[str, str]]:
    """One example per line, ``label: text``; blank lines are skipped."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        label, sep, body = line.partition(":")
        if not sep or not label.strip() or not body.strip():
            raise ValueError(f"line {number}: write it as 'label: text'")
        out.append({"label": label.strip(), "text": body.strip()})
    return out


class TryModelPage(QWidget):
    prediction_shown = Signal()
    model_exported = Signal(str)  # the folder written

    def __init__(self, db_path: Path, parent: QWidget | None = None, *, command: list[str] | None = None):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.command = command or engine_command()
        self.worker = Worker(self)
        self.call: EngineCall | None = None
        self.run_combo = QComboBox()
        self.run_combo.setMinimumContentsLength(40)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button = QPushButton("Export as Hugging Face folder…")
        self.export_button.setToolTip("The run's trained encoder with its tokenizer (save_pretrained, safetensors): "
                                      "loads with transformers.AutoModel")
        self.export_button.clicked.connect(self._export_dialog)
        self.export_call: EngineCall | None = None
        self.support = QPlainTextEdit(EXAMPLE_SUPPORT)
        self.support.setToolTip("One labelled example per line: label: text")
        self.query = QPlainTextEdit(EXAMPLE_QUERY)
        self.query.setToolTip("One text per line")
        self.predict_button = QPushButton("Predict")
        self.predict_button.clicked.connect(self.predict)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.results = RecordsModel(["Query", "Label", "Probabilities"])

        top = QHBoxLayout()
        top.addWidget(QLabel("Finished run"))
        top.addWidget(self.run_combo, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.export_button)
        inputs = QWidget()
        left = QVBoxLayout(inputs)
        left.addWidget(QLabel("<b>Support examples</b> — one per line, <i>label: text</i>"))
        left.addWidget(self.support, 3)
        left.addWidget(QLabel("<b>Queries</b> — one text per line"))
        left.addWidget(self.query, 2)
        row = QHBoxLayout()
        row.addWidget(self.predict_button)
        row.addWidget(self.message, 1)
        left.addLayout(row)
        splitter = QSplitter()
        splitter.addWidget(inputs)
        splitter.addWidget(table_view(self.results))
        splitter.setSizes([500, 700])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(QLabel("The run's trained encoder embeds the examples; each query gets the softmax of its "
                                "cosine similarity to each label's mean (computed by the engine, not here)."))
        layout.addWidget(splitter, 1)

    def refresh(self) -> None:
        db_path = self.db_path

        def load() -> list[dict[str, Any]]:
            if not db_path.exists():
                return []
            with Store(db_path, readonly=True) as store:
                runs = store.list_runs(status="finished", config=False)
            root = artifacts_dir(db_path)
            return [r for r in runs if (root / r["id"] / "weights" / "model.safetensors").exists()]

        self.worker.submit(load, self._runs_loaded, lambda exc: self.message.setText(str(exc)))

    def _runs_loaded(self, runs: list[dict[str, Any]]) -> None:
        current = self.run_combo.currentData()
        self.run_combo.clear()
        for run in runs:
            acc = run["final_metrics"].get("test_accuracy")
            acc_text = f", test accuracy {acc:.3f}" if isinstance(acc, (int, float)) else ""
            self.run_combo.addItem(f"{run['name']} ({run['id']}, {run['method']}{acc_text})", run["id"])
        if current:
            self.run_combo.setCurrentIndex(max(0, self.run_combo.findData(current)))
        self.predict_button.setEnabled(bool(runs))
        self.export_button.setEnabled(bool(runs))
        if not runs:
            self.message.setText("No finished run with saved weights yet.")

    def request(self) -> dict[str, Any]:
        queries = [q.strip() for q in self.query.toPlainText().splitlines() if q.strip()]
        return {"support": parse_support(self.support.toPlainText()), "query": queries}

    def predict(self) -> None:
        run_id = self.run_combo.currentData()
        if not run_id:
            return
        try:
            request = self.request()
        except ValueError as exc:
            self.message.setText(str(exc))
            return
        handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8")
        with handle:
            json.dump(request, handle)
        self.predict_button.setEnabled(False)
        self.message.setText("The engine is loading the model…")
        self.call = EngineCall(["predict", run_id, "--db", str(self.db_path), "--input", handle.name], self.command, self)
        self.call.done.connect(lambda result, error: self._predicted(result, error, Path(handle.name)))

    def _predicted(self, result: Any, error: str, request_file: Path) -> None:
        request_file.unlink(missing_ok=True)
        self.predict_button.setEnabled(True)
        if error:
            self.message.setText(f"Cannot predict: {error}")
            return
        rows = []
        for p in result["predictions"]:
            probs = ", ".join(f"{label} {value:.2f}" for label, value in p["probabilities"].items())
            rows.append([p["text"], f"{p['label']} ({p['probabilities'][p['label']]:.0%})", probs])
        self.results.set_rows(rows)
        self.message.setText(f"{len(rows)} queries labelled by run {result['run_id']}.")
        self.prediction_shown.emit()

    # --- export ---------------------------------------------------------------------------
    def _export_dialog(self) -> None:
        run_id = self.run_combo.currentData()
        if not run_id:
            return
        folder = QFileDialog.getExistingDirectory(self, "Export the model into a folder (a new subfolder is made)", str(Path.home()))
        if folder:
            self.export_model(Path(folder) / f"metalab-{run_id}")

    def export_model(self, out_dir: Path) -> None:
        """``metalab-engine export-model`` in a subprocess: the GUI never loads the weights."""
        run_id = self.run_combo.currentData()
        if not run_id:
            return
        self.export_button.setEnabled(False)
        self.message.setText(f"The engine is writing {out_dir}…")
        self.export_call = EngineCall(["export-model", run_id, str(out_dir), "--db", str(self.db_path), "--json"], self.command, self)
        self.export_call.done.connect(self._exported)

    def _exported(self, result: Any, error: str) -> None:
        self.export_button.setEnabled(True)
        if error:
            self.message.setText(f"Cannot export: {error}")
            return
        self.message.setText(f"Exported run {result['run_id']} to {result['path']} ({', '.join(result['files'])}).")
        self.model_exported.emit(result["path"])
