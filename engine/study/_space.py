"""The search space: one :class:`Dimension` per dotted config key.

A dimension is written in a study file as a TOML inline table::

    "method.params.lr" = { low = 1e-5, high = 1e-3, log = true }
    "method.params.train_query" = { low = 2, high = 8, type = "int" }
    "task.k_shot" = { low = 1, high = 5, step = 2 }
    "method.params.distance" = { choices = ["cosine", "euclidean"] }

Any numeric or categorical key of the run config can be searched: a method's
hyper-parameters (checked against its schema), the optimizer's, the task's or the
training's. Each bound and choice is checked by building the run config with it, so
a value the config would refuse is an error before the first trial, naming the key.

Torch-free; Optuna is imported only to build distributions.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_type_hints

from engine.config import RunConfig
from engine.errors import ConfigError, UserError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

DIMENSION_KEYS = ("low", "high", "log", "step", "type", "choices")
KINDS = ("float", "int", "categorical")
# A grid larger than this is refused: listing it would exhaust memory, and running it never ends.
MAX_GRID_POINTS = 100_000


@dataclass(frozen=True)
class Dimension:
    key: str  # dotted run-config key, also the Optuna parameter name
    kind: str  # float | int | categorical
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "categorical":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))  # type: ignore[arg-type]
        return FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)  # type: ignore[arg-type]

    def grid_count(self) -> int | None:
        """How many values a grid search tries, without listing them; None when continuous."""
        if self.kind == "categorical":
            return len(self.choices)
        if self.kind == "int":
            return len(range(int(self.low), int(self.high) + 1, int(self.step or 1)))  # type: ignore[arg-type]
        if self.step is None:
            return None
        return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1  # type: ignore[operator]

    def grid_values(self) -> list[Any] | None:
        """Every value a grid search tries, or None when the range is continuous."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))  # type: ignore[arg-type]
        if self.step is None:
            return None
        count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1  # type: ignore[operator]
        return [round(self.low + i * self.step, 12) for i in range(count)]  # type: ignore[operator]

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "categorical":
            return {"choices": list(self.choices)}
        out: dict[str, Any] = {"low": self.low, "high": self.high, "type": self.kind}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


