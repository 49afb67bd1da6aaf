"""New experiment: dataset, task, base model, method and run settings, validated live.

Every field is named by its config key and the page's value is a ``RunConfig``: the form
overlays its dotted keys (``task.n_way``, ``method.params.lr``) on a base config with
``RunConfig.with_values``, so keys the form does not show survive an Open/Save round
trip, and Save writes the same TOML the CLI reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QTemporaryDir, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine import tasks
from engine.config import RunConfig
from engine.data import first_problem
from engine.errors import UserError
from engine.catalog import MethodSpec, all_specs
from engine.tasks import requested_train_query
from gui.config_warnings import config_warnings
from gui.engine_config_check import EngineConfigCheck
from gui.engine_info import EngineInfo
from gui.experiment_form import RUN_KEYS, TASK_KEYS, TASK_UNAVAILABLE, TASK_WORDS, renamed_for_method
from gui.method_fit import answers_with_prompts, model_problem, why_not
from gui.widgets.dataset_panel import DatasetPanel
from gui.widgets.model_panel import DEFAULT_MODEL, SAMPLE_DECODER, ModelPanel
from gui.widgets.param_form import ParamForm, config_params
from gui.widgets.wheel_guard import guard_wheel

class NewExperimentPage(QWidget):
    launch_requested = Signal(object)  # a validated RunConfig
    search_requested = Signal(object)  # a validated RunConfig: the base of a new study
    validity_changed = Signal(bool, str)  # can launch, the reason (or a summary when ready)

    def __init__(self, info: EngineInfo, parent: QWidget | None = None):
        super().__init__(parent)
        self.info = info
        self.base = RunConfig()
        self.specs: dict[str, MethodSpec] = {s.name: s for s in all_specs()}
        self._method_values: dict[str, dict[str, Any]] = {}
        self.problem = "Loading…"
        self.config: RunConfig | None = None

        self.dataset_panel = DatasetPanel()
        self.task_form = ParamForm(config_params(TASK_KEYS), reset_button=False, help_line=False)
        types = self.task_form.editor("task.type")  # each task type by its title; the value stays its name
        types.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        types.setMinimumContentsLength(14)  # the longest title would widen the settings past their side
        for i in range(types.count()):
            types.setItemText(i, tasks.get(types.itemData(i)).title)
            types.setItemData(i, f"task.type = \"{types.itemData(i)}\"", Qt.ItemDataRole.ToolTipRole)
        self.model_panel = ModelPanel(info)

        self.method = QComboBox()
        self.method.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.method.setMinimumContentsLength(16)
        self.method.setToolTip("method.name: the meta-learning method (from the engine's registry)")
        self.method_description = QLabel("")
        self.method_description.setWordWrap(True)
        self.method_description.setObjectName("methodDescription")
        self.param_form = ParamForm(key_prefix="method.params.", help_line=False)
        self._fill_methods()

        self.name = QLineEdit(self.base.name)
        self.name.setToolTip("name: shown in run lists; follows the method until you edit it")
        self._name_edited = False  # typed by hand: a method change leaves it alone
        self.name.textEdited.connect(lambda _t: setattr(self, "_name_edited", True))
        self.tags = QLineEdit("")
        self.tags.setPlaceholderText("comma-separated, e.g. baseline, minilm")
        self.tags.setToolTip("tags: free-form labels to find runs later")
        self.run_form = ParamForm(config_params(RUN_KEYS), reset_button=False, help_line=False)
        # One help pane under the settings, outside their scroll area: always in view.
        self.help_pane = QLabel("Click or point at a field to see what it does.")
        self.help_pane.setObjectName("paramHelp")
        self.help_pane.setWordWrap(True)
        self.help_pane.setStyleSheet("color: #333; background: #f3f3f3; padding: 4px; border-radius: 3px;")
        self.help_pane.setMinimumHeight(3 * self.help_pane.fontMetrics().height())
        self.help_pane.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        for form in (self.task_form, self.param_form, self.run_form):
            form.help_changed.connect(self.help_pane.setText)

        self.reason = QLabel("")
        self.reason.setObjectName("launchReason")
        self.reason.setWordWrap(True)
        self.open_button = QPushButton("Open config…")
        self.save_button = QPushButton("Save config…")
        self.launch_button = QPushButton("Launch")
        self.launch_button.setObjectName("launchButton")
        self.launch_button.setDefault(True)
        self.launch_button.setMinimumWidth(120)
        self.launch_button.clicked.connect(self.request_launch)
        self.search_button = QPushButton("Search…")
        self.search_button.setObjectName("searchButton")
        self.search_button.setToolTip("Start a hyper-parameter study (Studies page) with this form as its base config")
        self.search_button.clicked.connect(self.request_search)
        self.baseline_button = QPushButton("Baseline")
        self.baseline_button.setToolTip(
            "Score the frozen encoder on this config's meta-test episodes (nearest class mean, logistic "
            "regression), before any training: how much room meta-training has"
        )
        self.baseline_button.clicked.connect(self.request_baseline)
        self._baseline_tip = self.baseline_button.toolTip()
        self.baseline_result = QLabel("")
        self.baseline_result.setObjectName("baselineResult")
        self.baseline_result.setWordWrap(True)
        self.baseline_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._baseline_dir = QTemporaryDir()
        # for methods whose fit needs the model's files (an in-context prompt's length in tokens)
        self.engine_check = EngineConfigCheck(info.command, self)
        self.engine_check.answered.connect(self.validate)
        self._baseline_call: Any = None
        self._baseline_basis: dict[str, Any] | None = None  # the config the Baseline line is about
        self._baseline_text = ""

        self._build_layout()

        self._timer = QTimer(self, singleShot=True, interval=30)
        self._timer.timeout.connect(self.validate)
        for signal in (
            self.dataset_panel.dataset_changed,
            self.task_form.values_changed,
            self.param_form.values_changed,
            self.run_form.values_changed,
            self.model_panel.model_changed,
            self.model_panel.device_changed,
            self.name.textChanged,
            self.tags.textChanged,
        ):
            signal.connect(self.schedule_validate)
        self.method.currentIndexChanged.connect(self._method_changed)
        # a dataset that can only be one task type (a CoNLL file: NER) switches the form to it
        self.dataset_panel.task_type_needed.connect(self._set_task_type)
        self.task_form.values_changed.connect(self._fill_methods_for_mode)
        # the model's kind (model-info) greys out methods and is checked against the task
        self.model_panel.model_changed.connect(lambda _name: self._fill_methods_for_mode())
        # a bound method, not a lambda: Qt drops the connection when this page is destroyed
        # (the engine info outlives pages; a late answer must not reach a deleted form)
        info.model_info_changed.connect(self._model_info_changed)
        info.model_info_changed.connect(self.schedule_validate)
        self._method_changed()
        guard_wheel(self)  # scrolling the long form never changes a field on the way

    def _build_layout(self) -> None:
        dataset_box = QGroupBox("Dataset")
        QVBoxLayout(dataset_box).addWidget(self.dataset_panel)

        task_box = QGroupBox("Task")
        QVBoxLayout(task_box).addWidget(self.task_form)
        model_box = QGroupBox("Base model and device")
        QVBoxLayout(model_box).addWidget(self.model_panel)
        method_box = QGroupBox("Method")
        method_layout = QVBoxLayout(method_box)
        method_row = QFormLayout()
        method_choice = QHBoxLayout()
        method_choice.addWidget(self.method, 1)
        method_choice.addWidget(self.search_button)  # a search over this method's parameters
        method_row.addRow("Method", method_choice)
        method_layout.addLayout(method_row)
        method_layout.addWidget(self.method_description)
        method_layout.addWidget(self.param_form)
        run_box = QGroupBox("Run")
        run_layout = QFormLayout(run_box)
        run_layout.addRow("Run name", self.name)
        run_layout.addRow("Tags", self.tags)
        run_layout.addRow(self.run_form)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        for box in (model_box, task_box, method_box, run_box):
            right_layout.addWidget(box)
        right_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(right)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        # Each side scrolls on its own, so neither a tall class chart nor MAML's long form
        # raises the window's minimum size (it must fit 1024 x 700).
        left = QScrollArea()
        left.setWidgetResizable(True)
        left.setWidget(dataset_box)
        left.setMinimumWidth(300)
        dataset_box.setMinimumHeight(560)  # below this the preview and chart scroll rather than squash
        scroll.setMinimumWidth(430)  # the model and task boxes need ~410 px: less clipped them (no horizontal scroll)
        self.settings_scroll = scroll
        settings = QWidget()
        settings_layout = QVBoxLayout(settings)
        settings_layout.setContentsMargins(0, 0, 0, 0)
        settings_layout.addWidget(scroll, 1)
        settings_layout.addWidget(self.help_pane)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(settings)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([700, 560])
        self.splitter = splitter

        bottom = QHBoxLayout()
        messages = QVBoxLayout()
        messages.addWidget(self.reason)
        messages.addWidget(self.baseline_result)
        bottom.addLayout(messages, 1)
        bottom.addWidget(self.baseline_button)
        bottom.addWidget(self.open_button)
        bottom.addWidget(self.save_button)
        bottom.addWidget(self.launch_button)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)
        self._order_tabs()

    def _order_tabs(self) -> None:
        """Tab follows the screen: Method, Search, the method's fields, the run's, then the bottom
        row left to right, Launch last. By creation order Launch led back into the method form
        (Search, Baseline and every rebuilt method field were created after it)."""
        def fields(form: QWidget) -> list[QWidget]:
            return [w for w in form.findChildren(QWidget)  # not a combo box's popup: a window of its own
                    if w.focusPolicy() & Qt.FocusPolicy.TabFocus and w.window() is form.window()]

        chain = [self.method, self.search_button, *fields(self.param_form), self.name, self.tags,
                 *fields(self.run_form), self.baseline_button, self.open_button, self.save_button, self.launch_button]
        for before, after in zip(chain, chain[1:]):
            QWidget.setTabOrder(before, after)

    # --- methods ------------------------------------------------------------------------
    def _fill_methods(self, mode: str = "episodic", task_type: str = tasks.DEFAULT_TASK_TYPE, model_kind: str | None = None) -> None:
        """Every method; those that cannot work with this mode, task type and model kind are
        greyed out with the reason as their tooltip (``methods --json``: tasks, modes, model kinds)."""
        current = self.method.currentData() or self.base.method.name
        self.method.blockSignals(True)
        self.method.clear()
        self.unfit: dict[str, str] = {}
        items = self.method.model()
        for spec in self.specs.values():
            reason = why_not(spec.to_json(), task_type=task_type, mode=mode, model_kind=model_kind)
            self.method.addItem(f"{spec.name} — {spec.title}", spec.name)
            index = self.method.count() - 1
            self.method.setItemData(index, f"Not available: {reason}" if reason else spec.description, Qt.ItemDataRole.ToolTipRole)
            if reason:
                self.unfit[spec.name] = reason
                items.item(index).setEnabled(False)  # type: ignore[attr-defined]  (a QStandardItemModel)
        index = self.method.findData(current)
        if index < 0 or current in self.unfit:  # the method cannot run this way: the first one that can
            index = next((i for i in range(self.method.count()) if self.method.itemData(i) not in self.unfit), max(0, index))
        changed = self.method.itemData(index) != current
        self.method.setCurrentIndex(index)
        self.method.blockSignals(False)
        if changed:
            self._method_changed()

    def _model_info_changed(self, *_: Any) -> None:
        self._fill_methods_for_mode()

    def _fill_methods_for_mode(self) -> None:
        values = self.task_form.values()
        mode = values.get("task.mode", "episodic")
        task_type = values.get("task.type", tasks.DEFAULT_TASK_TYPE)
        self.dataset_panel.set_task_type(task_type)
        previous_type = getattr(self, "_task_type", tasks.DEFAULT_TASK_TYPE)
        if task_type != previous_type:
            self._task_type = task_type  # first: the form's relabelling below re-enters here
            self._task_type_changed(previous_type, task_type)
        key = (mode, task_type, self.model_panel.model_kind())
        if key != getattr(self, "_mode", ("episodic", tasks.DEFAULT_TASK_TYPE, None)):
            self._mode = key
            self._fill_methods(*key)

    def _set_task_type(self, task_type: str) -> None:
        self.task_form.set_values({"task.type": task_type})  # values_changed -> _fill_methods_for_mode

    def _task_type_changed(self, previous: str, task_type: str) -> None:
        """The task fields in the type's own words; a model of the kind the type needs."""
        self.task_form.set_labels(TASK_WORDS.get(task_type, {}))
        self.task_form.set_unavailable(TASK_UNAVAILABLE.get(task_type, {}))
        needs = tasks.get(task_type).model_kind
        if needs != tasks.get(previous).model_kind:  # the sample model of one kind for the other's (a config sets its own after)
            swap = {(DEFAULT_MODEL, "decoder"): SAMPLE_DECODER, (SAMPLE_DECODER, "encoder"): DEFAULT_MODEL}
            replacement = swap.get((self.model_panel.model_name(), needs))
            if replacement:
                self.model_panel.set_model_name(replacement)
        pooled = tasks.get(task_type).output == "pooled"
        self.baseline_button.setEnabled(pooled)
        title = tasks.get(task_type).title
        self.baseline_button.setToolTip(self._baseline_tip if pooled else
                                        f"The frozen-encoder baseline scores classes by their mean embedding: not for {title}")

    def method_name(self) -> str:
        return self.method.currentData() or ""

    def _method_changed(self) -> None:
        previous = getattr(self, "_shown_method", None)
        if previous:
            self._method_values[previous] = self.param_form.values()
        name = self.method_name()
        self._shown_method = name
        if previous and previous != name and not self._name_edited:
            self.name.setText(renamed_for_method(self.name.text(), previous, name))
        spec = self.specs.get(name)
        self.param_form.set_params(spec.params if spec else ())
        self.method_description.setText(spec.description if spec else "")
        if name in self._method_values:
            self.param_form.set_values(self._method_values[name])
        if hasattr(self, "launch_button"):
            self._order_tabs()  # the method's new fields go back between Search and the run's
        self.schedule_validate()

    # --- config <-> form ----------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The form as dotted config keys."""
        values: dict[str, Any] = {
            "name": self.name.text().strip(),
            "tags": [t.strip() for t in self.tags.text().split(",") if t.strip()],
            "dataset.path": self.dataset_panel.path(),
            "dataset.text_column": self.dataset_panel.text_column_name(),
            "dataset.label_column": self.dataset_panel.label_column_name(),
            "model.name": self.model_panel.model_name(),
            "train.device": self.model_panel.device_name(),
            "method.name": self.method_name(),
            "method.params": self.param_form.values(),
        }
        values.update(self.task_form.values())
        values.update(self.run_form.values())
        return values

    def build_config(self) -> RunConfig:
        """The validated config, or a ``UserError`` naming the first bad key."""
        return self.base.with_values(self.values())

    def set_config(self, config: RunConfig) -> None:
        """Fills every field from ``config`` (kept as the base for keys the form lacks)."""
        self.base = config
        self.name.setText(config.name)
        self._name_edited = False
        self.tags.setText(", ".join(config.tags))
        self.task_form.set_values({k: config.get(k) for k in TASK_KEYS})
        self._fill_methods_for_mode()
        self.run_form.set_values({k: config.get(k) for k in RUN_KEYS})
        self.model_panel.set_model_name(config.model.name)
        self.model_panel.set_device_name(config.train.device)
        self._method_values[config.method.name] = dict(config.method.params)
        index = self.method.findData(config.method.name)
        if index >= 0:
            if index == self.method.currentIndex():
                self._shown_method = None
                self._method_changed()
            else:
                self._shown_method = None
                self.method.setCurrentIndex(index)
        self.dataset_panel.load(config.dataset.path, config.dataset.text_column, config.dataset.label_column)
        self.schedule_validate()

    def open_config(self, path: str | Path) -> None:
        """Raises ``UserError`` with the engine's one-line message for a bad file."""
        self.set_config(RunConfig.load(path))

    def save_config(self, path: str | Path) -> RunConfig:
        config = self.build_config()
        config.save(path)
        return config

    # --- validation ---------------------------------------------------------------------
    def schedule_validate(self, *_: Any) -> None:
        self._timer.start()

    def validate(self) -> str | None:
        """The first problem (shown beside Launch, which stays disabled), or None."""
        self._timer.stop()
        problem = self._find_problem()
        self.problem = problem or ""
        self.launch_button.setEnabled(problem is None)
        self.search_button.setEnabled(problem is None)
        if problem is None and self.config is not None:
            c = self.config
            if tasks.get(c.task.type).model_kind == "decoder":
                shape = f"{c.task.k_shot} support + {c.task.query} query documents per domain"
            else:
                shape = f"{c.task.n_way}-way {c.task.k_shot}-shot"
            text = f"Ready: {c.method.name} on {c.dataset.path}, {shape}, {c.train.episodes} episodes"
            self.reason.setStyleSheet("color: #2e7d32;")
            warnings = config_warnings(c)
            if warnings:  # allowed, but said out loud
                text += "\n⚠ " + "\n⚠ ".join(warnings)
                self.reason.setStyleSheet("color: #e65100;")
        else:
            text = problem or ""
            self.reason.setStyleSheet("color: #c62828;")
        self.reason.setText(text)
        self.validity_changed.emit(problem is None, text)
        self._show_baseline_staleness()
        return problem

    def _find_problem(self) -> str | None:
        self.config = None
        panel = self.dataset_panel
        if not panel.path():
            return "Choose a dataset."
        if panel.is_busy():
            return "Loading the dataset…"
        if panel.dataset is None:
            return panel.error or "The dataset could not be loaded."
        for form in (self.task_form, self.param_form, self.run_form):
            problems = form.problems()
            if problems:
                return next(iter(problems.values()))
        if not self.name.text().strip():
            return "Give the run a name."
        values = self.task_form.values()
        model_kind = self.model_panel.model_kind()
        problem = model_problem(values.get("task.type", tasks.DEFAULT_TASK_TYPE), self.model_panel.model_name(), model_kind)
        if problem:
            return problem + (f" — try {SAMPLE_DECODER}" if model_kind == "encoder" else "")
        if self.method_name() in getattr(self, "unfit", {}):
            return self.unfit[self.method_name()]
        try:
            config = self.build_config()
        except UserError as exc:
            self._update_estimate()
            return str(exc)
        self.config = config
        checks = tasks.get(config.task.type).check(panel.dataset, config.task, train_query=requested_train_query(config))
        panel.show_checks(checks, config.task.k_shot + config.task.query if config.task.mode == "episodic" else 0)
        self._update_estimate()
        problem = first_problem(checks)
        if problem is None and answers_with_prompts(self.specs[config.method.name].to_json()):
            return self.engine_check.verdict(config)
        return problem

    def _update_estimate(self) -> None:
        task = self.task_form.values()
        ways = 1 if "task.n_way" in TASK_UNAVAILABLE.get(task.get("task.type", ""), {}) else int(task.get("task.n_way", 5))
        examples = ways * (int(task.get("task.k_shot", 5)) + int(task.get("task.query", 15)))
        self.model_panel.set_memory_context(
            self.param_form.values(), examples, int(self.run_form.values().get("model.max_length", 64))
        )

    def request_launch(self) -> None:
        if self.validate() is None and self.config is not None:
            self.model_panel.remember_choice()
            self.launch_requested.emit(self.config)

    def request_search(self) -> None:
        if self.validate() is None and self.config is not None:
            self.search_requested.emit(self.config)

    # --- frozen baseline ----------------------------------------------------------------
    def request_baseline(self) -> None:
        """Runs ``baseline --json`` on the form's config in the engine; the figures show inline."""
        if self.validate() is not None or self.config is None:
            self.baseline_result.setText(f"Baseline: {self.problem}")
            return
        if self.config.task.mode != "episodic":
            self.baseline_result.setText("Baseline: needs task.mode = episodic (it scores meta-test episodes).")
            return
        path = str(Path(self._baseline_dir.path()) / "baseline.toml")
        self.config.save(path)
        task = self.config.task
        setting = f"{task.n_way}-way {task.k_shot}-shot, {task.test_episodes} test episodes"
        self.baseline_button.setEnabled(False)
        self._baseline_basis, self._baseline_text = _baseline_basis(self.config), ""
        self.baseline_result.setStyleSheet("")
        self.baseline_result.setText(f"Baseline: scoring the frozen encoder ({setting})…")
        self._baseline_call = self.info.baseline(path)
        self._baseline_call.done.connect(lambda result, error: self._show_baseline(setting, result, error))

    def _show_baseline(self, setting: str, result: Any, error: str) -> None:
        self._baseline_call = None
        self.baseline_button.setEnabled(True)
        if not isinstance(result, dict) or "ncm" not in result:
            self.baseline_result.setText(f"Baseline failed: {error or 'no answer from the engine'}")
            return
        parts = [f"{label} {result[key]['accuracy'] * 100:.1f}% ± {result[key]['ci95'] * 100:.1f}"
                 for key, label in (("ncm", "nearest class mean"), ("logreg", "logistic regression"))]
        self._baseline_text = f"Frozen encoder ({setting}): {', '.join(parts)}. A trained run should beat these."
        self.baseline_result.setText(self._baseline_text)
        self._show_baseline_staleness()  # the form may have changed while it scored

    def _show_baseline_staleness(self) -> None:
        """A baseline scored for another form is marked so (200 test episodes shown beside 50)."""
        if not self._baseline_text:
            return
        current = _baseline_basis(self.config) if self.config is not None else None
        if current == self._baseline_basis:
            self.baseline_result.setStyleSheet("")
            self.baseline_result.setText(self._baseline_text)
        else:
            self.baseline_result.setStyleSheet("color: #757575;")
            self.baseline_result.setText(f"Out of date, the form changed since (press Baseline again): {self._baseline_text}")


def _baseline_basis(config: RunConfig) -> dict[str, Any]:
    """What a baseline's figures depend on: the config less its name, tags and notes."""
    values = config.to_dict()
    for key in ("name", "tags", "notes"):
        values.pop(key, None)
    return values
