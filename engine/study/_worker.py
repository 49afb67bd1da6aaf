"""The trial loop every process of a study runs: ``study run`` and ``study worker`` alike.

Each trial is asked from Optuna's shared storage, run as a normal MetaLab run (its own
row, metrics and curves in the run database, with ``study`` and ``trial_number`` set)
and told back. Workers coordinate only through the storage, so any number of them, on
one machine or many, can join a study.

Order of events for one trial:

1. ``study.ask`` (a waiting retry first, else a new sample from the sampler);
2. a queued run row is created and its id stored on the trial (user attribute ``run_id``);
3. a heartbeat thread stamps the trial (system attribute ``metalab:heartbeat``) every
   :data:`HEARTBEAT_SECONDS`;
4. the run trains; after each validation the objective metric is reported to Optuna and
   the pruner may end the run (the run is stored as ``pruned``, the trial as PRUNED);
5. the last validation's metric is told to Optuna as the trial's value.

A trial whose worker died (killed, crashed, machine rebooted) stays RUNNING in the
storage. Before asking for work a worker fails such stale trials (no heartbeat for
:data:`STALE_AFTER_SECONDS`, or a worker process on this host that no longer exists)
and enqueues a retry with the same parameters. A trial stopped by Ctrl-C is failed and
re-enqueued the same way, so ``study run`` on the same storage resumes the study.

Optuna's own heartbeat (``RDBStorage(heartbeat_interval=...)`` and
``fail_stale_trials``) runs only inside ``Study.optimize`` and only for RDB storages;
this loop uses ask/tell so that it can keep the budget exact across workers, and keeps
a heartbeat that works for the journal storage as well.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError
from engine.study._trials import (
    SPEC_ATTR,
    STALE_AFTER_SECONDS,
    WORKER_ATTR,
    Heartbeat,
    LoopOutcome,
    recover_stale_trials,
    tell,
)

if TYPE_CHECKING:
    import optuna

    from engine.study._spec import StudySpec
    from engine.training.runner import StopFlag

log = logging.getLogger("engine.study")

MAX_FAILURES_IN_A_ROW = 3

TrialReport = Callable[[dict[str, Any]], None]


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message=".*independent sampl.*")  # CMA-ES on categorical dims


def create_or_load(spec: StudySpec, storage: Any) -> optuna.Study:
    """The study in ``storage``, created with ``spec`` or, when it exists, checked against it."""
    import optuna

    from engine.study._factory import make_pruner

    existing = {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    if spec.name in existing:
        study = optuna.load_study(study_name=spec.name, storage=storage, pruner=make_pruner(spec))
        stored = study.user_attrs.get(SPEC_ATTR)
        if stored is None:
            raise UserError(f"study '{spec.name}' exists in this storage but was not made by MetaLab: choose another name")
        from engine.study._spec import StudySpec as _Spec

        current = spec.identity()
        previous = _Spec.from_attr(spec.name, stored).identity()
        changed = [k for k in current if current[k] != previous[k]]
        if changed:
            raise UserError(
                f"study '{spec.name}' exists with a different {', '.join(changed)}: rename the study to start a new one"
            )
        if stored.get("n_trials") != spec.n_trials:
            study.set_user_attr(SPEC_ATTR, stored | {"n_trials": spec.n_trials})
        return study
    study = optuna.create_study(study_name=spec.name, storage=storage, direction=spec.direction, pruner=make_pruner(spec))
    study.set_user_attr(SPEC_ATTR, spec.to_attr())
    study.set_user_attr("metric", spec.metric)
    study.set_metric_names([spec.metric])  # optuna-dashboard labels the objective with it
    return study


def load_existing(name: str, storage: Any, *, storage_label: str) -> tuple[StudySpec, optuna.Study]:
    import optuna

    from engine.study._factory import make_pruner
    from engine.study._spec import StudySpec

    names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if name not in names:
        known = ", ".join(names) or "none"
        raise UserError(f"no study '{name}' in {storage_label} (studies there: {known})")
    study = optuna.load_study(study_name=name, storage=storage)
    attr = study.user_attrs.get(SPEC_ATTR)
    if attr is None:
        raise UserError(f"study '{name}' was not made by MetaLab (no '{SPEC_ATTR}' user attribute)")
    spec = StudySpec.from_attr(name, attr, storage=storage_label)
    study.pruner = make_pruner(spec)
    return spec, study


def effective_seed(spec: StudySpec, study: optuna.Study, *, worker: bool) -> int | None:
    """The study seed for a fresh study; shifted on resume and per worker so no two draw alike."""
    if spec.seed is None:
        return None
    seed = spec.seed + len(study.get_trials(deepcopy=False))
    if worker:
        seed += 7919 * os.getpid()
    return seed % (2**32)


def run_trials(
    spec: StudySpec,
    study: optuna.Study,
    *,
    db_path: Path,
    stop: StopFlag,
    report: TrialReport | None = None,
    stale_after: float = STALE_AFTER_SECONDS,
) -> LoopOutcome:
    """Runs trials until the study's budget is reached, the timeout passes or a stop is asked."""
    from engine.store import Store

    outcome = LoopOutcome()
    with Store(db_path) as store:
        store.mark_stale_runs()
    deadline = time.monotonic() + spec.timeout if spec.timeout else None
    failures = 0
    distributions = {d.key: d.distribution() for d in spec.space}
    while not stop.requested:
        outcome.recovered += recover_stale_trials(study, stale_after=stale_after, db_path=db_path)
        if not _budget_left(study, spec.n_trials):
            break
        trial = study.ask(distributions)
        outcome.started += 1
        state, error = _run_one(spec, study, trial, db_path=db_path, stop=stop, report=report)
        outcome.states[state] = outcome.states.get(state, 0) + 1
        if state == "interrupted":
            outcome.interrupted = True
            break
        failures = failures + 1 if state == "fail" else 0
        if failures >= MAX_FAILURES_IN_A_ROW:
            raise UserError(f"study '{spec.name}': {failures} trials in a row failed; the last: {error}")
        if deadline is not None and time.monotonic() >= deadline:  # checked between trials, as Optuna does
            break
    outcome.interrupted = outcome.interrupted or stop.requested
    return outcome


