"""A PBT study's options, and how members' hyper-parameters are drawn and perturbed (explore)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.study._spec import StudySpec


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


def options_of(spec: StudySpec) -> PBTOptions:
    return PBTOptions.from_spec(
        spec.sampler_options, eval_every=spec.base.train.eval_every, episodes=spec.base.train.episodes, source=spec.source
    )
