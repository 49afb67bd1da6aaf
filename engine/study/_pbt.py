"""Population-based training (Jaderberg et al. 2017) on MetaLab's runs, forks and Optuna storage.

A study with ``sampler = "pbt"`` trains a population of P members in *generations* of
``ready_every`` training steps. Every unit of work (one member, one generation) is an
Optuna trial that a worker takes from the storage, so any number of processes, on one
machine or many, share the population exactly as they share an ordinary study:

- generation 0: P trials are enqueued with parameters drawn from the study's space; each
  starts a run that pauses at step ``ready_every`` (a checkpoint, status ``interrupted``)
  and tells its validation metric as the trial's value;
- when a generation is complete, one worker (a lease in the study's system attributes:
  last writer wins, confirmed after :data:`LEASE_SETTLE_SECONDS`) ranks the members and
  enqueues the next generation. A member in the bottom ``quantile`` **exploits** a member
  of the top quantile: its next trial forks the donor's run from the donor's checkpoint
  at the boundary (weights and optimizer state; the run's ``parent_id`` is the donor's
  run), and **explores**: continuous parameters are multiplied by 0.8 or 1.2, and every
  parameter is resampled with ``resample_probability``. Its old run ends as ``pruned``.
  Every other member continues its own run (``resume``) with its own parameters;
- the last generation trains to ``train.episodes`` and ends with the meta-test, as any run.

Each trial carries what happened in user attributes (``pbt_member``, ``pbt_generation``,
``pbt_start``), so ``study show`` reconstructs every member's lineage and the best
member's hyper-parameter schedule. Only the lease holder decides exploits, once per
generation, so no two workers ever exploit into the same member. A worker killed
mid-generation leaves a stale trial; any other worker fails it and enqueues a retry
that resumes the member's run from its newest checkpoint (or starts the unit again).
"""

from __future__ import annotations

import logging
import math
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import UserError
from engine.storage_secret import STORAGE_ENV
from engine.study._pbt_params import PBTOptions, draw, explore, options_of
from engine.study._trials import RESUME_RUN, WORKER_ATTR, Heartbeat, LoopOutcome, recover_stale_trials, tell

if TYPE_CHECKING:
    import optuna

    from engine.study._spec import StudySpec
    from engine.study._worker import TrialReport
    from engine.training.runner import StopFlag

log = logging.getLogger("engine.study")

MEMBER, GENERATION, START = "pbt_member", "pbt_generation", "pbt_start"
SPURIOUS_ATTR = "metalab:pbt_spurious"
LEASE_SETTLE_SECONDS = 0.5
POLL_SECONDS = 1.0


def boundaries(spec: StudySpec) -> list[int]:
    """The last step of each generation: ready_every, 2 * ready_every, ..., train.episodes."""
    every, total = options_of(spec).ready_every, spec.base.train.episodes
    return [min(total, every * (g + 1)) for g in range(math.ceil(total / every))]


# --- the population in the storage ------------------------------------------------------
def _units(study: optuna.Study, states: tuple | None = None) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False, states=states) if MEMBER in t.user_attrs]


def generation_values(study: optuna.Study, generation: int) -> dict[int, tuple[float, optuna.trial.FrozenTrial]]:
    """member -> (value, trial) of the generation's complete units."""
    from optuna.trial import TrialState

    done = {}
    for t in _units(study, (TrialState.COMPLETE,)):
        if t.user_attrs[GENERATION] == generation and t.value is not None:
            done[int(t.user_attrs[MEMBER])] = (float(t.value), t)
    return done


def _enqueued(study: optuna.Study, generation: int) -> bool:
    return any(t.user_attrs.get(GENERATION) == generation for t in _units(study))


def _lease(study: optuna.Study, key: str) -> bool:
    """True for exactly one of several processes racing for ``key`` (last writer wins, then confirmed)."""
    storage, study_id = study._storage, study._study_id
    if key in storage.get_study_system_attrs(study_id):
        return False
    token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
    storage.set_study_system_attr(study_id, key, token)
    time.sleep(LEASE_SETTLE_SECONDS)
    return storage.get_study_system_attrs(study_id).get(key) == token


def seed_population(spec: StudySpec, study: optuna.Study) -> None:
    """Generation 0: P members with parameters drawn from the space (once per study)."""
    if _enqueued(study, 0) or not _lease(study, "metalab:pbt:gen0"):
        return
    options = options_of(spec)
    rng = np.random.default_rng([spec.seed or 0, 0])
    distributions = {d.key: d.distribution() for d in spec.space}
    for member in range(options.population):
        params = {key: draw(dist, rng) for key, dist in distributions.items()}
        study.enqueue_trial(params, user_attrs={MEMBER: member, GENERATION: 0, START: {"kind": "start"}})
    log.info("pbt: population of %d members enqueued", options.population)


def advance(spec: StudySpec, study: optuna.Study) -> bool:
    """Enqueues the next generation when the newest one is complete; True when the study is done."""
    options = options_of(spec)
    last = len(boundaries(spec)) - 1
    units = _units(study)
    newest = max((int(t.user_attrs[GENERATION]) for t in units), default=-1)
    if newest < 0:
        return False
    done = generation_values(study, newest)
    if len(done) < options.population:
        return False
    if newest == last:
        return True
    if _enqueued(study, newest + 1) or not _lease(study, f"metalab:pbt:gen{newest + 1}"):
        return False
    _enqueue_next(spec, study, newest, done, options)
    return False


