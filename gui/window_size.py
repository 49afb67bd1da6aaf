"""The first window's size: the size we like, within the screen it opens on.

A 1366x768 laptop has about 1366x728 available under a panel; a 1280x820 window put
Launch, Baseline and the status line below the screen's edge (issue 27, case 13).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize

PREFERRED = QSize(1280, 820)
FRAME = QSize(16, 40)  # the window manager's border and title bar, outside the size we set


def fitting_size(available: QRect, preferred: QSize = PREFERRED) -> QSize:
    """``preferred``, shrunk to what ``available`` (the screen less its panels) leaves for the window."""
    room = QSize(max(available.width() - FRAME.width(), 640), max(available.height() - FRAME.height(), 480))
    return preferred.boundedTo(room)


def fitting_geometry(window_geometry: QRect, available: QRect) -> QRect:
    """A restored geometry moved and shrunk onto ``available`` (a window saved on a bigger screen)."""
    size = window_geometry.size().boundedTo(fitting_size(available, window_geometry.size()))
    left = min(max(window_geometry.left(), available.left()), available.right() - size.width())
    top = min(max(window_geometry.top(), available.top()), available.bottom() - size.height() - FRAME.height() + 8)
    return QRect(max(left, available.left()), max(top, available.top()), size.width(), size.height())
