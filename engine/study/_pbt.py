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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ConfigError, UserError

if TYPE_CHECKING:
    import optuna

    from engine.study._spec import StudySpec
    from engine.study._worker import LoopOutcome, TrialReport
    from engine.training.runner import StopFlag

log = logging.getLogger("engine.study")

MEMBER, GENERATION, START, RESUME_RUN = "pbt_member", "pbt_generation", "pbt_start", "pbt_resume_run"
SPURIOUS_ATTR = "metalab:pbt_spurious"
LEASE_SETTLE_SECONDS = 0.5
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class PBTOptions:
    """``sampler_options`` of a PBT study (docs/STUDIES.md)."""

    population: int = 4
    ready_every: int = 0  # 0: the base config's train.eval_every
    quantile: float = 0.25
    resample_probability: float = 0.25
    perturb: tuple[float, float] = (0.8, 1.2)
    workers: int = 0  # processes on this machine for `study run`; 0: one per member

    @classmethod
    def from_spec(cls, options: dict[str, Any], *, eval_every: int, episodes: int, source: str | None) -> PBTOptions:
        known = {"population", "ready_every", "quantile", "resample_probability", "perturb", "workers"}
        for key in options:
            if key not in known:
                raise ConfigError(
                    f"'study.sampler_options.{key}' is not an option of the pbt sampler (options: {', '.join(sorted(known))})",
                    source=source,
                )

        def number(key: str, kind: type, default: Any, low: float, high: float) -> Any:
            value = options.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
                raise ConfigError(f"'study.sampler_options.{key}' must be {'an integer' if kind is int else 'a number'}, got {value!r}", source=source)
            if not low <= value <= high:
                raise ConfigError(f"'study.sampler_options.{key}' must be between {low:g} and {high:g}, got {value!r}", source=source)
            return kind(value)

        population = number("population", int, 4, 2, 256)
        ready_every = number("ready_every", int, eval_every, 1, max(1, episodes))
        if eval_every <= 0 or ready_every % eval_every:
            raise ConfigError(
                f"'study.sampler_options.ready_every' ({ready_every}) must be a multiple of train.eval_every ({eval_every}): "
                "members are ranked on the validation at each boundary",
                source=source,
            )
        if ready_every >= episodes:
            raise ConfigError(
                f"'study.sampler_options.ready_every' ({ready_every}) must be below train.episodes ({episodes}): "
                "a population needs at least two generations",
                source=source,
            )
        perturb = options.get("perturb", [0.8, 1.2])
        if (not isinstance(perturb, (list, tuple)) or len(perturb) != 2
                or not all(isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f < 100 for f in perturb)):
            raise ConfigError(f"'study.sampler_options.perturb' must be two positive factors such as [0.8, 1.2], got {perturb!r}", source=source)
        return cls(
            population=population,
            ready_every=ready_every,
            quantile=number("quantile", float, 0.25, 0.01, 0.5),
            resample_probability=number("resample_probability", float, 0.25, 0.0, 1.0),
            perturb=(float(perturb[0]), float(perturb[1])),
            workers=number("workers", int, 0, 0, 256),
        )


def options_of(spec: StudySpec) -> PBTOptions:
    return PBTOptions.from_spec(
        spec.sampler_options, eval_every=spec.base.train.eval_every, episodes=spec.base.train.episodes, source=spec.source
    )


def boundaries(spec: StudySpec) -> list[int]:
    """The last step of each generation: ready_every, 2 * ready_every, ..., train.episodes."""
    every, total = options_of(spec).ready_every, spec.base.train.episodes
    return [min(total, every * (g + 1)) for g in range(math.ceil(total / every))]


# --- drawing and perturbing parameters ---------------------------------------------------
def draw(distribution: Any, rng: np.random.Generator) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[int(rng.integers(len(distribution.choices)))]
    low, high = distribution.low, distribution.high
    if distribution.log:
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
    return _fit(distribution, value) if isinstance(distribution, (FloatDistribution, IntDistribution)) else value


def _fit(distribution: Any, value: float) -> Any:
    """A value clipped into the distribution and rounded onto its step (ints are whole)."""
    from optuna.distributions import IntDistribution

    low, high = distribution.low, distribution.high
    value = min(high, max(low, value))
    step = getattr(distribution, "step", None)
    if step:
        value = low + round((value - low) / step) * step
        value = min(high, max(low, value))
    return int(round(value)) if isinstance(distribution, IntDistribution) else float(value)


