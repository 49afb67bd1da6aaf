"""Try a language-modelling run: continue a typed prompt (``metalab-engine generate``) and
score a pasted text before and after the run's method adapts to a few pasted documents
(``metalab-engine perplexity``). Both run in the engine; this widget only asks and shows."""

from __future__ import annotations

import json
import tempfile
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from gui.engine_info import EngineCall
from gui.widgets.message_line import MessageLine

# Loading a real decoder and adapting it (inner steps through the whole model) can take
# minutes on a CPU: longer than the engine's quick questions are given.
CALL_TIMEOUT_MS = 600_000
EXAMPLE_PROMPT = "Stir the soup slowly and"
EXAMPLE_DOCUMENTS = """Chop two onions and fry them in butter until they are soft and golden.

Boil the pasta in salted water for nine minutes, then drain it and keep a cup of the water.

Whisk the eggs with a pinch of salt and pour them into the hot pan."""
EXAMPLE_TEXT = "Slice the garlic thinly and warm it in olive oil before adding the tomatoes."


def documents_of(text: str) -> list[str]:
    """Documents separated by blank lines (a long one wraps in the box: a line break is not a new document)."""
    documents, lines = [], []
    for line in [*text.splitlines(), ""]:
        if line.strip():
            lines.append(line.strip())
        elif lines:
            documents.append(" ".join(lines))
            lines = []
    return documents


def continuation_html(item: dict[str, Any]) -> str:
    """The prompt as typed, then the model's words in bold (what it added)."""
    gap = "" if item["continuation"][:1].isspace() else " "
    added = escape(gap + item["continuation"]) if item["continuation"] else " <i>(the model ended the document at once)</i>"
    return f"{escape(item['prompt'])}<b style='color:#1565c0'>{added}</b>"


def perplexity_summary(result: dict[str, Any]) -> str:
    before, after = result["before"]["perplexity"], result["after"]["perplexity"]
    change = (after - before) / before if before else 0.0
    documents = result["documents"]
    text = (f"Perplexity {before:,.2f} before → {after:,.2f} after adapting on {documents} document{'s' if documents != 1 else ''} "
            f"({change:+.0%}). Adaptation: {result['adaptation']}. {result['tokens']} next tokens scored.")
    if result.get("truncated"):
        text += f" The text is longer than the run's model.max_length ({result['max_length']} tokens): only its start is scored."
    return text