def _enqueue_next(
    spec: StudySpec, study: optuna.Study, generation: int, done: dict[int, tuple[float, Any]], options: PBTOptions
) -> None:
    rng = np.random.default_rng([spec.seed or 0, generation + 1])
    distributions = {d.key: d.distribution() for d in spec.space}
    ranked = sorted(done, key=lambda m: done[m][0], reverse=spec.direction == "maximize")  # best first
    cut = max(1, int(len(ranked) * options.quantile))
    top, bottom = ranked[:cut], set(ranked[-cut:])
    step = boundaries(spec)[generation]
    for member in range(options.population):
        value, trial = done[member]
        run_id = trial.user_attrs.get("run_id")
        if member in bottom:
            donor = int(top[int(rng.integers(len(top)))])
            donor_value, donor_trial = done[donor]
            params = explore(dict(donor_trial.params), distributions, options, rng)
            start = {
                "kind": "exploit", "step": step, "from_member": donor, "from_run": donor_trial.user_attrs.get("run_id"),
                "from_value": donor_value, "replaced_run": run_id, "replaced_value": value,
                "params_before": dict(trial.params), "params_after": params,
            }
            log.info("pbt: generation %d, member %d (%.4g) exploits member %d (%.4g)", generation + 1, member, value, donor, donor_value)
        else:
            params = dict(trial.params)
            start = {"kind": "continue", "step": step, "run": run_id}
        study.enqueue_trial(params, user_attrs={MEMBER: member, GENERATION: generation + 1, START: start})


# --- running one unit ---------------------------------------------------------------------
class _SegmentStop:
    """The study's stop flag, plus a pause at the generation's boundary."""

    def __init__(self, outer: StopFlag):
        self.outer, self.paused = outer, False
        self.signals = outer.signals

    @property
    def requested(self) -> bool:
        return self.outer.requested or self.paused


def run_unit(
    spec: StudySpec, study: optuna.Study, trial: optuna.Trial, *, db_path: Path, stop: StopFlag
) -> tuple[str, float | None, str | None, str | None]:
    """Trains one member for one generation: (state, value, error, run_id)."""
    from engine.store import Store
    from engine.training.continuation import fork_run, resume_run

    attrs = trial.user_attrs
    member, generation, start = int(attrs[MEMBER]), int(attrs[GENERATION]), dict(attrs[START])
    bounds = boundaries(spec)
    boundary, last = bounds[generation], generation == len(bounds) - 1
    segment = _SegmentStop(stop)
    seen: dict[str, float] = {}
    name = f"{spec.name} member {member}"

    def on_validate(step: int, metrics: dict[str, float]) -> None:
        if spec.metric not in metrics:
            raise UserError(f"the run reported no {spec.metric} (it reported: {', '.join(sorted(metrics))})")
        seen["value"] = float(metrics[spec.metric])
        trial.report(seen["value"], step)
        if step >= boundary and not last:
            segment.paused = True

    params = dict(trial.params)
    resume_id = attrs.get(RESUME_RUN)
    kwargs = {"db_path": db_path, "stop": segment, "on_validate": on_validate}
    if resume_id and _resumable(db_path, resume_id):
        outcome = resume_run(resume_id, **kwargs)
    elif start["kind"] == "continue":
        outcome = resume_run(start["run"], **kwargs)
    elif start["kind"] == "exploit":
        outcome = fork_run(
            start["from_run"], params | {"name": f"{name} (gen {generation})"}, step=start["step"], with_state=True,
            study=spec.name, trial_number=trial.number, on_created=lambda rid: trial.set_user_attr("run_id", rid), **kwargs,
        )
        if start.get("replaced_run"):
            _end_replaced(db_path, start["replaced_run"], member, start)
    else:
        config = spec.base.with_values(params | {"name": name})
        with Store(db_path) as store:
            run_id = store.create_run(config.to_dict(), study=spec.name, trial_number=trial.number)
        trial.set_user_attr("run_id", run_id)
        from engine.training.runner import run_experiment

        outcome = run_experiment(config, run_id=run_id, study=spec.name, trial_number=trial.number, **kwargs)
    trial.set_user_attr("run_id", outcome.run_id)
    if stop.requested:
        return "interrupted", None, None, outcome.run_id
    value = seen.get("value")
    if outcome.status == "interrupted" and segment.paused:
        with Store(db_path) as store:
            store.update_run(outcome.run_id, error=f"paused by population-based training at step {boundary} (generation {generation})")
    elif outcome.status != "finished":
        return "fail", None, f"the run ended {outcome.status}", outcome.run_id
    if value is None or not math.isfinite(value):
        return "fail", None, f"no finite {spec.metric} was reported", outcome.run_id
    return "complete", value, None, outcome.run_id


