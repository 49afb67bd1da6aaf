"""QSettings in one place: window geometry, last choices, recent models, caches."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings

ORGANIZATION = "MetaLab"
APPLICATION = "MetaLab"
MAX_RECENT = 8


def app_settings() -> QSettings:
    """An ini file in the user's config folder on every platform (tests point it elsewhere)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def recent(key: str) -> list[str]:
    value: Any = app_settings().value(f"recent/{key}", [])
    if isinstance(value, str):
        value = [value] if value else []
    return [str(v) for v in (value or [])]


def remember(key: str, item: str) -> None:
    items = [item] + [i for i in recent(key) if i != item]
    app_settings().setValue(f"recent/{key}", items[:MAX_RECENT])
