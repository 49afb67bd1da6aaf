"""A study file: a base run config and how to search around it (docs/STUDIES.md).

::

    [study]
    name = "inner-lr"
    base = "quickstart.toml"      # a run config, relative to this file
    sampler = "tpe"               # random | grid | tpe | gp | cmaes | nsga2
    pruner = "median"             # none | median | sha | hyperband
    n_trials = 30
    metric = "val_accuracy"
    direction = "maximize"
    storage = "journal:studies.log"
    [study.space]
    "method.params.lr" = { low = 1e-5, high = 1e-3, log = true }

Everything is checked here, before any storage is opened or any row written. The
spec travels with the study in Optuna's storage (a study user attribute), so a worker
on another machine needs only the storage URL and the study name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine import tasks
from engine.config import MAX_SEED, RunConfig, resolve_relative
from engine.errors import ConfigError
from engine.study._space import Dimension, grid_search_space, grid_size, parse_space

SAMPLERS = ("random", "grid", "tpe", "gp", "cmaes", "nsga2", "pbt")
PRUNERS = ("none", "median", "sha", "hyperband")
DIRECTIONS = ("maximize", "minimize")
# What the runner reports at each validation (episodic and supervised alike).
# Classification's metrics; a study accepts the metrics of its base config's task type.
METRICS = ("val_accuracy", "val_loss", "val_macro_f1", "val_precision", "val_recall")
STUDY_KEYS = (
    "name", "base", "sampler", "pruner", "n_trials", "timeout", "metric", "direction", "storage", "seed",
    "sampler_options", "pruner_options", "space",
)
SPEC_VERSION = 1


@dataclass(frozen=True)
class StudySpec:
    name: str
    base: RunConfig
    space: tuple[Dimension, ...]
    sampler: str = "tpe"
    pruner: str = "median"
    n_trials: int | None = 20
    timeout: float | None = None
    metric: str = "val_accuracy"
    direction: str = "maximize"
    storage: str | None = None  # as written (journal:PATH resolved against the study file); None = default
    seed: int | None = 0
    sampler_options: dict[str, Any] = field(default_factory=dict)
    pruner_options: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    # --- the part of the spec that defines the study (kept in Optuna's storage) ----
    def to_attr(self) -> dict[str, Any]:
        return {
            "version": SPEC_VERSION,
            "base": self.base.to_dict(),
            "space": {d.key: d.to_dict() for d in self.space},
            "sampler": self.sampler,
            "pruner": self.pruner,
            "n_trials": self.n_trials,
            "metric": self.metric,
            "direction": self.direction,
            "seed": self.seed,
            "sampler_options": self.sampler_options,
            "pruner_options": self.pruner_options,
        }

    def identity(self) -> dict[str, Any]:
        """What must match to resume a study: base config, space, objective."""
        attr = self.to_attr()
        return {k: attr[k] for k in ("base", "space", "metric", "direction")}

    @classmethod
    def from_attr(cls, name: str, attr: dict[str, Any], *, storage: str | None = None) -> StudySpec:
        source = f"study '{name}'"
        base = RunConfig.from_dict(attr["base"], source=source)
        data = {k: v for k, v in attr.items() if k not in ("version", "base")}
        return _build(name, base, data, storage=storage, source=source)

    def with_budget(self, n_trials: int | None = None, timeout: float | None = None) -> StudySpec:
        spec = self
        if n_trials is not None:
            if n_trials < 1:
                raise ConfigError(f"--n-trials must be at least 1, got {n_trials}")
            spec = replace(spec, n_trials=n_trials)
        if timeout is not None:
            if timeout <= 0:
                raise ConfigError(f"--timeout must be positive, got {timeout}")
            spec = replace(spec, timeout=timeout)
        return spec


def load_spec(path: str | Path, overrides: dict[str, Any] | None = None) -> StudySpec:
    """The study file at ``path``; ``overrides`` (``--set``) change ``study.KEY`` or a key of the base config."""
    path = Path(path)
    source = str(path)
    from engine.fileio import read_user_text

    try:
        data = tomllib.loads(read_user_text(path, error=ConfigError, what="a study TOML file"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", source=source) from None
    extra = sorted(set(data) - {"study"})
    if extra:
        raise ConfigError(f"unknown key '{extra[0]}' (a study file has one [study] table)", source=source)
    study = data.get("study")
    if not isinstance(study, dict):
        raise ConfigError("missing [study] table", source=source)
    base_changes = {}
    for key, value in (overrides or {}).items():
        head, _, rest = key.partition(".")
        if head != "study":
            base_changes[key] = value
        elif not rest or "." in rest:
            raise ConfigError(f"--set {key}: study keys are set one at a time, e.g. study.sampler=random", source=source)
        else:
            study[rest] = value
    base_name = study.get("base")
    if not isinstance(base_name, str) or not base_name.strip():
        raise ConfigError("'study.base' must name a run config (TOML), relative to this file", source=source)
    base = RunConfig.load(path.parent / base_name)
    if base_changes:
        base = base.with_values(base_changes)
    storage = study.get("storage")
    if isinstance(storage, str):
        storage = resolve_storage_path(storage, path.parent)
    name = study.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("'study.name' must be a non-empty string", source=source)
    data = {k: v for k, v in study.items() if k not in ("name", "base", "storage")}
    return _build(name.strip(), base, data, storage=storage, source=source)


def resolve_storage_path(storage: str, base_dir: Path) -> str:
    """``journal:PATH`` and ``sqlite:///PATH`` are relative to ``base_dir`` (the study file's folder)."""
    if storage.startswith("journal:"):
        return "journal:" + resolve_relative(storage[len("journal:") :], base_dir)
    if storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):
        rest = storage[len("sqlite:///") :]
        if rest and rest != ":memory:":
            return "sqlite:///" + resolve_relative(rest, base_dir)
    return storage


