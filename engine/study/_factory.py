"""Optuna samplers and pruners by name, with MetaLab's defaults.

A pruner's step is the training episode (or optimizer step) at which the runner
validated, so the resource of successive halving / Hyperband is counted in episodes:
the least a trial gets is one ``train.eval_every``, the most ``train.episodes``.
``sampler_options`` / ``pruner_options`` in a study file are passed on to the Optuna
class as keyword arguments; a name the class does not take is an error.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError

if TYPE_CHECKING:
    import optuna

    from engine.study._spec import StudySpec


def _sampler_class(name: str) -> Any:
    import optuna.samplers as s

    return {
        "random": s.RandomSampler,
        "grid": s.GridSampler,
        "tpe": s.TPESampler,
        "gp": s.GPSampler,
        "cmaes": s.CmaEsSampler,
        "nsga2": s.NSGAIISampler,
        "pbt": s.RandomSampler,  # never asked: every population unit is enqueued with its parameters
    }[name]


def _pruner_class(name: str) -> Any:
    import optuna.pruners as p

    return {
        "none": p.NopPruner,
        "median": p.MedianPruner,
        "sha": p.SuccessiveHalvingPruner,
        "hyperband": p.HyperbandPruner,
    }[name]


def sampler_defaults(spec: StudySpec) -> dict[str, Any]:
    if spec.sampler == "nsga2":
        # Optuna's default population (50) would leave a 30-trial study all random.
        budget = spec.n_trials or 50
        return {"population_size": min(50, max(4, budget // 3))}
    if spec.sampler == "cmaes":
        return {"n_startup_trials": 1}
    return {}


def pruner_defaults(spec: StudySpec) -> dict[str, Any]:
    every, total = spec.base.train.eval_every, spec.base.train.episodes
    if spec.pruner == "median":
        return {"n_startup_trials": 5, "n_warmup_steps": 0}
    if spec.pruner == "sha":
        return {"min_resource": every}
    if spec.pruner == "hyperband":
        return {"min_resource": every, "max_resource": total}
    return {}


def check_options(spec: StudySpec) -> None:
    """Options that name no keyword of the Optuna class are errors (before anything runs)."""
    if spec.sampler == "pbt":
        from engine.study._pbt_params import options_of

        options_of(spec)
    for kind, name, options, make in (
        ("sampler", spec.sampler, {} if spec.sampler == "pbt" else spec.sampler_options, _sampler_class),
        ("pruner", spec.pruner, spec.pruner_options, _pruner_class),
    ):
        parameters = inspect.signature(make(name)).parameters
        allowed = set(parameters) - {"self", "search_space", "seed"}
        for key, value in options.items():
            if key not in allowed:
                raise ConfigError(
                    f"'study.{kind}_options.{key}' is not an option of the {name} {kind} "
                    f"(options: {', '.join(sorted(allowed)) or 'none'})",
                    source=spec.source,
                )
            _check_option_type(f"study.{kind}_options.{key}", value, parameters[key].annotation, source=spec.source)


# What a study file (TOML) can hold for each type named in an Optuna signature.
_TOML_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "None": (type(None),),
    "dict": (dict,), "list": (list,), "Sequence": (list,),
}


def _check_option_type(key: str, value: Any, annotation: Any, *, source: str | None) -> None:
    """A value of the wrong type is refused here, not by a TypeError inside a trial."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    names = [part.strip().split("[", 1)[0] for part in text.split("|")]
    accepted = tuple(t for n in names if n != "None" for t in _TOML_TYPES.get(n, ()))
    if not accepted:  # a callable or an object: nothing TOML can write
        raise ConfigError(f"'{key}' cannot be set in a study file (it takes {text})", source=source)
    if isinstance(value, bool) and bool not in accepted:
        ok = False
    else:
        ok = isinstance(value, accepted)
    if not ok:
        wanted = " or ".join(dict.fromkeys(n for n in names if n in _TOML_TYPES and n != "None"))
        raise ConfigError(f"'{key}' must be {wanted}, got {value!r}", source=source)


def make_sampler(spec: StudySpec, *, seed: int | None) -> optuna.samplers.BaseSampler:
    from engine.study._space import grid_search_space

    options = {} if spec.sampler == "pbt" else sampler_defaults(spec) | spec.sampler_options
    cls = _sampler_class(spec.sampler)
    try:
        if spec.sampler == "grid":
            return cls(grid_search_space(spec.space), seed=seed, **options)
        return cls(seed=seed, **options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"sampler '{spec.sampler}': {exc}", source=spec.source) from None


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    options = pruner_defaults(spec) | spec.pruner_options
    try:
        return _pruner_class(spec.pruner)(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"pruner '{spec.pruner}': {exc}", source=spec.source) from None
