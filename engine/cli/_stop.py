"""``runs delete --stop``: a running run's engine is asked to stop and waited for."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from engine.errors import UserError

# The engine ends its step (or evaluation episode) and writes a checkpoint: seconds, a slow
# MAML step on a busy CPU up to about a minute.
STOP_WAIT_SECONDS = 120.0
POLL_SECONDS = 0.2
# After its final status the engine still writes its last log rows before it exits.
EXIT_GRACE_SECONDS = 10.0


def stop_engine(store: Any, run: dict[str, Any], *, wait: float = STOP_WAIT_SECONDS) -> None:
    """SIGTERM to the run's engine on this host; returns once the run has a final status and
    its process has exited (or moved on: a study worker runs its next trial)."""
    pid, name = run.get("pid"), f"run {run['id']}"
    if run.get("host") != socket.gethostname():
        raise UserError(f"{name} runs on {run.get('host') or 'an unknown host'}: stop it there (nothing deleted)")
    if pid is None or not _is_engine(pid):
        raise UserError(f"{name}: pid {pid} is not a MetaLab engine, so it is not signalled (nothing deleted)")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it ended on its own meanwhile
    deadline = time.monotonic() + wait
    while _status(store, run["id"]) in ("running", "queued") and _alive(pid):
        if time.monotonic() >= deadline:
            raise UserError(f"{name}: its engine (pid {pid}) did not stop within {wait:g} s (nothing deleted)")
        time.sleep(POLL_SECONDS)
    store.mark_stale_runs()  # an engine that died without its final write
    grace = time.monotonic() + EXIT_GRACE_SECONDS
    while _alive(pid) and time.monotonic() < grace:
        time.sleep(POLL_SECONDS)


def _status(store: Any, run_id: str) -> str | None:
    row = store.conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
    return row[0] if row else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an exited engine its parent has not reaped yet (a zombie) is gone too
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_engine(pid: int) -> bool:
    """A pid read from the database may have been reused by another program: on Linux its
    command line must name the engine (python -m engine, metalab-engine, a study worker)."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        text = cmdline.read_bytes().replace(b"\0", b" ")
    except FileNotFoundError:
        return not Path("/proc/self").exists() and _alive(pid)  # no /proc (macOS): trust the stale check
    except OSError:
        return False
    return b"engine" in text
