"""Studies: hyper-parameter searches with Optuna, each trial a normal MetaLab run.

The CLI's ``study`` commands each call one function here (docs/STUDIES.md):

- :func:`run_study` – ``study run STUDY.toml``: create (or resume) and run trials;
- :func:`create_study` – ``study create STUDY.toml``: register it for workers to run;
- :func:`work` – ``study worker --storage URL --study NAME``: join a study;
- :func:`list_studies`, :func:`show_study` – ``study list`` / ``study show NAME``.

Modules: ``_spec`` (study file), ``_space`` (search space), ``_factory`` (samplers and
pruners), ``_storage`` (Optuna storages), ``_worker`` (the trial loop), ``_report``
(JSON views). Study files and their errors need no torch; running trials does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.study._spec import DIRECTIONS, METRICS, PRUNERS, SAMPLERS, StudySpec, load_spec
from engine.study._storage import default_storage, open_storage, redact, storage_exists
from engine.study._worker import LoopOutcome, TrialReport

if TYPE_CHECKING:
    from engine.training.runner import StopFlag

__all__ = [
    "DIRECTIONS",
    "METRICS",
    "PRUNERS",
    "SAMPLERS",
    "LoopOutcome",
    "StudySpec",
    "create_study",
    "default_storage",
    "list_studies",
    "load_spec",
    "run_study",
    "show_study",
    "work",
]


def _prepare(
    path: str | Path, db_path: Path, storage: str | None, n_trials: int | None, timeout: float | None,
    overrides: dict[str, Any] | None = None,
) -> tuple[StudySpec, str, Any]:
    """Every check, then the storage opened and the study created or resumed."""
    from engine.study._factory import make_pruner, make_sampler
    from engine.study._worker import create_or_load, quiet_optuna

    spec = load_spec(path, overrides).with_budget(n_trials, timeout)
    url = storage or spec.storage or default_storage(db_path)
    from engine.study._storage import check_storage

    is_default = url == default_storage(db_path)
    if not is_default:
        check_storage(url, db_path=db_path)
    quiet_optuna()
    make_sampler(spec, seed=spec.seed)
    make_pruner(spec)
    from engine.training.runner import prepare

    prepare(spec.base)  # dataset, model path and device are checked before anything is written
    if is_default:  # the data folder, made on first use as the run database's is
        Path(db_path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    handle = open_storage(url, db_path=db_path)
    study = create_or_load(spec, handle)
    # The trials' run_id user attributes name rows of this run database (each worker's own: a trial's run_database).
    study.set_user_attr("run_database", str(Path(db_path).expanduser().resolve()))
    return spec, url, study


def create_study(
    path: str | Path, *, db_path: Path, storage: str | None = None, n_trials: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec, url, study = _prepare(path, db_path, storage, n_trials, None, overrides)
    return {"name": spec.name, "storage": redact(url), "budget": spec.n_trials, "trials": len(study.trials)}


def run_study(
    path: str | Path,
    *,
    db_path: Path,
    stop: StopFlag,
    storage: str | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    report: TrialReport | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[StudySpec, str, LoopOutcome]:
    """Creates or resumes the study from ``path`` and runs trials in this process."""
    from engine.study._factory import make_sampler
    from engine.study._worker import effective_seed, run_trials

    spec, url, study = _prepare(path, db_path, storage, n_trials, timeout, overrides)
    study.sampler = make_sampler(spec, seed=effective_seed(spec, study, worker=False))
    if spec.sampler == "pbt":
        from engine.study._pbt import run_population_here

        return spec, url, run_population_here(spec, study, url, db_path=db_path, stop=stop, report=report)
    outcome = run_trials(spec, study, db_path=db_path, stop=stop, report=report)
    return spec, url, outcome


def work(
    storage: str,
    name: str,
    *,
    db_path: Path,
    stop: StopFlag,
    n_trials: int | None = None,
    timeout: float | None = None,
    report: TrialReport | None = None,
) -> tuple[StudySpec, LoopOutcome]:
    """Joins study ``name`` in ``storage``: the study file is not needed, its spec is in the storage."""
    from engine.study._factory import make_sampler
    from engine.study._worker import effective_seed, load_existing, quiet_optuna, run_trials
    from engine.training.runner import prepare

    quiet_optuna()
    if not storage_exists(storage):
        raise_missing(storage)
    handle = open_storage(storage, db_path=db_path)
    spec, study = load_existing(name, handle, storage_label=redact(storage))
    spec = spec.with_budget(n_trials, timeout)
    prepare(spec.base)
    study.sampler = make_sampler(spec, seed=effective_seed(spec, study, worker=True))
    if spec.sampler == "pbt":
        from engine.study._pbt import run_population

        return spec, run_population(spec, study, db_path=db_path, stop=stop, report=report)
    return spec, run_trials(spec, study, db_path=db_path, stop=stop, report=report)


def raise_missing(storage: str) -> None:
    from engine.errors import UserError

    raise UserError(f"storage '{redact(storage)}' does not exist (create the study first: metalab-engine study create STUDY.toml)")


def list_studies(storages: list[str]) -> list[dict[str, Any]]:
    import optuna

    from engine.study._report import study_row
    from engine.study._worker import quiet_optuna

    quiet_optuna()
    rows: list[dict[str, Any]] = []
    for url in storages:
        if not storage_exists(url):
            continue
        handle = open_storage(url)
        for summary in optuna.get_all_study_summaries(handle, include_best_trial=True):
            counts: dict[str, int] = {}
            for trial in handle.get_all_trials(summary._study_id, deepcopy=False):
                counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
            rows.append(study_row(summary, redact(url), counts))
    return rows


def show_study(name: str, storage: str, *, importances: bool = False) -> dict[str, Any]:
    """A study's details; parameter importances (on a sample of at most 1,000 complete
    trials) only with ``importances``: on 10,000 trials they took most of 20 minutes."""
    from engine.study._report import study_details
    from engine.study._worker import load_existing, quiet_optuna

    quiet_optuna()
    if not storage_exists(storage):
        raise_missing(storage)
    handle = open_storage(storage)
    _, study = load_existing(name, handle, storage_label=redact(storage))
    return study_details(study, redact(storage), importances=importances)
