"""Method implementations (torch). Their schemas live in ``engine.catalog``; a run loads
the implementation named by the schema's ``impl`` through ``load``."""

from __future__ import annotations

import importlib
from typing import Any

from engine.methods._base import Method
from engine.specs import get


def load(name: str) -> type[Method]:
    module_name, _, class_name = get(name).impl.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_run_model(config: Any) -> Any:
    """The model a run of ``config`` trains: its base model with the method's adaptation
    (LoRA adapters under ``scope = "lora"``). Training, resume, ``predict`` and
    ``export-model`` all build it here, so saved weights always meet the same modules."""
    from engine import tasks
    from engine.models.adaptation import build_model

    cls = load(config.method.name)
    adaptation = cls.adaptation(cls.bind(config.method.params))
    return build_model(
        config.model, adaptation, seed=config.train.seed, attn_implementation=getattr(cls, "attn_implementation", None),
        causal_lm=tasks.get(config.task.type).model_kind == "decoder",
    )


__all__ = ["Method", "build_run_model", "load"]
