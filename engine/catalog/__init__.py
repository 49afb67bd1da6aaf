"""The method registry: what each method is called, what it does and which hyper-parameters
it takes. Torch-free on purpose: the GUI builds its forms from these schemas, the CLI prints
them as JSON (``metalab-engine methods --json``), and the config validates ``method.params``
against them.

* ``_types``: ``Param`` and ``MethodSpec`` (a schema, its validation and binding) and ``register``;
* ``_entries``: the built-in methods, registered once on import (a default is written there only);
* here: the lookups, ``get`` and ``all_specs``.

The torch implementation of a method is named by ``impl`` and imported only when a run
starts (``engine.methods.load``).
"""

from __future__ import annotations

from engine.catalog import _entries  # noqa: F401  (registers the built-in methods)
from engine.catalog._entries import speed_switch
from engine.catalog._types import _REGISTRY, PARAM_TYPES, PYTHON_TYPES, MethodSpec, Param, register
from engine.errors import ConfigError

__all__ = ["PARAM_TYPES", "PYTHON_TYPES", "MethodSpec", "Param", "all_specs", "get", "register", "speed_switch"]


def all_specs() -> list[MethodSpec]:
    return list(_REGISTRY.values())


def get(name: str, *, source: str | None = None) -> MethodSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise ConfigError(f"unknown method '{name}' (known: {known})", source=source) from None
