"""A run's store writes, in order, that survive another program holding the database lock.

Training does not wait for the lock: a write that finds the database locked stays queued,
and the queue tries again after a back-off (0.25 s doubling to 8 s), each try waiting only
briefly for the lock. When the lock is free the writes go in, in the order they were made.
The queue gives up only when it holds more than ``MAX_PENDING_ROWS`` rows (or, at the
end of a run, after ``FINAL_WAIT_SECONDS``), with ``StoreUnavailable``.
"""

from __future__ import annotations

import sqlite3
import time
from collections import deque
from collections.abc import Callable

from engine.store import Store
from engine.store._connection import BUSY_TIMEOUT_MS

MAX_PENDING_ROWS = 200_000
FINAL_WAIT_SECONDS = 600.0
TRY_TIMEOUT_MS = 100  # how long one try waits for the lock while training goes on
FIRST_BACKOFF = 0.25
MAX_BACKOFF = 8.0


class StoreUnavailable(sqlite3.OperationalError):
    """The database stayed locked past the bound (the CLI shows it in one line, exit 1)."""


class RunVanished(StoreUnavailable):
    """The run's row was deleted while its engine wrote (another program, or a delete after a
    reader on another host took the engine for dead): the engine stops in one line."""

    def __init__(self, run_id: str):
        super().__init__(f"run {run_id} was deleted from the run database while its engine ran; training stopped")


def _is_lock(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class WriteQueue:
    def __init__(self, store: Store, run_id: str | None = None):
        self.store = store
        self.run_id = run_id
        self.vanished = False  # the run's row is gone: nothing more is written
        self._pending: deque[tuple[int, Callable[[], object]]] = deque()
        self.pending_rows = 0
        self.locked_since: float | None = None
        self._backoff = FIRST_BACKOFF
        self._next_try = 0.0

    def put(self, write: Callable[[], object], *, rows: int = 1) -> None:
        if self.vanished:
            return
        self._pending.append((rows, write))
        self.pending_rows += rows

    def try_drain(self) -> bool:
        """Writes what it can now without waiting long; True when nothing is left."""
        if not self._pending:
            return True
        if time.monotonic() < self._next_try:
            return False
        conn = self.store.conn
        conn.execute(f"PRAGMA busy_timeout = {TRY_TIMEOUT_MS}")
        try:
            while self._pending:
                rows, write = self._pending[0]
                write()
                self._pending.popleft()
                self.pending_rows -= rows
        except RunVanished:
            raise
        except sqlite3.IntegrityError:
            if self.run_id is None or self.store.run_exists(self.run_id):
                raise
            self.gone()
        except sqlite3.OperationalError as exc:
            if not _is_lock(exc):
                raise
            now = time.monotonic()
            self.locked_since = self.locked_since or now
            self._next_try = now + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.locked_since = None
        self._backoff = FIRST_BACKOFF
        return True

    def gone(self) -> None:
        """The run's row is gone (a FOREIGN KEY refusal, a heartbeat that found no row)."""
        self.vanished = True
        self._pending.clear()
        self.pending_rows = 0
        raise RunVanished(self.run_id or "?")

    def check_bound(self, where: str) -> None:
        if self.pending_rows > MAX_PENDING_ROWS:
            raise StoreUnavailable(self._give_up_message(where))

    def drain(self, *, timeout: float = FINAL_WAIT_SECONDS, where: str = "") -> None:
        """Waits (with back-off) until everything is written, or raises after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.try_drain():
            if time.monotonic() >= deadline:
                raise StoreUnavailable(self._give_up_message(where))
            time.sleep(max(0.0, min(self._next_try, deadline) - time.monotonic()))

    def _give_up_message(self, where: str) -> str:
        held = time.monotonic() - (self.locked_since or time.monotonic())
        text = (
            f"the run database has been locked by another program for {held:.0f} s; "
            f"{self.pending_rows:,} rows are waiting to be written"
        )
        return f"{text}; {where}" if where else text
