"""A small API over the run database. Reads return plain dicts; writes run in transactions.

Torch-free: the GUI reads through it. One ``Store`` per thread (SQLite connections are
not shared across threads or ``fork()``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from engine.errors import UserError
from engine.paths import artifacts_dir
from engine.store._connection import connect, transaction
from engine.store._damage import CONFIG_CHECK_SQL, decode_episode, decode_run, parse_date, process_id
from engine.store._identity import check_database_file, stamp
from engine.store._migrations import MIGRATIONS, migrate, pending

RUN_STATUSES = ("queued", "running", "finished", "failed", "interrupted", "pruned", "imported")  # imported: made elsewhere
TERMINAL_STATUSES = ("finished", "failed", "interrupted", "pruned")
EPISODE_SCORES = ("accuracy", "loss", "macro_f1", "f1", "precision", "recall")  # columns of the episodes table
JSON_COLUMNS = ("config", "tags", "versions", "final_metrics")
# A metric row another program wrote with a value that is not a number is left out of curves.
SOUND_METRIC = "typeof(value) NOT IN ('text', 'blob')"
# Why mark_stale_runs ended a silent run; an engine that was only paused takes its run back.
SILENT_ENGINE = "engine stopped sending heartbeats"
# A running run whose heartbeat is older than this is taken to be dead.
STALE_AFTER_SECONDS = 30.0
# A run id prefix shorter than this is refused: "" or "a" would match far too much.
MIN_ID_PREFIX = 4
# Names the database that owns an artifacts folder (two databases can share a folder).
OWNER_FILE = ".database"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> float | None:
    """Seconds since the epoch; None when missing or not a time (a row another program edited)."""
    return parse_date(text)


def _ran_seconds(started: Any, ended: Any) -> float:
    """Seconds between two stored times; 0 where either is missing or not a time."""
    try:
        began, end = parse_iso(started), parse_iso(ended)
    except (TypeError, ValueError, AttributeError):
        return 0.0
    return max(0.0, end - began) if began is not None and end is not None else 0.0


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


class RunIsLive(UserError):
    """A run whose engine (or the program that queued it) is alive is not deleted under it."""


# A queued run with an owner is about to start: as live as a running one.
LIVE_SQL = "status = 'running' OR (status = 'queued' AND pid IS NOT NULL)"


class Store:
    """The run database at ``path`` (created and migrated on first open)."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path) if str(path) != ":memory:" else Path(":memory:")
        try:
            if str(path) != ":memory:":
                # Before anything touches the file: another program's database stays as it is.
                check_database_file(self.path.expanduser(), [name for name, _ in MIGRATIONS])
            self.conn = connect(self.path, readonly=readonly)
            if not readonly:
                self._migrate()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot open the run database ({exc})", source=str(path)) from None
        except PermissionError as exc:
            raise UserError(f"cannot write the run database ({exc.strerror})", source=str(path)) from None
        except OSError as exc:  # its folder cannot be made: a regular file on the way
            raise UserError(f"cannot create the run database's folder ({exc.strerror})", source=str(path)) from None
        self.db = sqlite_utils.Database(self.conn)

    def _migrate(self) -> None:
        todo = pending(self.conn)
        has_data = self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone()
        if todo and has_data and str(self.path) != ":memory:":
            # A schema change on a database with runs in it: keep a copy of the old file first.
            self.backup(self.path.with_suffix(f".before-v{self.schema_version}.bak"))
        migrate(self.conn)
        stamp(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def backup(self, target: str | Path) -> Path:
        """A consistent copy through SQLite's backup API (never a file copy of a live DB)."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        dest = sqlite3.connect(str(target))
        try:
            self.conn.backup(dest)
        finally:
            dest.close()
        return target

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    # --- runs ---------------------------------------------------------------------
    def create_run(
        self,
        config: dict[str, Any],
        *,
        status: str = "queued",
        run_id: str | None = None,
        parent_id: str | None = None,
        study: str | None = None,
        trial_number: int | None = None,
        owner_pid: int | None = None,
    ) -> str:
        """``owner_pid``: the process that will start this queued run (the GUI); if it dies
        first, ``mark_stale_runs`` marks the run interrupted instead of leaving it queued."""
        run_id = run_id or new_run_id()
        row = {
            "id": run_id,
            "name": config.get("name", "run"),
            "status": status,
            "method": config.get("method", {}).get("name"),
            "model": config.get("model", {}).get("name"),
            "dataset": config.get("dataset", {}).get("path"),
            "task_mode": config.get("task", {}).get("mode"),
            "n_way": config.get("task", {}).get("n_way"),
            "k_shot": config.get("task", {}).get("k_shot"),
            "config": json.dumps(config),
            "tags": json.dumps(config.get("tags", [])),
            "notes": config.get("notes", ""),
            "created_at": now_iso(),
            "parent_id": parent_id,
            "study": study,
            "trial_number": trial_number,
            "pid": owner_pid,
            "host": socket.gethostname() if owner_pid else None,
        }
        with transaction(self.conn):
            self.db["runs"].insert(row)
        return run_id

    def update_run(self, run_id: str, **values: Any) -> None:
        for key in JSON_COLUMNS:
            if key in values and not isinstance(values[key], str) and values[key] is not None:
                values[key] = json.dumps(values[key])
        with transaction(self.conn):
            self.db["runs"].update(run_id, values)

    def start_run(self, run_id: str, *, device: str, versions: dict[str, str], pid: int, host: str) -> None:
        stamp = now_iso()
        before = self.conn.execute(
            "SELECT started_at, finished_at, heartbeat_at, earlier_seconds FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        earlier = None
        if before is not None and before[0]:  # resumed: the time it ran before counts in its duration
            kept = before[3] if isinstance(before[3], (int, float)) else 0.0
            earlier = kept + _ran_seconds(before[0], before[1] or before[2])
        self.update_run(
            run_id, status="running", started_at=stamp, heartbeat_at=stamp, device=device, versions=versions, pid=pid, host=host,
            progress=None, phase=None, earlier_seconds=earlier,
        )

    def claim_run(self, run_id: str, *, from_statuses: Sequence[str], pid: int, host: str) -> bool:
        """The run becomes ``queued``, owned by ``pid``, only if its status is one of
        ``from_statuses``: one UPDATE, so of several processes claiming a run at once
        exactly one gets True (two resumes would otherwise train it twice)."""
        marks = ", ".join("?" for _ in from_statuses)
        with transaction(self.conn):
            claimed = self.conn.execute(
                f"UPDATE runs SET status = 'queued', pid = ?, host = ?, error = NULL, finished_at = NULL"
                f" WHERE id = ? AND status IN ({marks})",
                (pid, host, run_id, *from_statuses),
            ).rowcount
        return claimed == 1

    def set_progress(self, run_id: str, fraction: float, phase: str) -> None:
        with transaction(self.conn):
            self.conn.execute("UPDATE runs SET progress = ?, phase = ? WHERE id = ?", (float(fraction), phase, run_id))

    def heartbeat(self, run_id: str, *, pid: int | None = None) -> str:
        """``beat``; ``gone`` when the run's row was deleted under its engine; ``reclaimed`` when
        a reader had marked the run interrupted for its silence (a paused engine, a reader on
        another host) and the engine ``pid`` that owns it sets it back to running."""
        stamp = now_iso()
        with transaction(self.conn):
            if pid is not None and self.conn.execute(
                "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL, heartbeat_at = ?"
                " WHERE id = ? AND status = 'interrupted' AND error = ? AND pid = ?",
                (stamp, run_id, SILENT_ENGINE, pid),
            ).rowcount:
                return "reclaimed"
            beat = self.conn.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", (stamp, run_id)).rowcount
        return "beat" if beat else "gone"

    def run_exists(self, run_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None

    def remove_orphan_folder(self, run_id: str) -> None:
        """The artifacts folder of a run whose row is gone (deleted while its engine wrote)."""
        if str(self.path) != ":memory:" and not self.run_exists(run_id):
            _remove_run_folder(self.path, run_id)

    def finish_run(
        self, run_id: str, status: str, *, final_metrics: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        if status not in TERMINAL_STATUSES:
            raise ValueError(status)
        # error is always written: a finished run keeps no reason from an earlier, wrong marking
        values: dict[str, Any] = {"status": status, "finished_at": now_iso(), "heartbeat_at": now_iso(), "error": error}
        if final_metrics is not None:
            values["final_metrics"] = final_metrics
        self.update_run(run_id, **values)

    def resolve_id(self, id_or_prefix: str) -> str:
        """A full run id, or a prefix of at least ``MIN_ID_PREFIX`` characters that matches
        exactly one run (as with git hashes). Matching is by ``substr``, not ``LIKE``, so no
        character in the prefix is a wildcard."""
        if not id_or_prefix:
            raise UserError("the run id is empty", source=str(self.path))
        try:
            id_or_prefix.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes from argv: no id has them
            raise UserError(f"no run with id {id_or_prefix!r}", source=str(self.path)) from None
        exact = self.conn.execute("SELECT id FROM runs WHERE id = ?", (id_or_prefix,)).fetchone()
        if exact:
            return exact[0]
        if len(id_or_prefix) < MIN_ID_PREFIX:
            raise UserError(
                f"no run with id {id_or_prefix!r} (a prefix needs at least {MIN_ID_PREFIX} characters)", source=str(self.path)
            )
        rows = self.conn.execute(
            "SELECT id FROM runs WHERE substr(id, 1, ?) = ? LIMIT 2", (len(id_or_prefix), id_or_prefix)
        ).fetchall()
        if not rows:
            raise UserError(f"no run with id {id_or_prefix!r}", source=str(self.path))
        if len(rows) > 1:
            raise UserError(f"run id prefix {id_or_prefix!r} is ambiguous", source=str(self.path))
        return rows[0][0]

    def get_run(self, run_id: str) -> dict[str, Any]:
        run_id = self.resolve_id(run_id)
        row = self.db["runs"].get(run_id)
        return _decode_run(dict(row))

    def list_runs(
        self, *, status: str | None = None, limit: int | None = None, study: str | None = None, config: bool = True
    ) -> list[dict[str, Any]]:
        """Runs, newest first. ``config=False`` leaves out each run's config (a table of 10,000
        runs reads and decodes in half the time); ``get_run`` has it."""
        where, params = [], []
        if status:
            where.append("status = ?")
            params.append(status)
        if study:
            where.append("study = ?")
            params.append(study)
        columns = "*" if config else ", ".join([*(f'"{c}"' for c in self.db["runs"].columns_dict if c != "config"), CONFIG_CHECK_SQL])
        sql = f"SELECT {columns} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, rowid DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return [_decode_run(dict(r)) for r in self.db.query(sql, params)]

    def delete_run(self, run_id: str) -> dict[str, Any]:
        """Removes a run, its rows and its artifacts folder (checkpoints, weights).

        Only a folder inside this database's artifacts folder and claimed by this database
        is removed: a copy of the database beside the original keeps its hands off the
        original's files. ``kept`` says why a folder stayed."""
        run_id = self.resolve_id(run_id)
        artifacts = self.artifacts(run_id)
        with transaction(self.conn):  # the write lock: the run cannot start between the check and the delete
            live = self.conn.execute(f"SELECT status, pid FROM runs WHERE id = ? AND ({LIVE_SQL})", (run_id,)).fetchone()
            if live:
                raise RunIsLive(f"run {run_id} is {live[0]} (pid {live[1]}): stop it before deleting it", source=str(self.path))
            for table in ("metrics", "episodes", "logs", "artifacts"):
                self.conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            self.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        kept = None
        if str(self.path) != ":memory:":
            kept = _remove_run_folder(self.path, run_id)
        return {"id": run_id, "artifacts": [a["path"] for a in artifacts], "kept": kept}

    def claim_artifacts(self, run_id: str) -> Path:
        """The run's artifacts folder, created and marked as this database's."""
        folder = artifacts_dir(self.path) / run_id
        folder.mkdir(parents=True, exist_ok=True)
        owner = folder / OWNER_FILE
        if not owner.exists():
            owner.write_text(self.path.name + "\n", encoding="utf-8")
        return folder

    def mark_stale_runs(self, *, stale_after: float = STALE_AFTER_SECONDS) -> list[str]:
        """Runs whose process is gone are marked interrupted; returns their ids.

        A running run whose heartbeat stopped (or whose engine pid on this host is dead), and a
        queued run whose owner on this host (the GUI that queued it) died before starting it."""
        cutoff = time.time() - stale_after
        here = socket.gethostname()
        stale: dict[str, str] = {}
        for run_id, status, beat_at, started_at, stored_pid, host in self.conn.execute(
            "SELECT id, status, heartbeat_at, started_at, pid, host FROM runs WHERE status IN ('running', 'queued')"
        ):
            pid = process_id(stored_pid)  # text or an overflow: no process to ask, judged by its heartbeat
            dead_here = host == here and pid and not _process_alive(pid)
            if status == "queued":
                if dead_here:
                    stale[run_id] = "the program that queued it closed before it started"
                continue
            beat = parse_iso(beat_at) or parse_iso(started_at) or 0.0
            # On this machine the engine's process says it all: a dead one is seen at once, and a
            # live one is kept however long a step takes (a slow MAML step under load, or rows
            # waiting for another program's lock). Elsewhere a run is judged by its silence.
            alive_here = host == here and pid and not dead_here
            if dead_here or (beat < cutoff and not alive_here):
                stale[run_id] = SILENT_ENGINE
        for run_id, error in stale.items():
            with transaction(self.conn):
                self.conn.execute(
                    "UPDATE runs SET status = 'interrupted', error = ?, finished_at = ?"
                    " WHERE id = ? AND status IN ('running', 'queued')",
                    (error, now_iso(), run_id),
                )
        return list(stale)

    # --- metrics, episodes, logs, artifacts ----------------------------------------
    def add_metrics(self, run_id: str, rows: Iterable[Sequence[Any]]) -> None:
        """Rows of (name, step, value, wall_time, time)."""
        data = [(run_id, *r) for r in rows]
        if not data:
            return
        with transaction(self.conn):
            self.conn.executemany(
                "INSERT INTO metrics (run_id, name, step, value, wall_time, time) VALUES (?, ?, ?, ?, ?, ?)", data
            )

    def add_logs(self, run_id: str, rows: Iterable[Sequence[Any]]) -> None:
        """Rows of (time, level, message)."""
        data = [(run_id, *r) for r in rows]
        if not data:
            return
        with transaction(self.conn):
            self.conn.executemany("INSERT INTO logs (run_id, time, level, message) VALUES (?, ?, ?, ?)", data)

    def add_episodes(self, run_id: str, rows: Iterable[dict[str, Any]], *, split: str = "test") -> None:
        """One row per episode: the columns a task type has, and all of its metrics as JSON."""
        data = []
        for r in rows:
            scores = {k: v for k, v in r.items() if k not in ("episode", "key", "n_query") and isinstance(v, (int, float))}
            data.append((
                run_id, split, r["episode"], *(r.get(c) for c in EPISODE_SCORES),
                json.dumps(scores), r.get("n_query"), r.get("key"),
            ))
        columns = ", ".join(EPISODE_SCORES)
        with transaction(self.conn):
            self.conn.executemany(
                f"INSERT OR REPLACE INTO episodes (run_id, split, episode, {columns}, metrics, n_query, key)"
                f" VALUES (?, ?, ?, {', '.join('?' for _ in EPISODE_SCORES)}, ?, ?, ?)",
                data,
            )

    def add_artifact(self, run_id: str, kind: str, path: str | Path, *, step: int | None = None) -> None:
        """The path is stored relative to the database's folder, so a moved or copied
        database (with its artifacts folder) points at its own files."""
        path = Path(path)
        size = path.stat().st_size if path.is_file() else None
        with transaction(self.conn):
            self.db["artifacts"].insert(
                {"run_id": run_id, "kind": kind, "path": self._stored_path(path), "step": step, "size": size, "created_at": now_iso()}
            )

    def remove_artifact(self, run_id: str, path: str | Path) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "DELETE FROM artifacts WHERE run_id = ? AND path IN (?, ?)", (run_id, str(path), self._stored_path(Path(path)))
            )

    def _stored_path(self, path: Path) -> str:
        if str(self.path) == ":memory:":
            return str(path)
        base = self.path.expanduser().resolve().parent
        try:
            return Path(path).resolve().relative_to(base).as_posix()
        except ValueError:  # outside the database's folder: kept as given
            return str(path)

    def _full_path(self, stored: str) -> str:
        if str(self.path) == ":memory:" or Path(stored).is_absolute():
            return stored  # rows from before paths were relative
        return str(self.path.expanduser().resolve().parent / stored)

    def delete_metrics_after(self, run_id: str, step: int, *, saved_at: float | None = None) -> int:
        """Rows written after a checkpoint, dropped before resuming from it: those of later
        steps and, given the checkpoint's time, those of its own step written after it (the
        validation after training, redone by the resumed run)."""
        with transaction(self.conn):
            if saved_at is None:
                return self.conn.execute("DELETE FROM metrics WHERE run_id = ? AND step > ?", (run_id, step)).rowcount
            return self.conn.execute(
                "DELETE FROM metrics WHERE run_id = ? AND (step > ? OR (step = ? AND time > ?))", (run_id, step, step, saved_at)
            ).rowcount

    def copy_metrics(self, source_id: str, target_id: str, *, up_to_step: int) -> int:
        """A fork's curves start with its parent's, up to the checkpoint it starts from."""
        with transaction(self.conn):
            return self.conn.execute(
                "INSERT INTO metrics (run_id, name, step, value, wall_time, time)"
                " SELECT ?, name, step, value, wall_time, time FROM metrics WHERE run_id = ? AND step <= ?",
                (target_id, source_id, up_to_step),
            ).rowcount

    def metric_names(self, run_id: str) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name", (run_id,))]

    def metrics(self, run_id: str, name: str | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT name, step, value, wall_time, time FROM metrics WHERE run_id = ? AND {SOUND_METRIC}"
        params: list[Any] = [run_id]
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        sql += " ORDER BY name, step, rowid"
        return [dict(r) for r in self.db.query(sql, params)]

    def metrics_since(self, run_id: str, after_rowid: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Rows added after ``after_rowid`` in insertion order, and the newest rowid (for followers)."""
        rows = [dict(r) for r in self.db.query(
            f"SELECT rowid, name, step, value, wall_time, time FROM metrics WHERE run_id = ? AND rowid > ? AND {SOUND_METRIC}"
            " ORDER BY rowid",
            [run_id, after_rowid],
        )]
        return rows, (rows[-1]["rowid"] if rows else after_rowid)

    def logs_since(self, run_id: str, after_rowid: int = 0) -> tuple[list[dict[str, Any]], int]:
        rows = [dict(r) for r in self.db.query(
            "SELECT rowid, time, level, message FROM logs WHERE run_id = ? AND rowid > ? ORDER BY rowid", [run_id, after_rowid]
        )]
        return rows, (rows[-1]["rowid"] if rows else after_rowid)

    def episodes(self, run_id: str, split: str = "test") -> list[dict[str, Any]]:
        """Per-episode rows: the score columns, plus any other metric kept in the JSON ``metrics``."""
        out = []
        for row in self.db.query(
            f"SELECT episode, {', '.join(EPISODE_SCORES)}, metrics, n_query, key FROM episodes"
            " WHERE run_id = ? AND split = ? ORDER BY episode",
            [run_id, split],
        ):
            row = decode_episode(row, scores=EPISODE_SCORES)
            extra = row.pop("metrics")
            out.append({**{k: v for k, v in extra.items() if k not in row}, **row})
        return out

    def damaged_episodes(self, run_id: str, split: str = "test") -> int:
        """Episodes with a score another program overwrote with text or a BLOB (read as missing)."""
        bad = " OR ".join(f"typeof({c}) IN ('text', 'blob')" for c in EPISODE_SCORES)
        return self.conn.execute(
            f"SELECT COUNT(*) FROM episodes WHERE run_id = ? AND split = ? AND ({bad})", (run_id, split)
        ).fetchone()[0]

    def logs(self, run_id: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT time, level, message FROM logs WHERE run_id = ? ORDER BY time, rowid"
        rows = list(self.db.query(sql, [run_id]))
        return rows[-limit:] if limit else rows

    def artifacts(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT kind, path, step, size, created_at FROM artifacts WHERE run_id = ?"
        params: list[Any] = [run_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        rows = [dict(r) for r in self.db.query(sql + " ORDER BY rowid", params)]
        for row in rows:
            row["path"] = self._full_path(row["path"])
        return rows


def _remove_run_folder(db_path: Path, run_id: str) -> str | None:
    """Removes ``artifacts/<run_id>`` of this database; returns why it was kept, or None."""
    root = artifacts_dir(db_path)
    folder = root / run_id
    if not folder.exists():
        return None
    if folder.is_symlink() or folder.resolve().parent != root.resolve():
        return f"{folder} is outside {root}"
    owner = folder / OWNER_FILE
    if owner.exists():
        claimed = owner.read_text(encoding="utf-8", errors="replace").strip()
        if claimed != Path(db_path).name:
            return f"{folder} belongs to {claimed}, not {Path(db_path).name}"
    shutil.rmtree(folder, ignore_errors=True)
    return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _decode_run(row: dict[str, Any]) -> dict[str, Any]:
    return decode_run(row, statuses=RUN_STATUSES)
