"""Try a trained model: a finished run's encoder labels query texts, adapted to a few
labelled examples typed here. The work runs in the engine (``metalab-engine predict``),
never in the GUI process; the answer shows as a table of labels with probabilities, or,
for an NER run, as the query sentences with their entities highlighted by type. An ICL or
MetaICL run's answer carries the prompt built for each query, shown read-only. A
language-modelling run gets its own view (``gui.widgets.lm_try``): continue a prompt, and
a text's perplexity before and after adapting on a few documents.
"""

from __future__ import annotations

import json
import tempfile
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.paths import artifacts_dir
from engine.catalog import all_specs
from engine.store import Store
from gui.background import Worker
from gui.engine_info import EngineCall
from gui.engine_process import engine_command
from gui.entity_html import sentence_html, type_colors
from gui.export_places import export_folder, exported
from gui.formatting import headline_text
from gui.method_fit import answers_with_prompts
from gui.ner_examples import TOKEN_TASK, query_request, run_examples, support_request, task_type
from gui.ner_examples import EXAMPLE_QUERY as NER_QUERY
from gui.ner_examples import EXAMPLE_SUPPORT as NER_SUPPORT
from gui.models.records_model import RecordsModel
from gui.pages.compare import table_view
from gui.widgets.lm_try import LanguageModelTry
from gui.widgets.message_line import MessageLine

EXAMPLE_SUPPORT = """refund: I want my money back for this order
refund: please return the payment to my card
delivery: where is my parcel right now
delivery: the package has not arrived yet
password: I forgot my password and cannot log in
password: reset my login details please"""
EXAMPLE_QUERY = """my order never came
can I get a refund
I cannot sign in to my account"""


LM_TASK = "language_modeling"
POSITIVE, NEGATIVE = (26, 150, 65), (215, 25, 28)  # towards the predicted label, away from it


def highlighted(prediction: dict[str, Any]) -> str:
    """The query as HTML, each word shaded by how much it drove the predicted label: green
    towards it, red away from it (``predict --explain``'s weights, -1 to 1)."""
    text, words = prediction["text"], prediction.get("words", [])
    if any(w.get("start") is None for w in words):  # a slow tokenizer: tokens without spans
        body = " ".join(_shade(str(w["text"]), float(w["weight"])) for w in words)
    else:
        parts, at = [], 0
        for w in words:
            parts += [escape(text[at : w["start"]]), _shade(text[w["start"] : w["end"]], float(w["weight"]))]
            at = w["end"]
        body = "".join(parts) + escape(text[at:])
    return f"<b>{escape(prediction['label'])}</b> ← {body}"


def _shade(word: str, weight: float) -> str:
    """A background blended towards white (Qt's rich text has no alpha), stronger for larger weights."""
    base = POSITIVE if weight >= 0 else NEGATIVE
    share = min(1.0, abs(weight)) * 0.7
    r, g, b = (round(255 + (c - 255) * share) for c in base)
    return f'<span style="background-color:#{r:02x}{g:02x}{b:02x}">{escape(word)}</span>'


def prompts_text(predictions: list[dict[str, Any]]) -> str:
    """Each query's built prompt (an ICL or MetaICL run's ``predict`` answer), one after another."""
    parts = [f"── query {i}: {p.get('text', '')}\n{p['prompt']}" for i, p in enumerate(predictions, 1) if "prompt" in p]
    return "\n\n".join(parts)


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


NO_RUNS = "No finished run with saved weights yet."