def parse_space(raw: Any, base: RunConfig, *, source: str | None = None) -> tuple[Dimension, ...]:
    """Dimensions from ``[study.space]``, each checked against ``base``."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError("'study.space' must be a table with at least one parameter", source=source)
    return tuple(parse_dimension(key, value, base, source=source) for key, value in raw.items())


def parse_dimension(key: str, raw: Any, base: RunConfig, *, source: str | None = None) -> Dimension:
    where = f"study.space.\"{key}\""
    if not isinstance(raw, dict):
        raise ConfigError(f"'{where}' must be a table such as {{ low = 1, high = 5 }} or {{ choices = [...] }}", source=source)
    for name in raw:
        if name not in DIMENSION_KEYS:
            raise ConfigError(f"unknown key '{name}' in '{where}' (known: {', '.join(DIMENSION_KEYS)})", source=source)
    declared = _declared_type(key, base, source=source)
    if "choices" in raw:
        extra = sorted(set(raw) - {"choices"})
        if extra:
            raise ConfigError(f"'{where}' has choices and also {', '.join(extra)}: use one or the other", source=source)
        choices = raw["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"'{where}.choices' must be a non-empty list", source=source)
        if len(set(map(repr, choices))) != len(choices):
            raise ConfigError(f"'{where}.choices' has a value twice", source=source)
        dim = Dimension(key, "categorical", choices=tuple(choices))
        _check_values(dim, choices, base, source=source)
        return dim
    if "low" not in raw or "high" not in raw:
        raise ConfigError(f"'{where}' needs low and high, or choices", source=source)
    low, high = raw["low"], raw["high"]
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"'{where}.{name}' must be a number, got {value!r}", source=source)
    kind = raw.get("type") or ("int" if declared == "int" else "float")
    if kind not in ("int", "float"):
        raise ConfigError(f"'{where}.type' must be int or float, got {kind!r}", source=source)
    if kind == "float" and declared == "int":
        raise ConfigError(f"'{where}': '{key}' is an integer, so its range must be of type int", source=source)
    if declared not in ("int", "float"):
        raise ConfigError(f"'{where}': '{key}' is not numeric ({declared}); search it with choices = [...]", source=source)
    if kind == "int" and (low != int(low) or high != int(high)):
        raise ConfigError(f"'{where}': an int range needs whole-number bounds, got {low}..{high}", source=source)
    if low >= high:
        raise ConfigError(f"'{where}' is an empty range: low ({low}) must be below high ({high})", source=source)
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"'{where}.log' must be true or false", source=source)
    if log and low <= 0:
        raise ConfigError(f"'{where}': a log range needs low > 0, got {low}", source=source)
    step = raw.get("step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0:
            raise ConfigError(f"'{where}.step' must be a positive number, got {step!r}", source=source)
        if log:
            raise ConfigError(f"'{where}': step and log = true cannot be combined", source=source)
        if kind == "int" and step != int(step):
            raise ConfigError(f"'{where}.step' must be a whole number for an int range", source=source)
        if step > high - low:
            raise ConfigError(f"'{where}.step' ({step}) is larger than the range {low}..{high}", source=source)
    if kind == "int":
        dim = Dimension(key, "int", int(low), int(high), log, int(step) if step is not None else None)
    else:
        dim = Dimension(key, "float", float(low), float(high), log, float(step) if step is not None else None)
    _check_values(dim, [dim.low, dim.high], base, source=source)
    return dim


def _declared_type(key: str, base: RunConfig, *, source: str | None) -> str:
    """int | float | bool | choice | str | list for a searchable key; an error for any other key."""
    from engine import catalog

    parts = key.split(".")
    if key.startswith("method.params."):
        spec = catalog.get(base.method.name, source=source)
        name = key[len("method.params.") :]
        try:
            return spec.param(name).type
        except KeyError:
            known = ", ".join(p.name for p in spec.params)
            raise ConfigError(
                f"'study.space': method '{spec.name}' has no parameter '{name}' (it has: {known})", source=source
            ) from None
    if key in ("method.name", "name", "notes", "tags") or key.startswith(("dataset.", "model.")) and key != "model.max_length":
        raise ConfigError(f"'study.space': '{key}' cannot be searched (a study varies hyper-parameters)", source=source)
    node: Any = base
    for i, part in enumerate(parts):
        if not dataclasses.is_dataclass(node):
            break
        fields = {f.name for f in dataclasses.fields(node)}
        if part not in fields:
            raise ConfigError(f"'study.space': unknown config key '{key}'", source=source)
        hint = get_type_hints(type(node))[part]
        node = getattr(node, part)
        if i == len(parts) - 1:
            if dataclasses.is_dataclass(node):
                raise ConfigError(f"'study.space': '{key}' is a table, not a value", source=source)
            return {int: "int", float: "float", bool: "bool", str: "str"}.get(hint, "list")
    raise ConfigError(f"'study.space': unknown config key '{key}'", source=source)


def _check_values(dim: Dimension, values: list[Any], base: RunConfig, *, source: str | None) -> None:
    for value in values:
        try:
            base.with_values({dim.key: value})
        except UserError as exc:
            raise ConfigError(f"'study.space': {dim.key} = {value!r} is not a valid value: {_bare(exc)}", source=source) from None


def _bare(exc: UserError) -> str:
    text = str(exc)
    if exc.source and text.startswith(f"{exc.source}: "):
        return text[len(exc.source) + 2 :]
    return text


def grid_search_space(space: tuple[Dimension, ...], *, source: str | None = None) -> dict[str, list[Any]]:
    """Every grid point's values per key; sizes are checked before any list is built."""
    for dim in space:
        if dim.grid_count() is None:
            raise ConfigError(
                f"sampler 'grid': '{dim.key}' is a continuous range; give it a step or choices", source=source
            )
    size = grid_size(space)
    if size > MAX_GRID_POINTS:
        counts = " × ".join(f"{dim.grid_count():,} ({dim.key})" for dim in space)
        raise ConfigError(
            f"sampler 'grid': {counts} = {size:,} points, more than {MAX_GRID_POINTS:,}; "
            "use a larger step, fewer choices or another sampler",
            source=source,
        )
    return {dim.key: dim.grid_values() or [] for dim in space}


def grid_size(space: tuple[Dimension, ...]) -> int:
    return math.prod(dim.grid_count() or 0 for dim in space)
