"""Where MetaLab keeps its data: the user's data folder, never the repository."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "MetaLab"
DB_ENV = "METALAB_DB"
DATA_ENV = "METALAB_DATA"


def data_dir() -> Path:
    """The folder for the run database and artifacts (``METALAB_DATA`` overrides)."""
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    """``--db`` wins over ``METALAB_DB``, which wins over the data folder."""
    override = os.environ.get(DB_ENV)
    if override:
        return Path(override).expanduser()
    return data_dir() / "metalab.db"


def artifacts_dir(db_path: Path) -> Path:
    """Artifacts (checkpoints, exported weights) live beside the database they belong to."""
    return Path(db_path).expanduser().resolve().parent / "artifacts"


def resources_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "resources"
