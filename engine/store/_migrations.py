"""Schema changes as named migrations, each applied once in a transaction and recorded.

Never edit a migration that has shipped: add a new one. ``SCHEMA_VERSION`` is the number
of migrations; it is also written to ``PRAGMA user_version`` for tools that read it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

import sqlite_utils

from engine.store._connection import transaction

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial(db: sqlite_utils.Database) -> None:
    db["runs"].create(
        {
            "id": str,
            "name": str,
            "status": str,
            "method": str,
            "model": str,
            "dataset": str,
            "task_mode": str,
            "n_way": int,
            "k_shot": int,
            "config": str,  # the whole RunConfig as JSON
            "tags": str,  # JSON list
            "notes": str,
            "created_at": str,  # ISO 8601, UTC
            "started_at": str,
            "finished_at": str,
            "heartbeat_at": str,
            "device": str,
            "versions": str,  # JSON object: python, torch, transformers, metalab
            "final_metrics": str,  # JSON object
            "episodes_key": str,  # fingerprint of the meta-test episodes: equal keys pair runs
            "error": str,
            "pid": int,
            "host": str,
            "parent_id": str,
            "study": str,
            "trial_number": int,
        },
        pk="id",
        not_null={"name", "status", "config", "created_at"},
        defaults={"tags": "[]", "notes": ""},
    )
    db["runs"].create_index(["created_at"])
    db["runs"].create_index(["status"])
    db["metrics"].create(
        {"run_id": str, "name": str, "step": int, "value": float, "wall_time": float, "time": float},
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["metrics"].create_index(["run_id", "name", "step"])
    db["episodes"].create(
        {
            "run_id": str,
            "split": str,
            "episode": int,
            "accuracy": float,
            "loss": float,
            "macro_f1": float,
            "n_query": int,
            "key": str,  # hash of the episode's example ids
        },
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["episodes"].create_index(["run_id", "split", "episode"], unique=True)
    db["logs"].create(
        {"run_id": str, "time": float, "level": str, "message": str},
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["logs"].create_index(["run_id", "time"])
    db["artifacts"].create(
        {"run_id": str, "kind": str, "path": str, "step": int, "size": int, "created_at": str},
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["artifacts"].create_index(["run_id"])


@migration
def m002_episode_task_metrics(db: sqlite_utils.Database) -> None:
    """Per-episode scores of any task type: entity-level F1, precision and recall as columns
    (token classification), every metric of the episode as JSON in ``metrics``. Old rows
    keep their values and get NULLs; readers of accuracy/loss/macro_f1 see no change."""
    for column in ("f1", "precision", "recall"):
        db["episodes"].add_column(column, float)
    db["episodes"].add_column("metrics", str)


@migration
def m003_run_fingerprints(db: sqlite_utils.Database) -> None:
    # What a run was trained on, so resume and fork can refuse changed data or a changed model.
    db["runs"].add_column("data_fingerprint", str)
    db["runs"].add_column("model_fingerprint", str)


@migration
def m004_run_progress(db: sqlite_utils.Database) -> None:
    """Where a running run is, for readers that do not hear its events: ``progress`` (share of
    the whole run done, by time, every phase counted), ``phase`` (train, val, reference, test,
    untrained), and ``earlier_seconds`` (time it ran before its latest resume)."""
    db["runs"].add_column("progress", float)
    db["runs"].add_column("phase", str)
    db["runs"].add_column("earlier_seconds", float)


SCHEMA_VERSION = len(MIGRATIONS)


def pending(conn: sqlite3.Connection) -> list[str]:
    """Names of migrations not yet applied to an existing database (all, for a new one)."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_migrations'").fetchone()
    applied = {r[0] for r in conn.execute("SELECT name FROM _migrations")} if exists else set()
    return [name for name, _ in MIGRATIONS if name not in applied]


def migrate(conn: sqlite3.Connection) -> int:
    """Applies what is missing; returns how many migrations ran."""
    db = sqlite_utils.Database(conn)
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    ran = 0
    for name, fn in MIGRATIONS:
        if name in applied:
            continue
        with transaction(conn):
            # Re-check inside the write lock: another process may have just migrated.
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                continue
            fn(db)
            conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
            conn.execute(f"PRAGMA user_version = {MIGRATIONS.index((name, fn)) + 1}")
        ran += 1
    return ran