def _resumable(db_path: Path, run_id: str) -> bool:
    from engine.paths import artifacts_dir
    from engine.store import Store
    from engine.training.checkpoints import list_checkpoints

    with Store(db_path) as store:
        store.mark_stale_runs()
        try:
            status = store.get_run(run_id)["status"]
        except UserError:
            return False
    return status in ("interrupted", "failed") and bool(list_checkpoints(artifacts_dir(db_path) / run_id))


def _end_replaced(db_path: Path, run_id: str, member: int, start: dict[str, Any]) -> None:
    from engine.store import Store

    with Store(db_path) as store:
        try:
            if store.get_run(run_id)["status"] == "interrupted":
                store.update_run(
                    run_id, status="pruned",
                    error=f"replaced at step {start['step']} by member {start['from_member']}'s weights (population-based training)",
                )
        except UserError:
            pass


# --- the worker loop --------------------------------------------------------------------------
def run_population(
    spec: StudySpec, study: optuna.Study, *, db_path: Path, stop: StopFlag, report: TrialReport | None = None
) -> LoopOutcome:
    """Takes units of the population from the storage until the last generation is complete."""
    from engine.store import Store

    outcome = LoopOutcome()
    with Store(db_path) as store:
        store.mark_stale_runs()
    seed_population(spec, study)
    distributions = {d.key: d.distribution() for d in spec.space}
    failures = 0
    while not stop.requested:
        outcome.recovered += recover_stale_trials(study, db_path=db_path)
        if advance(spec, study):
            break
        if not _waiting(study):
            time.sleep(POLL_SECONDS)
            continue
        trial = study.ask(distributions)
        if MEMBER not in trial.user_attrs:  # another worker took the waiting unit first
            study._storage.set_trial_system_attr(trial._trial_id, SPURIOUS_ATTR, True)
            tell(study, trial, "fail", None, "no population unit was waiting", {})
            continue
        outcome.started += 1
        study._storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR, {"host": socket.gethostname(), "pid": os.getpid()})
        heartbeat = Heartbeat(study._storage, trial._trial_id)
        heartbeat.start()
        state, value, error, run_id = "fail", None, None, None
        try:
            state, value, error, run_id = run_unit(spec, study, trial, db_path=db_path, stop=stop)
        except KeyboardInterrupt:
            state = "interrupted"
            raise
        except Exception as exc:
            error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.warning("population unit %d failed: %s", trial.number, error)
        finally:
            heartbeat.stop()
            tell(study, trial, state, value, error, dict(trial.params))
            if report is not None:
                report({"number": trial.number, "state": state, "value": value, "params": dict(trial.params), "run_id": run_id,
                        "error": error, "member": trial.user_attrs.get(MEMBER), "generation": trial.user_attrs.get(GENERATION)})
        outcome.states[state] = outcome.states.get(state, 0) + 1
        if state == "interrupted":
            outcome.interrupted = True
            break
        if state == "fail":
            _retry(study, trial, run_id)
        failures = failures + 1 if state == "fail" else 0
        if failures >= 3:
            raise UserError(f"study '{spec.name}': 3 population units in a row failed; the last: {error}")
    outcome.interrupted = outcome.interrupted or stop.requested
    return outcome


def _waiting(study: optuna.Study) -> bool:
    from optuna.trial import TrialState

    return any(MEMBER in t.user_attrs for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def _retry(study: optuna.Study, trial: Any, run_id: str | None) -> None:
    """A failed unit is queued again with the same plan; its run is resumed when it has a checkpoint."""
    attrs = {k: v for k, v in trial.user_attrs.items() if k.startswith("pbt_")}
    if run_id:
        attrs[RESUME_RUN] = run_id
    study.enqueue_trial(dict(trial.params), user_attrs=attrs | {"retry_of": trial.number})


def run_population_here(
    spec: StudySpec, study: optuna.Study, storage: str, *, db_path: Path, stop: StopFlag, report: TrialReport | None = None
) -> LoopOutcome:
    """``study run`` of a PBT study: this process plus ``workers - 1`` local worker processes."""
    import signal
    import tempfile

    options = options_of(spec)
    seed_population(spec, study)  # before the workers start, so none of them waits for it
    count = (options.workers or options.population) - 1
    procs: list[tuple[subprocess.Popen, Any]] = []
    for _ in range(max(0, count)):
        errors = tempfile.TemporaryFile(mode="w+")
        command = [sys.executable, "-m", "engine", "study", "worker", "--study", spec.name, "--db", str(db_path)]
        env = {**os.environ, STORAGE_ENV: storage}  # not argv: any local user can read that (/proc/PID/cmdline)
        procs.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, text=True, env=env), errors))
    try:
        outcome = run_population(spec, study, db_path=db_path, stop=stop, report=report)
    finally:
        for proc, _ in procs:
            if stop.requested and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, errors in procs:
            try:
                proc.wait(timeout=600)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.returncode not in (0, 130, -signal.SIGINT, -signal.SIGKILL):
                errors.seek(0)
                lines = [line for line in errors.read().splitlines() if line.strip()]
                log.warning("pbt worker %d ended with %s: %s", proc.pid, proc.returncode, lines[-1] if lines else "")
            errors.close()
    return outcome