def _budget_left(study: optuna.Study, n_trials: int | None) -> bool:
    """A waiting retry is always taken; otherwise finished + running + waiting < budget."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in trials):
        return True
    if n_trials is None:
        return True
    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    return sum(t.state in counted for t in trials) < n_trials


def _run_one(
    spec: StudySpec,
    study: optuna.Study,
    trial: optuna.Trial,
    *,
    db_path: Path,
    stop: StopFlag,
    report: TrialReport | None,
) -> tuple[str, str | None]:

    from engine.store import Store
    from engine.training.runner import Pruned, run_experiment

    params = dict(trial.params)
    number = trial.number
    storage = study._storage
    storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR, {"host": socket.gethostname(), "pid": os.getpid()})
    run_id: str | None = None
    heartbeat = Heartbeat(storage, trial._trial_id)
    heartbeat.start()
    last: dict[str, float] = {}
    total = spec.base.train.episodes

    def on_validate(step: int, metrics: dict[str, float]) -> None:
        if spec.metric not in metrics:
            raise UserError(f"the run reported no {spec.metric} (it reported: {', '.join(sorted(metrics))})")
        value = float(metrics[spec.metric])
        last["value"] = value
        trial.report(value, step)
        if step < total and trial.should_prune():
            raise Pruned()

    state, value, error = "fail", None, None
    try:
        config = spec.base.with_values(params | {"name": f"{spec.name} #{number}"})
        with Store(db_path) as store:
            run_id = store.create_run(config.to_dict(), study=spec.name, trial_number=number)
        trial.set_user_attr("run_id", run_id)
        # Where that run lives: from the dashboard's trial view, `metalab-engine runs show RUN_ID --db RUN_DATABASE`.
        trial.set_user_attr("run_database", str(Path(db_path).expanduser().resolve()))
        result = run_experiment(
            config, db_path=db_path, run_id=run_id, stop=stop, on_validate=on_validate,
            study=spec.name, trial_number=number,
        )
        if result.status == "finished":
            value = last.get("value")
            state = "complete" if value is not None and math.isfinite(value) else "fail"
            if state == "fail":
                error = f"no finite {spec.metric} was reported"
        elif result.status == "pruned":
            state = "pruned"
        else:
            state = "interrupted"
    except KeyboardInterrupt:
        state = "interrupted"
        raise
    except Exception as exc:  # a failed trial; the study goes on
        error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.warning("trial %d failed: %s", number, error)
        _fail_queued_run(db_path, run_id, error)
    finally:
        heartbeat.stop()
        tell(study, trial, state, value, error, params)
        if report is not None:
            report({"number": number, "state": state, "value": value, "params": params, "run_id": run_id, "error": error})
    return state, error


def _fail_queued_run(db_path: Path, run_id: str | None, error: str) -> None:
    """A run that never started (its config or data failed) must not stay 'queued'."""
    if run_id is None:
        return
    from engine.store import Store

    with Store(db_path) as store:
        if store.get_run(run_id)["status"] == "queued":
            store.finish_run(run_id, "failed", error=error)


