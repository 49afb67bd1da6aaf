"""The SQLite run store (see docs/STORE.md for the tables, a contract other programs read)."""

from engine.store._connection import connect, transaction
from engine.store._migrations import SCHEMA_VERSION
from engine.store._store import (
    RUN_STATUSES,
    SILENT_ENGINE,
    STALE_AFTER_SECONDS,
    TERMINAL_STATUSES,
    RunIsLive,
    Store,
    new_run_id,
    now_iso,
    parse_iso,
)

__all__ = [
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "SILENT_ENGINE",
    "RunIsLive",
    "STALE_AFTER_SECONDS",
    "TERMINAL_STATUSES",
    "Store",
    "connect",
    "new_run_id",
    "now_iso",
    "parse_iso",
    "transaction",
]