class TryModelPage(QWidget):
    prediction_shown = Signal()
    examples_shown = Signal()  # the run's own examples filled the inputs
    model_exported = Signal(str)  # the folder written
    call_failed = Signal(str)  # the engine's whole error message

    def __init__(self, db_path: Path, parent: QWidget | None = None, *, command: list[str] | None = None):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.command = command or engine_command()
        self.worker = Worker(self)
        self.call: EngineCall | None = None
        self.run_combo = QComboBox()
        self.run_combo.setMinimumContentsLength(40)
        self.run_combo.currentIndexChanged.connect(self._run_selected)
        self.configs: dict[str, dict[str, Any]] = {}  # run id -> its config, for the task type
        self.method_specs = {s.name: s.to_json() for s in all_specs()}  # what methods --json says
        self.task_type = "classification"
        self._inputs_kind = "classification"
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
        self.support_title = QLabel("<b>Support examples</b> — one per line, <i>label: text</i>")
        self.query_title = QLabel("<b>Queries</b> — one text per line")
        self.run_examples_button = QPushButton("Use the run's examples")
        self.run_examples_button.setToolTip("The support and query sentences of the run's first meta-test episode")
        self.run_examples_button.clicked.connect(self.use_run_examples)
        self.run_examples_button.hide()
        self.tagged = QTextBrowser()
        self.tagged.setObjectName("taggedQueries")
        self.predict_button = QPushButton("Predict")
        self.predict_button.clicked.connect(self.predict)
        self.explain_box = QCheckBox("Show which words drove each prediction")
        self.explain_box.setToolTip("Integrated gradients (captum) through the adapted model, in the engine: a few seconds more")
        self.explain_box.setChecked(True)
        self._explain_tip = self.explain_box.toolTip()
        self.explanations = QTextBrowser()
        self.explanations.setPlaceholderText("Words that pushed towards the predicted label are green, away from it red.")
        self.message = MessageLine()
        self.results = RecordsModel(["Query", "Label", "Probabilities"])
        self.prompts = QPlainTextEdit()
        self.prompts.setObjectName("builtPrompts")
        self.prompts.setReadOnly(True)
        self.prompts.setToolTip("The prompt the engine built from the support examples for each query (ICL, MetaICL)")
        self.lm = LanguageModelTry(self.command)
        self.lm.call_failed.connect(self.call_failed)

        top = QHBoxLayout()
        top.addWidget(QLabel("Finished run"))
        top.addWidget(self.run_combo, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.export_button)
        inputs = QWidget()
        left = QVBoxLayout(inputs)
        left.addWidget(self.support_title)
        left.addWidget(self.support, 3)
        left.addWidget(self.query_title)
        left.addWidget(self.query, 2)
        row = QHBoxLayout()
        row.addWidget(self.predict_button)
        row.addWidget(self.run_examples_button)
        row.addWidget(self.explain_box)
        row.addStretch(1)
        left.addLayout(row)
        left.addWidget(self.message)
        splitter = QSplitter()
        splitter.addWidget(inputs)
        answers = QSplitter(Qt.Orientation.Vertical)
        answers.addWidget(table_view(self.results))
        self.explained_box = explained = QWidget()
        explained_layout = QVBoxLayout(explained)
        explained_layout.setContentsMargins(0, 0, 0, 0)
        heading = QLabel("<b>Which words drove each prediction</b> — green towards the predicted label, red away from it")
        heading.setWordWrap(True)  # the window must fit 1024 px wide
        explained_layout.addWidget(heading)
        explained_layout.addWidget(self.explanations)
        answers.addWidget(explained)
        self.prompts_box = QWidget()
        prompts_layout = QVBoxLayout(self.prompts_box)
        prompts_layout.setContentsMargins(0, 0, 0, 0)
        prompts_title = QLabel("<b>Prompt built for each query</b> — the support examples as demonstrations, then the query")
        prompts_title.setWordWrap(True)
        prompts_layout.addWidget(prompts_title)
        prompts_layout.addWidget(self.prompts)
        self.prompts_box.hide()
        answers.addWidget(self.prompts_box)
        self.answer = QStackedWidget()
        self.answer.addWidget(answers)
        self.answer.addWidget(self.tagged)
        splitter.addWidget(self.answer)
        splitter.setSizes([500, 700])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        self.explanation = QLabel("")
        self.explanation.setWordWrap(True)
        layout.addWidget(self.explanation)
        self.views = QStackedWidget()  # labels and tags, or a language model's own view
        self.views.addWidget(splitter)
        self.views.addWidget(self.lm)
        layout.addWidget(self.views, 1)
        self._show_task_type("classification")

    def refresh(self) -> None:
        db_path = self.db_path

        def load() -> list[dict[str, Any]]:
            if not db_path.exists():
                return []
            with Store(db_path, readonly=True) as store:
                runs = store.list_runs(status="finished")
            root = artifacts_dir(db_path)
            return [r for r in runs if (root / r["id"] / "weights" / "model.safetensors").exists()]

        self.worker.submit(load, self._runs_loaded, lambda exc: self.message.setText(str(exc)))

    def _runs_loaded(self, runs: list[dict[str, Any]]) -> None:
        current = self.run_combo.currentData()
        self.configs = {run["id"]: run.get("config") or {} for run in runs}
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for run in runs:
            score = headline_text(run["final_metrics"] or {})
            self.run_combo.addItem(f"{run['name']} ({run['id']}, {run['method']}{', ' + score if score else ''})", run["id"])
        if current:
            self.run_combo.setCurrentIndex(max(0, self.run_combo.findData(current)))
        self.run_combo.blockSignals(False)
        self._run_selected()
        self.predict_button.setEnabled(bool(runs))
        self.export_button.setEnabled(bool(runs))
        if not runs:
            self.message.setText(NO_RUNS)
        elif self.message.text() == NO_RUNS:  # said before the run finished: not beside the run now listed
            self.message.setText("")

    # --- task types -------------------------------------------------------------------------
    def _run_selected(self, *_: Any) -> None:
        run_id = self.run_combo.currentData() or ""
        config = self.configs.get(run_id, {})
        self.lm.set_run(self.db_path, run_id)
        self._show_task_type(task_type(config))
        method = self.method_specs.get(str((config.get("method") or {}).get("name", "")), {})
        prompted = answers_with_prompts(method) if method else False
        tagger = self.task_type == TOKEN_TASK  # predict --explain attributes a sentence's label, not a word's tag
        self.explain_box.setEnabled(not prompted and not tagger)
        self.explain_box.setToolTip(
            "Word attributions are for nearest-class-mean answers: this run's method scores each label after a prompt, "
            "shown with its answer" if prompted else
            "Word attributions explain a sentence's label: an NER run tags each word, shown highlighted" if tagger else
            self._explain_tip
        )
        self.explained_box.setVisible(not prompted and not tagger)  # its place goes to the prompts or the tagged text
        if prompted and self.task_type != LM_TASK:
            self.explanation.setText(
                "The run's decoder reads the support examples as demonstrations in a prompt, then each query; the label "
                "whose words it finds likeliest next is the answer (computed by the engine, not here)."
            )

    def _show_task_type(self, kind: str) -> None:
        """Inputs, hints and answer view for the selected run's task type."""
        previous = self._inputs_kind  # the kind the support and query boxes were last filled for
        self.task_type = kind
        self.views.setCurrentWidget(self.lm if kind == LM_TASK else self.views.widget(0))
        if kind == LM_TASK:
            self.explanation.setText(
                "The run's trained decoder continues a prompt, and scores a text before and after its method adapts to a "
                "few documents of a new domain, as at meta-test (computed by the engine, not here)."
            )
            return
        self._inputs_kind = kind
        tokens = kind == TOKEN_TASK
        self.support_title.setText(
            "<b>Labelled example sentences</b> — one per line, entities marked <i>[words](TYPE)</i>" if tokens
            else "<b>Support examples</b> — one per line, <i>label: text</i>"
        )
        self.query_title.setText("<b>Sentences to tag</b> — plain text, one per line" if tokens else "<b>Queries</b> — one text per line")
        self.support.setToolTip("One sentence per line with entities marked: [Ada Lovelace](PERSON) visited [Turin](CITY)."
                                if tokens else "One labelled example per line: label: text")
        self.explanation.setText(
            "The run's trained encoder embeds every word; each word of a sentence to tag gets the type of the nearest "
            "prototype (the mean of the example words of each type, and of O), computed by the engine, not here."
            if tokens else
            "The run's trained encoder embeds the examples; each query gets the softmax of its "
            "cosine similarity to each label's mean (computed by the engine, not here)."
        )
        self.run_examples_button.setVisible(tokens)
        self.answer.setCurrentIndex(1 if tokens else 0)
        if kind != previous:  # swap the sample inputs, keeping anything typed by hand
            defaults = {TOKEN_TASK: (NER_SUPPORT, NER_QUERY)}.get(previous, (EXAMPLE_SUPPORT, EXAMPLE_QUERY))
            if (self.support.toPlainText(), self.query.toPlainText()) == defaults:
                support, query = (NER_SUPPORT, NER_QUERY) if tokens else (EXAMPLE_SUPPORT, EXAMPLE_QUERY)
                self.support.setPlainText(support)
                self.query.setPlainText(query)

    def use_run_examples(self) -> None:
        """Fills the inputs with the run's first meta-test episode (loaded in the background)."""
        config = self.configs.get(self.run_combo.currentData() or "", {})
        if not config:
            return
        self.message.setText("Loading the run's dataset…")
        self.worker.submit(lambda: run_examples(config), self._examples_loaded, lambda exc: self.message.setText(str(exc)))

    def _examples_loaded(self, texts: tuple[str, str]) -> None:
        self.support.setPlainText(texts[0])
        self.query.setPlainText(texts[1])
        self.message.setText("The support and queries of the run's first meta-test episode.")
        self.examples_shown.emit()

    def request(self) -> dict[str, Any]:
        if self.task_type == TOKEN_TASK:
            return {"support": support_request(self.support.toPlainText()), "query": query_request(self.query.toPlainText())}
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
        args = ["predict", run_id, "--db", str(self.db_path), "--input", handle.name]
        if self.explain_box.isChecked() and self.explain_box.isEnabled():
            args.append("--explain")
        self.call = EngineCall(args, self.command, self)
        self.call.done.connect(lambda result, error: self._predicted(result, error, Path(handle.name)))

    def _predicted(self, result: Any, error: str, request_file: Path) -> None:
        request_file.unlink(missing_ok=True)
        self.predict_button.setEnabled(True)
        if error:
            self.message.setText(f"Cannot predict: {error}")
            self.call_failed.emit(error)
            return
        if "tags" in (result["predictions"] or [{}])[0]:
            self._show_tagged(result)
            return
        rows = []
        for p in result["predictions"]:
            probs = ", ".join(f"{label} {value:.2f}" for label, value in p["probabilities"].items())
            rows.append([p["text"], f"{p['label']} ({p['probabilities'][p['label']]:.0%})", probs])
        self.results.set_rows(rows)
        explained = [p for p in result["predictions"] if "words" in p]
        self.explanations.setHtml("<br><br>".join(highlighted(p) for p in explained))
        built = prompts_text(result["predictions"])
        self.prompts.setPlainText(built)
        self.prompts_box.setVisible(bool(built))
        self.message.setText(f"{len(rows)} queries labelled by run {result['run_id']}.")
        self.prediction_shown.emit()

    def _show_tagged(self, result: dict[str, Any]) -> None:
        colors = type_colors(result.get("types") or result.get("classes") or [])
        paragraphs = [f"<p>{sentence_html(p['tokens'], p['tags'], colors)}</p>" for p in result["predictions"]]
        self.tagged.setHtml("\n".join(paragraphs))
        self.message.setText(f"{len(paragraphs)} sentences tagged by run {result['run_id']}.")
        self.prediction_shown.emit()

    # --- export ---------------------------------------------------------------------------
    def _export_dialog(self) -> None:
        run_id = self.run_combo.currentData()
        if not run_id:
            return
        folder = QFileDialog.getExistingDirectory(self, "Export the model into a folder (a new subfolder is made)",
                                                  str(export_folder()))
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
            self.call_failed.emit(error)
            return
        self.message.setText(f"Exported run {result['run_id']} to {result['path']} ({', '.join(result['files'])}).")
        exported(self, result["path"], f"the model of run {result['run_id']}")
        self.model_exported.emit(result["path"])