def explore(params: dict[str, Any], distributions: dict[str, Any], options: PBTOptions, rng: np.random.Generator) -> dict[str, Any]:
    """Each parameter resampled with ``resample_probability``, else continuous ones scaled by a perturb factor."""
    from optuna.distributions import CategoricalDistribution

    out = {}
    for key, value in params.items():
        distribution = distributions[key]
        if rng.random() < options.resample_probability:
            out[key] = draw(distribution, rng)
        elif isinstance(distribution, CategoricalDistribution):
            out[key] = value
        else:
            out[key] = _fit(distribution, value * options.perturb[int(rng.integers(2))])
    return out


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
    from engine.study._worker import WORKER_ATTR, LoopOutcome, _Heartbeat, _tell, recover_stale_trials

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
            _tell(study, trial, "fail", None, "no population unit was waiting", {})
            continue
        outcome.started += 1
        study._storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR, {"host": socket.gethostname(), "pid": os.getpid()})
        heartbeat = _Heartbeat(study._storage, trial._trial_id)
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
            _tell(study, trial, state, value, error, dict(trial.params))
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


def retry_attrs(trial: Any) -> dict[str, Any]:
    """What a stale unit's retry carries (used by the stale-trial recovery)."""
    attrs = {k: v for k, v in trial.user_attrs.items() if k.startswith("pbt_")}
    if attrs and trial.user_attrs.get("run_id"):
        attrs[RESUME_RUN] = trial.user_attrs["run_id"]
    return attrs


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
        command = [sys.executable, "-m", "engine", "study", "worker", "--storage", storage, "--study", spec.name,
                   "--db", str(db_path)]
        procs.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, text=True), errors))
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


# --- reports ------------------------------------------------------------------------------------
def population_report(study: optuna.Study) -> dict[str, Any]:
    """Members' lineage, every exploit/explore event, and the best member's schedule."""
    from optuna.trial import TrialState

    complete = _units(study, (TrialState.COMPLETE,))
    members: dict[int, list[dict[str, Any]]] = {}
    events = []
    for t in sorted(complete, key=lambda t: (t.user_attrs[GENERATION], t.user_attrs[MEMBER])):
        member, generation, start = int(t.user_attrs[MEMBER]), int(t.user_attrs[GENERATION]), t.user_attrs[START]
        members.setdefault(member, []).append({
            "generation": generation, "trial": t.number, "run_id": t.user_attrs.get("run_id"),
            "value": t.value, "params": dict(t.params), "start": start.get("kind"),
            "intermediate": {str(k): v for k, v in sorted(t.intermediate_values.items())},
        })
        if start.get("kind") == "exploit":
            events.append({"generation": generation, "member": member} | start)
    last_generation = max((g["generation"] for history in members.values() for g in history), default=-1)
    finals = {m: h[-1] for m, h in members.items() if h and h[-1]["generation"] == last_generation}
    best_member = None
    if finals:
        maximize = study.direction.name == "MAXIMIZE"
        best_member = (max if maximize else min)(finals, key=lambda m: finals[m]["value"])
    return {
        "members": {str(m): h for m, h in members.items()},
        "events": events,
        "best_member": best_member,
        "best_schedule": _schedule(members, events, best_member) if best_member is not None else [],
    }


def _schedule(members: dict[int, list[dict[str, Any]]], events: list[dict[str, Any]], member: int) -> list[dict[str, Any]]:
    """The parameters the best member's lineage trained with, generation by generation, from step 0.

    Its lineage is followed backwards: at an exploit the weights came from the donor, so
    earlier generations are the donor's.
    """
    by_gen = {(m, g["generation"]): g for m, h in members.items() for g in h}
    exploit = {(e["member"], e["generation"]): e for e in events}
    chain = []
    current = member
    generation = max(g["generation"] for g in members[member])
    while generation >= 0:
        unit = by_gen.get((current, generation))
        if unit is None:
            break
        chain.append({"generation": generation, "member": current, "run_id": unit["run_id"], "params": unit["params"],
                      "value": unit["value"], "event": unit["start"]})
        event = exploit.get((current, generation))
        if event is not None:
            current = int(event["from_member"])
        generation -= 1
    return list(reversed(chain))
