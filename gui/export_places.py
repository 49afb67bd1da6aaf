"""Where exports go: each file dialog starts in the folder of the last export (QSettings), not
the home folder, and each export says in the status bar what it wrote (issue 27, case 18f)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMainWindow, QWidget

from gui.settings import app_settings

KEY = "last/export_folder"
SHOWN_MS = 15_000


def export_folder() -> Path:
    """The folder of the last export, while it exists; else the home folder."""
    value = app_settings().value(KEY, "")
    folder = Path(str(value)) if value else None
    return folder if folder is not None and folder.is_dir() else Path.home()


def suggested(name: str) -> str:
    """A save dialog's starting path: ``name`` in the last export's folder."""
    return str(export_folder() / name)


def remember_folder(folder: str | Path) -> None:
    app_settings().setValue(KEY, str(Path(folder)))


def exported(widget: QWidget, path: str | Path, what: str = "") -> str:
    """After an export wrote ``path`` (a file, or a folder made inside the folder picked): the
    next dialog starts beside it, and the status bar names it. Returns the line."""
    path = Path(path)
    remember_folder(path.parent)
    line = f"Exported {what + ' to ' if what else ''}{path}"
    window = widget.window()
    if isinstance(window, QMainWindow):
        window.statusBar().showMessage(line, SHOWN_MS)
    return line
