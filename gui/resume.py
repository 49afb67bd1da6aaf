"""Resume: an interrupted or failed run continues from its newest checkpoint.

The GUI starts ``python -m engine resume RUN_ID --db DB --events`` through the same
``RunQueue`` / ``EngineProcess`` path as a new run. The engine drops the run's metrics
after the checkpoint's step and goes on from there; the Monitor session is filled from the
store up to that step first, so the curves continue where the checkpoint left them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from engine.errors import UserError
from engine.paths import artifacts_dir
from engine.store import Store, parse_iso
from gui.run_session import RunSession

RESUMABLE = ("interrupted", "failed")
RESUME_TIP = "Continue this interrupted or failed run from its newest checkpoint"
NO_CHECKPOINT_TIP = ("This run has no checkpoint to resume from: it stopped before training ended "
                     "(set train.checkpoint_every to keep checkpoints during training)")


def can_resume(run: dict[str, Any]) -> bool:
    """Worth offering Resume by its status (``has_checkpoint`` says whether it can)."""
    return run.get("status") in RESUMABLE


def _checkpoints(store: Store, run_id: str) -> list[dict[str, Any]]:
    return [a for a in store.artifacts(run_id, "checkpoint") if a.get("step") is not None and Path(a["path"]).exists()]


def newest_checkpoint(store: Store, run_id: str) -> int | None:
    steps = [int(a["step"]) for a in _checkpoints(store, run_id)]
    return max(steps) if steps else None


def has_checkpoint(db_path: str | Path | None, run_id: str) -> bool:
    """Resume is enabled only where it would work (a run stopped before its first checkpoint has none)."""
    if db_path is None or not Path(db_path).exists():
        return False
    try:
        with Store(db_path, readonly=True) as store:
            return bool(_checkpoints(store, run_id))
    except (UserError, OSError, ValueError):
        return False


def resume_session(db_path: str | Path, run_id: str, *, parent: QObject | None = None) -> tuple[RunSession, Path, str]:
    """The session to watch (curves up to the checkpoint), the run's config file and its device."""
    with Store(db_path, readonly=True) as store:
        run = store.get_run(store.resolve_id(run_id))
        if not can_resume(run):
            raise UserError(f"run {run['id']} is {run['status']}; only interrupted or failed runs resume")
        found = _checkpoints(store, run["id"])
        if not found:
            raise UserError(f"run {run['id']} has no checkpoint to resume from (set train.checkpoint_every to write them)")
        newest = max(found, key=lambda a: int(a["step"]))
        step, saved = int(newest["step"]), parse_iso(newest.get("created_at")) or float("inf")
        session = RunSession(run["id"], run.get("name") or run["id"], device=run.get("device") or "", parent=parent)
        # rows of the checkpoint's own step written after it (a validation after training) the engine writes again
        rows = [r for r in store.metrics(run["id"]) if r["step"] < step or r["step"] == step and (r.get("time") or 0) <= saved]
        session.add_points([(r["name"], r["step"], float("nan") if r["value"] is None else float(r["value"]),
                             r.get("wall_time") or 0.0) for r in rows])
        session.log.append_rows([(r["time"], r["level"], r["message"]) for r in store.logs(run["id"], limit=2000)])
    session.log.append_rows([(time.time(), "info", f"resuming from the checkpoint at step {step}")])
    config = run.get("config") or {}
    device = str((config.get("train") or {}).get("device") or "auto")
    return session, artifacts_dir(db_path) / run["id"] / "config.toml", device
