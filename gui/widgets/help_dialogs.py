"""The Help menu's windows: the docs pages, the keyboard shortcuts, About.

Docs are the repository's Markdown files shown in a ``QTextBrowser`` (no browser, no
network). Shortcuts are read from the window's own actions, so the list cannot drift
from the menus; keys that belong to a page rather than an action are listed in
``PAGE_KEYS``. About reads package versions from their metadata (nothing heavy imported).
"""

from __future__ import annotations

import html
import platform
import re
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

import engine
from engine.storage_secret import redact

PAGE_KEYS = (
    ("Enter", "Runs: open the selected run's curves and log"),
    ("Double-click", "Runs, Studies: open a run"),
    ("Tab / Shift+Tab", "move between fields (the dataset preview is one stop)"),
    ("A (in a plot)", "auto-range: show all data"),
    ("Right-click a plot", "plot options, export"),
)
IMAGE_WIDTH = 520
VERSION_PACKAGES = ("PySide6", "pyqtgraph", "numpy", "torch", "transformers", "peft", "optuna")


def docs_pages(root: Path) -> list[Path]:
    """README first, then docs/*.md in name order; empty when the docs are not installed."""
    pages = [root / "README.md"] if (root / "README.md").exists() else []
    return pages + sorted((root / "docs").glob("*.md"))


class DocsViewer(QDialog):
    """Every docs page in a list; the chosen one rendered as Markdown."""

    def __init__(self, pages: list[Path], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("MetaLab documentation")
        self.pages = pages
        self.list = QListWidget()
        self.list.addItems([p.name for p in pages])
        self.list.setMaximumWidth(180)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self._follow)
        self.list.currentRowChanged.connect(self.show_page)
        layout = QHBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(self.browser, 1)
        self.resize(900, 620)
        if pages:
            self.list.setCurrentRow(0)
        else:
            self.browser.setPlainText("The documentation files are not installed with this copy of MetaLab.")

    def show_page(self, row: int) -> None:
        if 0 <= row < len(self.pages):
            path = self.pages[row]
            self.browser.setSearchPaths([str(path.parent)])
            self.browser.setMarkdown(path.read_text(encoding="utf-8", errors="replace"))
            # screenshots at their natural size would dwarf the text: show them at a readable width
            html = re.sub(r'<img src="', f'<img width="{IMAGE_WIDTH}" src="', self.browser.toHtml())
            self.browser.setHtml(html)

    def open_name(self, name: str) -> bool:
        names = [p.name for p in self.pages]
        if name in names:
            self.list.setCurrentRow(names.index(name))
            return True
        return False

    def _follow(self, url) -> None:  # noqa: ANN001
        if url.scheme() in ("http", "https"):
            from PySide6.QtGui import QDesktopServices

            QDesktopServices.openUrl(url)
            return
        self.open_name(Path(url.path()).name)  # links between docs pages stay in the viewer


def shortcut_rows(menu_bar: QMenuBar) -> list[tuple[str, str]]:
    """(keys, what they do) for every menu action with a shortcut, then the page keys."""
    rows: list[tuple[str, str]] = []

    def walk(actions: list[QAction], path: str) -> None:
        for action in actions:
            text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
            if action.menu() is not None:
                walk(action.menu().actions(), f"{path}{text} › ")
            elif not action.shortcut().isEmpty():
                rows.append((action.shortcut().toString(QKeySequence.SequenceFormat.NativeText), f"{path}{text}"))

    walk(menu_bar.actions(), "")
    return rows + list(PAGE_KEYS)


class ShortcutsDialog(QDialog):
    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (keys, what) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(what))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(520, 480)


# a package can come in another distribution: PySide6's modules are PySide6-Essentials' here
DISTRIBUTIONS = {"PySide6": ("PySide6", "PySide6-Essentials", "PySide6-Addons")}


def _installed_version(name: str) -> str:
    for distribution in DISTRIBUTIONS.get(name, (name,)):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def versions() -> dict[str, str]:
    found = {"MetaLab": engine.__version__, "Python": platform.python_version()}
    for name in VERSION_PACKAGES:
        found[name] = _installed_version(name)
    from PySide6 import QtCore

    found["Qt"] = QtCore.qVersion()
    return found


def about_text(db_path: Path, storage: str) -> str:
    lines = [f"<b>MetaLab {engine.__version__}</b> — meta-learning experiments with language models.", "<br>"]
    lines += [f"{name}: {version}" for name, version in versions().items() if name != "MetaLab"]
    # rich text: the paths are escaped, the storage URL shown without its password
    lines += ["<br>", f"Run database: {html.escape(str(db_path))}", f"Studies: {html.escape(redact(storage))}"]
    return "<br>".join(lines)


class AboutDialog(QDialog):
    def __init__(self, text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About MetaLab")
        self.label = QLabel(text)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)
