"""A status line that shows an error in full: the first line wraps, longer messages (a
state dict's missing keys, a traceback's last words) open below on "Details"."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QSizePolicy, QToolButton, QVBoxLayout, QWidget

FIRST_LINE_CHARS = 400  # past this, the label shows the start and Details the rest


class MessageLine(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # wraps, never widens the window
        self.details_button = QToolButton()
        self.details_button.setText("Details")
        self.details_button.setCheckable(True)
        self.details_button.hide()
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.details.setMaximumHeight(160)
        self.details.hide()
        self.details_button.toggled.connect(self.details.setVisible)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.details)

    def text(self) -> str:
        """Everything shown or behind Details (tests read it)."""
        return self.details.toPlainText() if not self.details_button.isHidden() else self.label.text()

    def setText(self, text: str) -> None:
        first, _, rest = text.partition("\n")
        long = bool(rest.strip()) or len(first) > FIRST_LINE_CHARS
        self.label.setText(first if len(first) <= FIRST_LINE_CHARS else first[:FIRST_LINE_CHARS] + "…")
        self.details.setPlainText(text if long else "")
        self.details_button.setVisible(long)
        if not long:
            self.details_button.setChecked(False)
