"""Method schemas: what each method is called, what it does and which hyper-parameters it takes.

Torch-free on purpose: the GUI builds its forms from these schemas, the CLI prints them
as JSON (``metalab-engine methods --json``), and the config validates ``method.params``
against them. The torch implementation of a method is named by ``impl`` and imported
only when a run starts (``engine.methods.load``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, make_dataclass
from functools import cache
from typing import Any

from engine.errors import ConfigError

PARAM_TYPES = ("int", "float", "bool", "choice", "str")
PYTHON_TYPES: dict[str, Any] = {"int": int, "float": float, "bool": bool, "choice": Any, "str": str}


@dataclass(frozen=True)
class Param:
    """One hyper-parameter: its name is the key under ``[method.params]``."""

    name: str
    type: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    log: bool = False  # a log scale suits learning rates (forms and searches use it)
    choices: tuple[Any, ...] = ()
    label: str = ""  # what a form calls it; empty: derived from the name (``label_text``)
    group: str = ""  # the form section it sits in (optimizer, inner loop, ...); empty: "Other"
    # Applies only while another parameter of the same method holds one of these values,
    # e.g. ("scope", ("lora",)); forms disable it otherwise. None: always applies.
    when: tuple[str, tuple[Any, ...]] | None = None

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"{self.name}: unknown type {self.type}")
        if self.type == "choice" and self.default not in self.choices:
            raise ValueError(f"{self.name}: default {self.default!r} not in choices")

    def check(self, value: Any, *, key: str, source: str | None) -> Any:
        """The value converted to this parameter's type, or a ConfigError naming the key."""
        bad = ConfigError(f"'{key}' must be {self.describe_type()}, got {value!r}", source=source)
        if self.type == "bool":
            if not isinstance(value, bool):
                raise bad
            return value
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad
        elif self.type == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad
            value = float(value)
        elif self.type == "choice":
            if isinstance(value, bool) and {"on", "off"} <= set(self.choices):
                # runs stored while such a switch was true/false (bf16, gradient_checkpointing)
                return "on" if value else "off"
            if value not in self.choices:
                raise bad
            return value
        elif self.type == "str":
            if not isinstance(value, str):
                raise bad
            return value
        if self.low is not None and value < self.low:
            raise ConfigError(f"'{key}' must be at least {self.low}, got {value}", source=source)
        if self.high is not None and value > self.high:
            raise ConfigError(f"'{key}' must be at most {self.high}, got {value}", source=source)
        return value

    def describe_type(self) -> str:
        if self.type == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}[self.type]

    def label_text(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def applies(self, values: dict[str, Any]) -> bool:
        """Whether this parameter means anything given the method's other values."""
        if self.when is None:
            return True
        other, allowed = self.when
        return other not in values or values[other] in allowed

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["choices"] = list(self.choices)
        data["label"] = self.label_text()
        data["when"] = None if self.when is None else {"param": self.when[0], "in": list(self.when[1])}
        return data


@dataclass(frozen=True)
class MethodSpec:
    name: str
    title: str
    description: str  # one line, shown in method lists
    impl: str  # "module:Class" of the torch implementation
    params: tuple[Param, ...] = ()
    modes: tuple[str, ...] = ("episodic",)
    tasks: tuple[str, ...] = ("classification",)  # the task.type values the method serves
    # The models it can work with: any (a decoder is then read as a mean-pooled encoder), or
    # only a decoder (a causal LM whose next-token output it needs: in-context learning).
    model_kinds: tuple[str, ...] = ("encoder", "decoder")
    family: str = "metric"
    extra: dict[str, Any] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def model_kind(self, task_model_kind: str) -> str:
        """The model a run loads: a decoder when the task or this method needs one, else an encoder."""
        return "decoder" if task_model_kind == "decoder" or "encoder" not in self.model_kinds else "encoder"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def validate_params(self, params: dict[str, Any], *, source: str | None = None) -> dict[str, Any]:
        """Defaults filled in, types checked; an unknown name is an error naming the key."""
        known = {p.name: p for p in self.params}
        for name in params:
            if name not in known:
                raise ConfigError(f"unknown key 'method.params.{name}' for method '{self.name}'", source=source)
        out = self.defaults()
        for name, value in params.items():
            out[name] = known[name].check(value, key=f"method.params.{name}", source=source)
        return out

    def bind(self, params: Mapping[str, Any], *, fixed: Mapping[str, Any] | None = None) -> Any:
        """The method's typed hyper-parameters: a frozen ``<Name>Params`` dataclass with every
        parameter of the schema (defaults filled in, values checked) plus ``fixed`` ones, the
        values an implementation uses for parameters its schema leaves out (ANIL's scope)."""
        fixed = dict(fixed or {})
        values = self.validate_params(dict(params))
        clash = set(fixed) & set(values)
        if clash:
            raise ValueError(f"method {self.name!r}: {sorted(clash)} are parameters, not fixed values")
        fields = tuple((p.name, PYTHON_TYPES[p.type]) for p in self.params) + tuple((k, type(v)) for k, v in fixed.items())
        return _params_class(self.name, fields)(**values, **fixed)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "family": self.family,
            "modes": list(self.modes),
            "tasks": list(self.tasks),
            "model_kinds": list(self.model_kinds),
            "params": [p.to_json() for p in self.params],
        }


@cache
def _params_class(method: str, fields: tuple[tuple[str, type], ...]) -> type:
    title = "".join(part.capitalize() for part in method.split("_"))
    return make_dataclass(f"{title}Params", list(fields), frozen=True)


_REGISTRY: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    """Adds a method once; a duplicate or malformed name is a programming error."""
    if not spec.name.isidentifier() or spec.name != spec.name.lower():
        raise ValueError(f"method names are lower-case identifiers: {spec.name!r}")
    if spec.name in _REGISTRY:
        raise ValueError(f"method {spec.name!r} registered twice")
    names = [p.name for p in spec.params]
    if len(set(names)) != len(names):
        raise ValueError(f"method {spec.name!r} has duplicate parameter names")
    for p in spec.params:
        if p.when is not None and p.when[0] not in names:
            raise ValueError(f"method {spec.name!r}: {p.name} depends on unknown parameter {p.when[0]!r}")
    _REGISTRY[spec.name] = spec
    return spec
