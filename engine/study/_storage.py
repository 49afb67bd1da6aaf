"""Where studies live: Optuna's own storage, always apart from MetaLab's run database.

``journal:PATH``
    Optuna's journal file (the default: ``studies.journal`` beside the run database).
    Safe for several worker processes on one machine, or on many sharing a file system
    that supports symlinks or ``O_EXCL`` (NFS does).
``sqlite:///PATH``
    Optuna's SQLite storage: fine for one process; Optuna advises against it for
    parallel workers (a reader such as a dashboard can meet "database is locked").
``postgresql://USER:PASSWORD@HOST/DB`` (or ``mysql://...``)
    Optuna's RDB storage, for workers on many machines. Needs a driver
    (``pip install 'metalab[postgres]'``).

Each of these can be opened by stock Optuna tools too (``optuna-dashboard URL``; for a
journal file, ``optuna-dashboard PATH``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import UserError
from engine.storage_secret import redact  # every URL shown goes through it (re-exported by engine.study)

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

DEFAULT_JOURNAL = "studies.journal"
RDB_SCHEMES = ("sqlite", "postgresql", "mysql")
HINT = "journal:PATH, sqlite:///PATH, postgresql://USER@HOST/DB or mysql://USER@HOST/DB"


def default_storage(db_path: Path) -> str:
    return f"journal:{Path(db_path).expanduser().resolve().parent / DEFAULT_JOURNAL}"


def check_storage(url: str, *, db_path: Path | None = None) -> None:
    """Errors a URL can be found to have without opening it (nothing is written)."""
    if url.startswith("journal:"):
        path = Path(url[len("journal:") :]).expanduser()
        if not url[len("journal:") :].strip():
            raise UserError(f"storage '{redact(url)}': a journal needs a file path, e.g. journal:studies.journal")
        if path.is_dir():
            raise UserError(f"storage '{redact(url)}': is a folder, expected a journal file")
        if not path.parent.is_dir():
            raise UserError(f"storage '{redact(url)}': folder {path.parent} does not exist")
        if db_path is not None and path.resolve() == Path(db_path).expanduser().resolve():
            raise UserError(f"storage '{redact(url)}' is the run database: keep Optuna's storage in its own file")
        return
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if "://" not in url or scheme not in RDB_SCHEMES:
        raise UserError(f"storage '{redact(url)}' is not understood: use {HINT}")
    if scheme == "sqlite":
        rest = url.split(":///", 1)[1] if ":///" in url else ""
        if not rest or rest == ":memory:":
            raise UserError(f"storage '{redact(url)}': an in-memory or empty SQLite path cannot hold a study")
        path = Path(rest).expanduser()
        if path.is_dir() or not path.parent.is_dir():
            raise UserError(f"storage '{redact(url)}': {'is a folder' if path.is_dir() else f'folder {path.parent} does not exist'}")
        if db_path is not None and path.resolve() == Path(db_path).expanduser().resolve():
            raise UserError(f"storage '{redact(url)}' is the run database: keep Optuna's storage in its own file")


def storage_exists(url: str) -> bool:
    """False for a journal or SQLite file that is not there yet (listing must not create it)."""
    if url.startswith("journal:"):
        return Path(url[len("journal:") :]).expanduser().exists()
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :]).expanduser().exists()
    return True


def open_storage(url: str, *, db_path: Path | None = None) -> BaseStorage:
    """An Optuna storage for ``url``; any failure is one UserError line."""
    check_storage(url, db_path=db_path)
    import optuna

    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url[len("journal:") :]).expanduser()
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except OSError as exc:
            raise UserError(f"storage '{redact(url)}': cannot open ({exc.strerror or exc})") from None
    connect = _with_installed_driver(url)  # messages name the URL as the user wrote it
    try:
        return optuna.storages.RDBStorage(connect, engine_kwargs=_engine_kwargs(connect))
    except ImportError as exc:
        raise UserError(
            f"storage '{redact(url)}': no database driver ({exc.name or exc}); install it with pip install 'metalab[postgres]'"
        ) from None
    except Exception as exc:  # sqlalchemy's errors, version mismatches
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"storage '{redact(url)}' cannot be opened: {redact(first)}") from None


def _with_installed_driver(url: str) -> str:
    """``postgresql://`` means psycopg2 to SQLAlchemy; use psycopg 3 when only it is installed."""
    if not url.startswith("postgresql://"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg2") is None and importlib.util.find_spec("psycopg") is not None:
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _engine_kwargs(url: str) -> dict[str, object]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    if url.startswith("postgresql"):
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    return {}
