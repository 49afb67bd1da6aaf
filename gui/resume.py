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
from engine.store import Store
from gui.run_session import RunSession

RESUMABLE = ("interrupted", "failed")


def can_resume(run: dict[str, Any]) -> bool:
    """Worth offering Resume (the checkpoint itself is checked on click)."""
    return run.get("status") in RESUMABLE


def newest_checkpoint(store: Store, run_id: str) -> int | None:
    steps = [int(a["step"]) for a in store.artifacts(run_id, "checkpoint") if a.get("step") is not None and Path(a["path"]).exists()]
    return max(steps) if steps else None


def resume_session(db_path: str | Path, run_id: str, *, parent: QObject | None = None) -> tuple[RunSession, Path, str]:
    """The session to watch (curves up to the checkpoint), the run's config file and its device."""
    with Store(db_path, readonly=True) as store:
        run = store.get_run(store.resolve_id(run_id))
        if not can_resume(run):
            raise UserError(f"run {run['id']} is {run['status']}; only interrupted or failed runs resume")
        step = newest_checkpoint(store, run["id"])
        if step is None:
            raise UserError(f"run {run['id']} has no checkpoint to resume from (set train.checkpoint_every to write them)")
        session = RunSession(run["id"], run.get("name") or run["id"], device=run.get("device") or "", parent=parent)
        rows = [r for r in store.metrics(run["id"]) if r["step"] <= step]
        session.add_points([(r["name"], r["step"], float("nan") if r["value"] is None else float(r["value"]),
                             r.get("wall_time") or 0.0) for r in rows])
        session.log.append_rows([(r["time"], r["level"], r["message"]) for r in store.logs(run["id"], limit=2000)])
    session.log.append_rows([(time.time(), "info", f"resuming from the checkpoint at step {step}")])
    config = run.get("config") or {}
    device = str((config.get("train") or {}).get("device") or "auto")
    return session, artifacts_dir(db_path) / run["id"] / "config.toml", device
