"""Message boxes whose text is shown as text.

``QMessageBox.warning(parent, title, str(exc))`` uses AutoText: an error naming a run called
``<b style='color:red'>BEST</b><img src=…>`` would render that markup. These show it as
typed (issue 27, case 9). Tests may replace :func:`warn`."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

Button = QMessageBox.StandardButton


def message_box(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str,
                buttons: QMessageBox.StandardButton = Button.Ok) -> QMessageBox:
    box = QMessageBox(icon, title, text, buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    return box


def warn(parent: QWidget | None, title: str, text: str) -> None:
    message_box(parent, QMessageBox.Icon.Warning, title, text).exec()


def ask(parent: QWidget | None, title: str, text: str, buttons: QMessageBox.StandardButton,
        default: QMessageBox.StandardButton) -> QMessageBox.StandardButton:
    box = message_box(parent, QMessageBox.Icon.Question, title, text, buttons)
    box.setDefaultButton(default)
    return Button(box.exec())
