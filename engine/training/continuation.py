"""Resuming an interrupted run, and forking a new run from a checkpoint of an earlier one."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Callable
from typing import IO, Any

from engine.config import RunConfig
from engine.errors import UserError
from engine.paths import artifacts_dir
from engine.store import Store
from engine.training.checkpoints import list_checkpoints, load_checkpoint
from engine.training.runner import RunOutcome, StartPoint, StopFlag, prepare, run_experiment

RESUMABLE = ("interrupted", "failed")


def _checkpoint_at(db_path: Path, run_id: str, step: int | None) -> tuple[int, Path]:
    found = list_checkpoints(artifacts_dir(db_path) / run_id)
    if not found:
        raise UserError(f"run {run_id} has no checkpoint (set train.checkpoint_every to write them)", source=str(db_path))
    if step is None:
        return found[-1]
    for candidate in found:
        if candidate[0] == step:
            return candidate
    raise UserError(f"run {run_id} has no checkpoint at step {step} (has: {', '.join(str(s) for s, _ in found)})", source=str(db_path))


def resume_run(run_id: str, *, db_path: Path, events_stream: IO[str] | None = None, stop: StopFlag | None = None, **kwargs: Any) -> RunOutcome:
    """Continues a run from its newest checkpoint; curves continue at the right step."""
    with Store(db_path) as store:
        store.mark_stale_runs()
        run = store.get_run(run_id)
        if run["status"] not in RESUMABLE:
            raise UserError(f"run {run['id']} is {run['status']}; only interrupted or failed runs resume", source=str(db_path))
        step, folder = _checkpoint_at(db_path, run["id"], None)
        config = RunConfig.from_dict(run["config"])
        prepare(config)  # the data and the model must still be there
        weights, _, state = load_checkpoint(folder)
        store.delete_metrics_after(run["id"], step)
        store.update_run(run["id"], status="queued", error=None, finished_at=None)
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
        ckpt_step, folder = _checkpoint_at(db_path, parent["id"], step)
        parent_config = RunConfig.from_dict(parent["config"])
        config = parent_config.with_values({"name": f"{parent['name']} (fork @{ckpt_step})", **overrides})
        prepare(config)  # check everything before writing anything
        weights, _, state = load_checkpoint(folder)
        # Weights only by default: changed settings (a learning rate, a method) get a fresh optimizer.
        start = StartPoint(ckpt_step, weights, None)
        if with_state and state is not None and config.method.name == parent_config.method.name:
            kept = {k: state[k] for k in ("optimizer", "scheduler") if k in state}
            start = StartPoint(ckpt_step, weights, kept, lr_scale=_lr_ratio(parent_config, config))
        new_id = store.create_run(config.to_dict(), parent_id=parent["id"], study=study, trial_number=trial_number)
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
