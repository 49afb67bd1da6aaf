"""Resuming an interrupted run, and forking a new run from a checkpoint of an earlier one."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from engine.config import RunConfig
from engine.errors import UserError
from engine.models.loading import resolve_model
from engine.paths import artifacts_dir
from engine.store import Store
from engine.training import fingerprints
from engine.training.checkpoints import DamagedCheckpoint, list_checkpoints, load_checkpoint
from engine.training.runner import RunOutcome, StartPoint, StopFlag, prepare, run_experiment

RESUMABLE = ("interrupted", "failed")
log = logging.getLogger("engine.run")


def _load_sound_checkpoint(db_path: Path, run_id: str, step: int | None) -> tuple[int, tuple[Any, Any, Any], list[str]]:
    """(step, (weights, meta, state), notes): the newest checkpoint whose files check out.

    A damaged newer one is skipped, and the notes say so; an explicitly asked-for step
    that is damaged is refused rather than swapped for another."""
    found = list_checkpoints(artifacts_dir(db_path) / run_id)
    if not found:
        raise UserError(f"run {run_id} has no checkpoint (set train.checkpoint_every to write them)", source=str(db_path))
    if step is not None:
        chosen = [c for c in found if c[0] == step]
        if not chosen:
            raise UserError(f"run {run_id} has no checkpoint at step {step} (has: {', '.join(str(s) for s, _ in found)})", source=str(db_path))
        return step, load_checkpoint(chosen[0][1]), []
    notes: list[str] = []
    for candidate_step, folder in reversed(found):
        try:
            loaded = load_checkpoint(folder)
        except DamagedCheckpoint as exc:
            notes.append(f"skipped {exc}")
            continue
        if notes:
            notes.append(f"continuing from the newest sound checkpoint, at step {candidate_step}")
        return candidate_step, loaded, notes
    raise UserError(f"run {run_id} has no sound checkpoint ({'; '.join(notes)})", source=str(db_path))


def _check_inputs(run: dict[str, Any], config: RunConfig, *, allow_changed_data: bool, db_path: Path) -> list[str]:
    data, _ = prepare(config)  # the data and the model must still be there
    now = fingerprints.take(data.dataset, resolve_model(config.model.name, allow_pickle=config.model.allow_pickle))
    summary = data.task.dataset_summary(data.dataset)
    return fingerprints.check_unchanged(run, now, summary, allow_changed=allow_changed_data, source=str(db_path))


def _note(store: Store, run_id: str, notes: list[str]) -> None:
    """Said on stderr now and kept in the run's log."""
    for note in notes:
        log.warning(note)
    store.add_logs(run_id, [(time.time(), "warning", note) for note in notes])


def _claim(store: Store, run_id: str, db_path: Path) -> None:
    """This process owns the run from here on, or it stops in one line: another resume won."""
    if not store.claim_run(run_id, from_statuses=RESUMABLE, pid=os.getpid(), host=socket.gethostname()):
        _refuse(store.get_run(run_id), db_path)


def _refuse(run: dict[str, Any], db_path: Path) -> None:
    if run["status"] == "queued":  # claimed by another resume, not started yet
        by = f" by pid {run['pid']}" if run.get("pid") else ""
        raise UserError(f"run {run['id']} is already being resumed{by}", source=str(db_path))
    if run["status"] == "running":
        by = f" (pid {run['pid']})" if run.get("pid") else ""
        raise UserError(f"run {run['id']} is already running{by}", source=str(db_path))
    raise UserError(f"run {run['id']} is {run['status']}; only interrupted or failed runs resume", source=str(db_path))


def resume_run(
    run_id: str,
    *,
    db_path: Path,
    events_stream: IO[str] | None = None,
    stop: StopFlag | None = None,
    allow_changed_data: bool = False,
    **kwargs: Any,
) -> RunOutcome:
    """Continues a run from its newest sound checkpoint; curves continue at the right step."""
    with Store(db_path) as store:
        store.mark_stale_runs()
        run = store.get_run(run_id)
        if run["status"] not in RESUMABLE:
            _refuse(run, db_path)
        config = RunConfig.from_dict(run["config"])
        notes = _check_inputs(run, config, allow_changed_data=allow_changed_data, db_path=db_path)
        step, (weights, _, state), skipped = _load_sound_checkpoint(db_path, run["id"], None)
        _claim(store, run["id"], db_path)  # before the first write: a second resume stops here
        _note(store, run["id"], skipped + notes)
        store.delete_metrics_after(run["id"], step, saved_at=(state or {}).get("saved_at"))
    return run_experiment(
        config, db_path=db_path, events_stream=events_stream, run_id=run["id"], stop=stop,
        start=StartPoint(step, weights, state), **kwargs,
    )


def fork_run(
    run_id: str,
    overrides: dict[str, Any],
    *,
    db_path: Path,
    step: int | None = None,
    events_stream: IO[str] | None = None,
    stop: StopFlag | None = None,
    allow_changed_data: bool = False,
    with_state: bool = False,
    study: str | None = None,
    trial_number: int | None = None,
    on_created: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> RunOutcome:
    """A new run starting from a checkpoint of ``run_id`` with changed settings.

    ``with_state`` carries the optimizer and scheduler state over too (population-based
    training's exploit), with the learning rate rescaled to the new ``method.params.lr``.
    """
    with Store(db_path) as store:
        parent = store.get_run(run_id)
        ckpt_step, (weights, _, state), skipped = _load_sound_checkpoint(db_path, parent["id"], step)
        parent_config = RunConfig.from_dict(parent["config"])
        config = parent_config.with_values({"name": f"{parent['name']} (fork @{ckpt_step})", **overrides})
        notes = _check_inputs(parent, config, allow_changed_data=allow_changed_data, db_path=db_path)  # before writing anything
        # Weights only by default: changed settings (a learning rate, a method) get a fresh optimizer.
        start = StartPoint(ckpt_step, weights, None)
        if with_state and state is not None and config.method.name == parent_config.method.name:
            kept = {k: state[k] for k in ("optimizer", "scheduler") if k in state}
            start = StartPoint(ckpt_step, weights, kept, lr_scale=_lr_ratio(parent_config, config))
        new_id = store.create_run(config.to_dict(), parent_id=parent["id"], study=study, trial_number=trial_number,
                                  owner_pid=os.getpid())
        _note(store, new_id, skipped + notes)
        store.copy_metrics(parent["id"], new_id, up_to_step=ckpt_step)
    if on_created is not None:
        on_created(new_id)
    return run_experiment(
        config, db_path=db_path, events_stream=events_stream, run_id=new_id, stop=stop, start=start,
        study=study, trial_number=trial_number, **kwargs,
    )


def _lr_ratio(before: RunConfig, after: RunConfig) -> float:
    old, new = before.method.params.get("lr"), after.method.params.get("lr")
    if not old or not new:
        return 1.0
    return float(new) / float(old)