class LanguageModelTry(QWidget):
    generated = Signal()
    scored = Signal()
    call_failed = Signal(str)

    def __init__(self, command: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.command = command
        self.run_id = ""
        self.db_path = Path()
        self.calls: list[EngineCall] = []

        self.prompt = QPlainTextEdit(EXAMPLE_PROMPT)
        self.prompt.setToolTip("The text the model continues")
        self.max_new_tokens = QSpinBox()
        self.max_new_tokens.setRange(1, 1024)
        self.max_new_tokens.setValue(40)
        self.max_new_tokens.setToolTip("Tokens to add at most (--max-new-tokens)")
        self.sample = QCheckBox("Sample (else greedy)")
        self.sample.setToolTip("Draw each next token from the model's distribution (--sample); "
                               "greedy takes the most likely token every time")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.05, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(1.0)
        self.temperature.setToolTip("Below 1 sharper, above 1 flatter (--temperature)")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.01, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setValue(0.95)
        self.top_p.setToolTip("Draw from the smallest set of tokens that holds this much probability (--top-p)")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2_000_000_000)
        self.seed.setToolTip("The same seed gives the same sampled text (--seed)")
        self.stop_at_end = QCheckBox("Stop at the end of a document")
        self.stop_at_end.setChecked(True)
        self.stop_at_end.setToolTip("Unticked, the end token is held back until the token limit (--min-new-tokens): "
                                    "a small model that ends every document at once still shows text")
        self.sample.toggled.connect(self._sampling_changed)
        self.generate_button = QPushButton("Generate")
        self.generate_button.clicked.connect(self.generate)
        self.continuation = QTextBrowser()
        self.continuation.setObjectName("continuation")
        self.continuation.setPlaceholderText("The prompt, then what the model adds (in blue).")

        self.documents = QPlainTextEdit(EXAMPLE_DOCUMENTS)
        self.documents.setToolTip("Documents of the new domain, separated by a blank line: the support set the method adapts on")
        self.text = QPlainTextEdit(EXAMPLE_TEXT)
        self.text.setToolTip("The text whose perplexity is measured, before and after adapting")
        self.score_button = QPushButton("Score before and after adapting")
        self.score_button.clicked.connect(self.score)
        self.result = QLabel("")
        self.result.setObjectName("perplexityResult")
        self.result.setWordWrap(True)
        self.message = MessageLine()

        generate_box = QGroupBox("Continue a prompt")
        generate_layout = QVBoxLayout(generate_box)
        generate_layout.addWidget(self.prompt, 1)
        settings = QFormLayout()
        settings.addRow("Max new tokens", self.max_new_tokens)
        settings.addRow(self.sample)
        sampling = QHBoxLayout()
        for label, widget in (("Temperature", self.temperature), ("Top-p", self.top_p), ("Seed", self.seed)):
            sampling.addWidget(QLabel(label))
            sampling.addWidget(widget)
        sampling.addStretch(1)
        settings.addRow(sampling)
        settings.addRow(self.stop_at_end)
        generate_layout.addLayout(settings)
        generate_layout.addWidget(self.generate_button)
        generate_layout.addWidget(self.continuation, 2)

        score_box = QGroupBox("Perplexity before and after adapting")
        score_layout = QVBoxLayout(score_box)
        hint = QLabel("<b>Documents to adapt on</b> — a blank line between two (the run's method adapts to them as at meta-test)")
        hint.setWordWrap(True)
        score_layout.addWidget(hint)
        score_layout.addWidget(self.documents, 2)
        title = QLabel("<b>Text to score</b>")
        score_layout.addWidget(title)
        score_layout.addWidget(self.text, 1)
        score_layout.addWidget(self.score_button)
        score_layout.addWidget(self.result)

        row = QHBoxLayout()
        row.addWidget(generate_box, 1)
        row.addWidget(score_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row, 1)
        layout.addWidget(self.message)
        self._sampling_changed(False)

    def set_run(self, db_path: Path, run_id: str) -> None:
        self.db_path, self.run_id = Path(db_path), run_id

    def _sampling_changed(self, on: bool) -> None:
        for widget in (self.temperature, self.top_p, self.seed):
            widget.setEnabled(on)

    def _call(self, args: list[str], done: Any) -> None:
        call = EngineCall(args, self.command, self, timeout_ms=CALL_TIMEOUT_MS)
        self.calls.append(call)  # held while it runs (a QObject child, ended with the page)
        call.done.connect(done)
        call.done.connect(lambda *_: self.calls.remove(call) if call in self.calls else None)

    # --- generation -----------------------------------------------------------------------
    def generate_args(self) -> list[str]:
        tokens = self.max_new_tokens.value()
        args = ["generate", self.run_id, "--db", str(self.db_path), "--json", "--prompt", self.prompt.toPlainText(),
                "--max-new-tokens", str(tokens)]
        if not self.stop_at_end.isChecked():
            args += ["--min-new-tokens", str(tokens)]
        if self.sample.isChecked():
            args += ["--sample", "--temperature", f"{self.temperature.value():g}", "--top-p", f"{self.top_p.value():g}",
                     "--seed", str(self.seed.value())]
        return args

    def generate(self) -> None:
        if not self.run_id:
            return
        if not self.prompt.toPlainText().strip():
            self.message.setText("Type a prompt to continue.")
            return
        self.generate_button.setEnabled(False)
        self.message.setText("The engine is loading the model…")
        self._call(self.generate_args(), self._generated)

    def _generated(self, result: Any, error: str) -> None:
        self.generate_button.setEnabled(True)
        if error or not isinstance(result, dict):
            self.message.setText(f"Cannot generate: {error or 'no answer from the engine'}")
            self.call_failed.emit(error)
            return
        self.continuation.setHtml("<br><br>".join(continuation_html(c) for c in result["continuations"]))
        how = "sampled" if result["settings"].get("sample") else "greedy"
        self.message.setText(f"Continued by run {result['run_id']} ({how}, {result['continuations'][0]['tokens']} tokens).")
        self.generated.emit()

    # --- perplexity -----------------------------------------------------------------------
    def request(self) -> dict[str, Any]:
        return {"text": self.text.toPlainText().strip(), "documents": documents_of(self.documents.toPlainText())}

    def score(self) -> None:
        if not self.run_id:
            return
        request = self.request()
        if not request["documents"] or not request["text"]:
            self.message.setText("Paste at least one document to adapt on and a text to score.")
            return
        handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8")
        with handle:
            json.dump(request, handle)
        self.score_button.setEnabled(False)
        self.result.setText("")
        self.message.setText("The engine is adapting the model to the documents…")
        self._call(["perplexity", self.run_id, "--db", str(self.db_path), "--input", handle.name, "--json"],
                   lambda result, error: self._scored(result, error, Path(handle.name)))

    def _scored(self, result: Any, error: str, request_file: Path) -> None:
        request_file.unlink(missing_ok=True)
        self.score_button.setEnabled(True)
        if error or not isinstance(result, dict):
            self.message.setText(f"Cannot score: {error or 'no answer from the engine'}")
            self.call_failed.emit(error)
            return
        self.result.setText(perplexity_summary(result))
        self.message.setText(f"Scored by run {result['run_id']} ({result['method']}).")
        self.scored.emit()
