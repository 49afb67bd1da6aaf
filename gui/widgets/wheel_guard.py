"""Scrolling a form never changes a value by accident.

Qt hands the mouse wheel to a combo box or spin box as soon as the pointer passes over it,
so scrolling down a long form silently changes whatever field slides under the pointer (a
method, a learning rate). A guarded editor takes the wheel only once clicked (focused);
until then the wheel scrolls the page the editor sits in.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QWidget


class WheelGuard(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) or watched.hasFocus():
            return False
        area = scroll_area_of(watched)
        if area is None:  # nothing to scroll: the editor keeps Qt's behaviour
            return False
        QApplication.sendEvent(area.viewport(), event)
        return True


def scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QAbstractScrollArea):
        parent = parent.parentWidget()
    return parent


def guard_wheel(root: QWidget) -> None:
    """Guards every combo box and spin box under ``root``; call again after adding editors
    (installing the filter twice is harmless)."""
    app = QApplication.instance()
    guard = app.findChild(WheelGuard) if app is not None else None
    if guard is None:
        guard = WheelGuard(app)  # one filter for the whole app, owned by it
    for editor in [*root.findChildren(QComboBox), *root.findChildren(QAbstractSpinBox)]:
        editor.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel alone never focuses it
        editor.installEventFilter(guard)
