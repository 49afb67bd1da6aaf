"""The engine's own verdict on a config, for checks the GUI cannot make without torch: whether
every in-context prompt fits ``model.max_length`` needs the model's tokenizer.

``verdict(config)`` asks ``metalab-engine validate CONFIG --json`` once per config, in the
background, and answers from what it said: None when it passed, its one line when not, a
note while the answer is coming (``answered`` then fires).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTemporaryDir, Signal

from engine.config import RunConfig
from gui.engine_info import EngineCall

PENDING = "Checking that the prompts fit the model (the engine reads its tokenizer)…"


class EngineConfigCheck(QObject):
    answered = Signal()

    def __init__(self, command: list[str], parent: QObject | None = None):
        super().__init__(parent)
        self.command = command
        self._dir = QTemporaryDir()
        self._verdicts: dict[str, str] = {}  # config TOML -> "" (passed) or the engine's line
        self._pending: str | None = None

    def verdict(self, config: RunConfig) -> str | None:
        key = config.to_toml()
        if key in self._verdicts:
            return self._verdicts[key] or None
        if self._pending != key:
            self._pending = key
            path = str(Path(self._dir.path()) / "validate.toml")
            config.save(path)
            # the call is this object's child: it goes with it, and no late answer outlives it
            call = EngineCall(["validate", path, "--json"], self.command, self)
            call.done.connect(lambda result, error: self._answered(key, result, error))
        return PENDING

    def _answered(self, key: str, result: Any, error: str) -> None:
        if self._pending == key:
            self._pending = None
        ok = isinstance(result, dict) and result.get("ok") is True
        self._verdicts[key] = "" if ok else (error.removeprefix("error:").strip() or "the engine could not check this config")
        self.answered.emit()
