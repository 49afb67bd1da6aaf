"""Out of memory: the advice inline under the run's status, and a one-click relaunch.

The engine fails such a run with an ``error`` event of kind ``oom`` and a one-line advice
(docs/EVENTS.md). ``relaunch_options`` turns the run's config into a few changed configs,
each one setting that saves memory (as the advice says); a click on one launches it as a
new run. The failed run, the GUI and other runs are not touched.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engine.catalog import all_specs
from engine.store import Store

OOM_TEXTS = ("out of memory", "outofmemoryerror", "cuda oom")


def is_oom(error: str, kind: str = "") -> bool:
    return kind == "oom" or any(t in (error or "").lower() for t in OOM_TEXTS)


def _get(config: dict[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(config: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(config)
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def relaunch_options(config: dict[str, Any]) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(label, key, new value, changed config) for each memory-saving change that applies."""
    options: list[tuple[str, str, Any, dict[str, Any]]] = []

    def offer(label: str, key: str, value: Any) -> None:
        changed = _set(config, key, value)
        changed["name"] = f"{config.get('name') or 'run'}-{key.rsplit('.', 1)[-1]}"
        options.append((label, key, value, changed))

    query = _get(config, "task.query")
    if _get(config, "task.mode") in (None, "episodic") and isinstance(query, int) and query > 1:
        offer(f"Fewer queries (task.query {query} → {query // 2})", "task.query", query // 2)
    specs = {s.name: s for s in all_specs()}
    spec = specs.get(str(_get(config, "method.name")))
    params = {p.name: p for p in spec.params} if spec else {}
    values = _get(config, "method.params") or {}
    if "first_order" in params and not values.get("first_order", params["first_order"].default):
        offer("First-order (method.params.first_order = true)", "method.params.first_order", True)
    scope = params.get("scope")
    if scope is not None and "lora" in (scope.choices or ()) and values.get("scope", scope.default) != "lora":
        offer("LoRA (method.params.scope = \"lora\")", "method.params.scope", "lora")
    length = _get(config, "model.max_length")
    if isinstance(length, int) and length >= 16:
        offer(f"Shorter texts (model.max_length {length} → {length // 2})", "model.max_length", length // 2)
    return options


class OomPanel(QWidget):
    """Shown under a failed run's status when it ran out of memory; hidden otherwise."""

    relaunch_requested = Signal(dict)  # the changed config, for a new run

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("oomPanel")
        self.db_path: Path | None = None  # the window sets it; the failed run's config is read from there
        self.run_id = ""
        self.options: list[tuple[str, str, Any, dict[str, Any]]] = []
        self.advice = QLabel("")
        self.advice.setWordWrap(True)
        self.advice.setStyleSheet("color: #e65100;")
        self.buttons = QHBoxLayout()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.advice)
        layout.addLayout(self.buttons)
        self.hide()

    def show_for(self, session: Any) -> None:
        """Follows the Monitor's current session."""
        if session is None or session.status != "failed" or not is_oom(session.error, getattr(session, "error_kind", "")):
            self.run_id = ""
            self.hide()
            return
        if session.run_id == self.run_id and self.isVisibleTo(self.parentWidget() or self):
            return
        self.run_id = session.run_id
        self.options = relaunch_options(self._config(session.run_id))
        self.advice.setText(
            "Out of memory on the device. Relaunch as a new run with one change"
            + (":" if self.options else " — none of the usual changes applies; try a smaller model or the CPU.")
        )
        while self.buttons.count():
            item = self.buttons.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for label, _key, _value, changed in self.options:
            button = QPushButton(label)
            button.setToolTip("Launch a new run from this run's config with this one change")
            button.clicked.connect(lambda _c=False, cfg=changed: self.relaunch_requested.emit(cfg))
            self.buttons.addWidget(button)
        self.buttons.addStretch(1)
        self.show()

    def _config(self, run_id: str) -> dict[str, Any]:
        if self.db_path is None:
            return {}
        try:
            with Store(self.db_path, readonly=True) as store:
                return dict(store.get_run(run_id).get("config") or {})
        except Exception:  # a deleted run or a busy file: no options, the advice still shows
            return {}
