"""Method implementations (torch). Their schemas live in ``engine.catalog``; a run loads
the implementation named by the schema's ``impl`` through ``load``."""

from __future__ import annotations

import importlib

from engine.methods._base import Method
from engine.specs import get


def load(name: str) -> type[Method]:
    module_name, _, class_name = get(name).impl.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


__all__ = ["Method", "load"]
