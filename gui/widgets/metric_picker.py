"""Which metrics the charts show: a menu of every metric a run logs, grouped by kind.

Until someone picks, the choice follows ``default_picks`` as metrics arrive (train loss,
the headline validation metric and its final test value, the inner-loop before/after pair).
After a pick, the person's choice stays (also for metrics that have not arrived yet, and
from one start of the app to the next: QSettings, one key per page); other metrics that
arrive later are listed, unpicked. "Defaults" goes back to following ``default_picks``.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

from gui.metric_kinds import default_picks, grouped
from gui.settings import app_settings


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

    def _update_text(self) -> None:
        self.setText(f"Metrics ({len(self.picked & set(self.names))} of {len(self.names)})")

    def _fill(self) -> None:
        menu = self._menu
        menu.clear()
        menu.addAction("Defaults", self._defaults)
        menu.addAction("All", lambda: self.set_picked(self.names))
        menu.addAction("None", lambda: self.set_picked([]))
        for kind, names in grouped(self.names).items():
            menu.addSection(kind)
            for name in names:
                action = QAction(name, menu)
                action.setCheckable(True)
                action.setChecked(name in self.picked)
                action.toggled.connect(lambda on, n=name: self._toggle(n, on))
                menu.addAction(action)

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