def _build(name: str, base: RunConfig, data: dict[str, Any], *, storage: Any, source: str | None) -> StudySpec:
    for key in data:
        if key not in STUDY_KEYS:
            raise ConfigError(f"unknown key 'study.{key}' (known: {', '.join(STUDY_KEYS)})", source=source)
    if storage is not None and (not isinstance(storage, str) or not storage.strip()):
        raise ConfigError("'study.storage' must be a string such as journal:studies.log", source=source)
    sampler = _choice(data, "sampler", "tpe", SAMPLERS, source)
    pruner = _choice(data, "pruner", "median", PRUNERS, source)
    # The base config's task type says which metrics exist and which one is the headline.
    task = tasks.get(base.task.type)
    metric = _choice(data, "metric", f"val_{task.headline}", tuple(f"val_{m.name}" for m in task.metrics), source)
    better = task.metric(metric[len("val_") :]).higher_is_better
    direction = _choice(data, "direction", "maximize" if better else "minimize", DIRECTIONS, source)
    n_trials = data.get("n_trials", 20)
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        raise ConfigError(f"'study.n_trials' must be a positive integer, got {n_trials!r}", source=source)
    timeout = data.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf")
    ):
        raise ConfigError(f"'study.timeout' must be a positive number of seconds, got {timeout!r}", source=source)
    seed = data.get("seed", 0)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED):
        raise ConfigError(f"'study.seed' must be an integer from 0 to {MAX_SEED}, got {seed!r}", source=source)
    options = {}
    for key in ("sampler_options", "pruner_options"):
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"'study.{key}' must be a table", source=source)
        options[key] = value
    if base.train.eval_every <= 0 or base.train.episodes <= 0:
        raise ConfigError(
            "the base config must train and validate (train.episodes > 0 and train.eval_every > 0): "
            f"trials are scored on {metric}",
            source=source,
        )
    space = parse_space(data.get("space"), base, source=source)
    if sampler == "grid":
        grid_search_space(space, source=source)
        if n_trials is not None and n_trials > grid_size(space):
            n_trials = grid_size(space)  # a grid has no more points to try
    if sampler == "pbt":  # the budget is the population's: members x generations
        from engine.study._pbt_params import PBTOptions

        pbt = PBTOptions.from_spec(options["sampler_options"], eval_every=base.train.eval_every,
                                   episodes=base.train.episodes, source=source)
        n_trials = pbt.population * -(-base.train.episodes // pbt.ready_every)
    spec = StudySpec(
        name=name, base=base, space=space, sampler=sampler, pruner=pruner, n_trials=n_trials,
        timeout=float(timeout) if timeout is not None else None, metric=metric, direction=direction,
        storage=storage, seed=seed, sampler_options=options["sampler_options"],
        pruner_options=options["pruner_options"], source=source,
    )
    from engine.study._factory import check_options, make_pruner, make_sampler

    check_options(spec)
    # Built once here, so an option the class refuses fails `study create`, not a trial.
    make_sampler(spec, seed=spec.seed)
    make_pruner(spec)
    return spec


def _choice(data: dict[str, Any], key: str, default: str, allowed: tuple[str, ...], source: str | None) -> str:
    value = data.get(key, default)
    if value not in allowed:
        raise ConfigError(f"'study.{key}' must be one of {', '.join(allowed)}, got {value!r}", source=source)
    return value
