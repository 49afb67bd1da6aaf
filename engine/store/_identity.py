"""Is this file MetaLab's, and of a schema this MetaLab knows? Asked before anything writes.

A new database is stamped with ``PRAGMA application_id``; one made before the stamp
existed is recognised by its ``_migrations`` table. Anything else (another program's
SQLite file, a text file) is refused untouched: no WAL switch, no table, no backup.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.errors import UserError

# "MLab" in ASCII: the four bytes at offset 68 of the file header.
APPLICATION_ID = 0x4D4C6162
SQLITE_MAGIC = b"SQLite format 3\x00"


def check_database_file(path: Path, known_migrations: list[str]) -> None:
    """Raises a one-line UserError unless ``path`` is absent, empty, or a MetaLab database
    whose migrations this version knows."""
    if not path.exists() or path.is_dir():
        return  # a folder fails later with SQLite's own "unable to open"
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise UserError(f"cannot read the run database ({exc.strerror})", source=str(path)) from None
    if not header:
        return  # an empty file: SQLite treats it as a new database
    if not header.startswith(SQLITE_MAGIC):
        raise UserError("not a MetaLab run database (not an SQLite file)", source=str(path))
    app_id = int.from_bytes(header[68:72], "big")
    if app_id not in (0, APPLICATION_ID):
        raise UserError(f"not a MetaLab run database (another program's SQLite file, application_id {app_id})", source=str(path))
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise UserError(f"cannot open the run database ({exc})", source=str(path)) from None
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if app_id == 0 and tables and "_migrations" not in tables:
            shown = ", ".join(sorted(tables)[:3])
            raise UserError(f"not a MetaLab run database (it has tables {shown} but no _migrations)", source=str(path))
        if "_migrations" not in tables:
            return
        applied = [r[0] for r in conn.execute("SELECT name FROM _migrations")]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise UserError(f"cannot open the run database ({exc})", source=str(path)) from None
    finally:
        conn.close()
    if app_id == 0 and known_migrations and known_migrations[0] not in applied:
        # Other programs keep a _migrations table too: an unstamped file must hold our first one.
        raise UserError("not a MetaLab run database (its _migrations table is another program's)", source=str(path))
    unknown = [name for name in applied if name not in known_migrations]
    if unknown or version > len(known_migrations):
        newer = max(version, len(applied))
        raise UserError(
            f"made by a newer MetaLab (schema {newer}); this one knows up to {len(known_migrations)}",
            source=str(path),
        )


def stamp(conn: sqlite3.Connection) -> None:
    """Marks a database as MetaLab's (new files, and old ones from before the stamp)."""
    if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
