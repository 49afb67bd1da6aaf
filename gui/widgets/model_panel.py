"""Base model and device: bundled, recent, a Hugging Face id or a local folder; size and
memory estimate from the engine (``model-info``); devices the engine reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from engine.config import ModelConfig
from gui.engine_info import EngineInfo, device_label, format_bytes, format_count
from gui.memory_estimate import estimate_training_bytes
from gui.settings import recent, remember

DEFAULT_MODEL = ModelConfig().name
SAMPLE_DECODER = "bundled:tiny-gpt2"  # the bundled decoder (built on first use): what a language-model task starts from
KIND_TEXT = {"encoder": "Encoder", "decoder": "Decoder (causal LM)"}


class ModelPanel(QWidget):
    model_changed = Signal(str)
    device_changed = Signal(str)

    def __init__(self, info: EngineInfo, parent: QWidget | None = None):
        super().__init__(parent)
        self.info = info
        self._context: tuple[dict[str, Any], int, int] = ({}, 0, 64)

        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setToolTip("model.name: bundled:NAME, a Hugging Face id (org/name) or a local folder")
        self.model.setMinimumContentsLength(16)
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        for name in [DEFAULT_MODEL, SAMPLE_DECODER] + [r for r in recent("models") if r not in (DEFAULT_MODEL, SAMPLE_DECODER)]:
            self.model.addItem(name)
        self.model.currentTextChanged.connect(self._model_edited)
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setToolTip("A local model folder (config.json and safetensors weights)")
        self.folder_button.clicked.connect(self._pick_folder)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.folder_button)

        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setObjectName("modelDetails")
        self.device = QComboBox()
        self.device.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device.setMinimumContentsLength(16)
        self.device.setToolTip("train.device: where the engine trains; auto picks the first GPU, else the CPU")
        self.device.currentIndexChanged.connect(lambda _i: self.device_changed.emit(self.device_name()))

        form = QFormLayout(self)
        form.addRow("Base model", model_row)
        form.addRow("", self.details)
        form.addRow("Device", self.device)

        info.devices_changed.connect(self.set_devices)
        info.model_info_changed.connect(self._on_info)
        info.model_info_failed.connect(self._on_info_failed)
        self.set_devices(info.devices)
        self._model_edited(self.model.currentText())

    # --- model --------------------------------------------------------------------------
    def model_name(self) -> str:
        return self.model.currentText().strip()

    def set_model_name(self, name: str) -> None:
        self.model.setEditText(name)

    def model_kind(self) -> str | None:
        """``encoder`` or ``decoder`` as the engine reports the chosen model (``model-info``); None while unknown."""
        info = self.info.model_info(self.model_name()) if self.model_name() else None
        kind = (info or {}).get("kind")
        return str(kind) if kind else None

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a model folder", str(Path.home()))
        if path:
            self.set_model_name(path)

    def _model_edited(self, name: str) -> None:
        name = name.strip()
        self.model_changed.emit(name)
        if not name:
            self.details.setText("Choose a model.")
            return
        if self.info.model_info(name) is None:
            self.details.setText("Asking the engine for the model's size …")
        else:
            self._show_details()

    def _on_info(self, name: str, _info: dict[str, Any]) -> None:
        if name == self.model_name():
            self._show_details()

    def _on_info_failed(self, name: str, error: str) -> None:
        if name == self.model_name():
            self.details.setText(f"Model details unavailable: {error}")

    def remember_choice(self) -> None:
        remember("models", self.model_name())

    def set_memory_context(self, params: dict[str, Any], examples: int, max_length: int) -> None:
        """The method's parameters and the episode size, for the memory estimate."""
        self._context = (params, examples, max_length)
        self._show_details()

    def _show_details(self) -> None:
        info = self.info.model_info(self.model_name()) if self.model_name() else None
        if not info:
            return
        params, examples, max_length = self._context
        parts = [
            f"{format_count(info.get('parameters'))} parameters",
            f"{format_bytes(info.get('size_bytes'))} on disk",
        ]
        if info.get("kind"):
            parts.insert(0, KIND_TEXT.get(str(info["kind"]), str(info["kind"])))
        estimate = estimate_training_bytes(info, params, examples=examples, max_length=max_length)
        if estimate is not None:
            parts.append(f"≈ {format_bytes(estimate)} to train with these settings")
        self.details.setText(" · ".join(parts))

    # --- devices ------------------------------------------------------------------------
    def set_devices(self, devices: list[dict[str, Any]]) -> None:
        current = self.device_name()
        self.device.blockSignals(True)
        self.device.clear()
        self.device.addItem("auto (best available)", "auto")
        for device in devices:
            self.device.addItem(device_label(device), str(device.get("name")))
        if not any(d.get("name") == "cpu" for d in devices):
            self.device.addItem("CPU", "cpu")
        index = self.device.findData(current)
        self.device.setCurrentIndex(max(0, index))
        self.device.blockSignals(False)

    def device_name(self) -> str:
        return self.device.currentData() or "auto"

    def set_device_name(self, name: str) -> None:
        index = self.device.findData(name)
        if index < 0:
            self.device.addItem(name, name)
            index = self.device.count() - 1
        self.device.setCurrentIndex(index)
