"""Which metrics the charts show: a menu of every metric a run logs, grouped by kind.

Until someone picks, the choice follows ``default_picks`` as metrics arrive (train loss,
the headline validation metric and its final test value, the inner-loop before/after pair).
After a pick, the person's choice stays (also for metrics that have not arrived yet, and
from one start of the app to the next: QSettings, one key per page); other metrics that
arrive later are listed, unpicked. "Defaults" goes back to following ``default_picks``.

A run with thousands of metrics (a TensorBoard import) lists the picked ones and the first
``MENU_NAMES`` others; the "Find a metric" field at the top finds any of them by a part of
its name, and Enter charts it.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCompleter, QLineEdit, QMenu, QToolButton, QWidget, QWidgetAction

from gui.metric_kinds import default_picks, grouped
from gui.settings import app_settings

MENU_NAMES = 100  # metrics listed in the menu; the search field finds the rest


class _StayOpenMenu(QMenu):
    """Ticking a metric keeps the menu open, so several can be picked in one go."""

    def mouseReleaseEvent(self, event) -> None:  # noqa: ANN001
        action = self.activeAction()
        if action is not None and action.isCheckable() and action.isEnabled():
            action.trigger()
            return
        super().mouseReleaseEvent(event)


class MetricPicker(QToolButton):
    picks_changed = Signal()

    def __init__(self, key: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.key = f"charts/{key}_picks" if key else None
        self.setText("Metrics")
        self.setToolTip("Pick the metrics to chart; grouped by kind")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.names: list[str] = []
        self.picked: set[str] = set()
        self.customised = False
        self._menu = _StayOpenMenu(self)
        self.setMenu(self._menu)
        self._menu.aboutToShow.connect(self._fill)
        self.search = QLineEdit(placeholderText="Find a metric…")
        self.search.setClearButtonEnabled(True)
        self._search_names = QStringListModel(self)
        completer = QCompleter(self._search_names, self.search)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.activated[str].connect(self.add_pick)
        self.search.setCompleter(completer)
        self.search.returnPressed.connect(lambda: self.add_pick(self.search.text()))
        self._search_action = QWidgetAction(self)  # owned here: the menu's clear() keeps it
        self._search_action.setDefaultWidget(self.search)
        saved = app_settings().value(self.key) if self.key else None
        if isinstance(saved, (list, str)):
            self.picked = {saved} if isinstance(saved, str) else {str(n) for n in saved}
            self.customised = True

    def set_names(self, names: Iterable[str], *, reset: bool = False) -> bool:
        """The metrics there are; True when the picks changed."""
        names = sorted(set(names))
        if reset:
            self.customised = False
        if names == self.names and not reset:
            return False
        self.names = names
        self._search_names.setStringList(names)
        before = set(self.picked)
        if not self.customised:  # (a person's picks stay, even of metrics this run lacks)
            self.picked = set(default_picks(names))
        self._update_text()
        return self.picked != before

    def set_picked(self, names: Iterable[str]) -> None:
        self.picked = set(names)
        self.customised = True
        if self.key:
            app_settings().setValue(self.key, sorted(self.picked))
        self._update_text()
        self.picks_changed.emit()

    def matches(self, text: str) -> list[str]:
        """The metrics whose names hold ``text`` (any case), as the search field offers them."""
        wanted = text.strip().lower()
        return [name for name in self.names if wanted in name.lower()] if wanted else []

    def add_pick(self, name: str) -> bool:
        """Charts the metric named exactly ``name`` (the search field's Enter); True if it is one."""
        name = name.strip()
        if name not in self.names:
            return False
        self.search.clear()
        if name not in self.picked:
            self.set_picked({*self.picked, name})
        return True

    def _update_text(self) -> None:
        self.setText(f"Metrics ({len(self.picked & set(self.names))} of {len(self.names)})")

    def _fill(self) -> None:
        menu = self._menu
        menu.clear()
        menu.addAction(self._search_action)
        menu.addAction("Defaults", self._defaults)
        if len(self.names) <= MENU_NAMES:  # all of 20,000 metrics is no chart anyone reads
            menu.addAction("All", lambda: self.set_picked(self.names))
        menu.addAction("None", lambda: self.set_picked([]))
        listed = self._listed()
        for kind, names in grouped(listed).items():
            menu.addSection(kind)
            for name in names:
                action = QAction(name, menu)
                action.setCheckable(True)
                action.setChecked(name in self.picked)
                action.toggled.connect(lambda on, n=name: self._toggle(n, on))
                menu.addAction(action)

        if len(listed) < len(self.names):
            more = menu.addAction(f"{len(self.names) - len(listed):,} more: find them by name above")
            more.setEnabled(False)

    def _listed(self) -> list[str]:
        """The menu's metrics: every picked one, then others up to ``MENU_NAMES``."""
        if len(self.names) <= MENU_NAMES:
            return self.names
        picked = [n for n in self.names if n in self.picked]
        others = [n for n in self.names if n not in self.picked][: max(0, MENU_NAMES - len(picked))]
        return sorted(picked + others)

    def _toggle(self, name: str, on: bool) -> None:
        picked = set(self.picked)
        picked.add(name) if on else picked.discard(name)
        self.set_picked(picked)

    def _defaults(self) -> None:
        self.customised = False
        if self.key:
            app_settings().remove(self.key)
        self.picked = set(default_picks(self.names))
        self._update_text()
        self.picks_changed.emit()
