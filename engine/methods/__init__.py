"""Method implementations (torch). Their schemas live in ``engine.catalog``; a run loads
the implementation named by the schema's ``impl`` through ``load``."""

from __future__ import annotations

import importlib
from typing import Any

from engine.methods._base import Method
from engine.catalog import get


def load(name: str) -> type[Method]:
    module_name, _, class_name = get(name).impl.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_run_model(config: Any) -> Any:
    """The model a run of ``config`` trains: its base model with the method's adaptation
    (LoRA adapters under ``scope = "lora"``). Training, resume, ``predict`` and
    ``export-model`` all build it here, so saved weights always meet the same modules."""
    from engine.models.adaptation import build_model

    cls = load(config.method.name)
    adaptation = cls.adaptation(cls.bind(config.method.params))
    return build_model(
        config.model, adaptation, seed=config.train.seed, attn_implementation=getattr(cls, "attn_implementation", None),
        causal_lm=run_model_kind(config) == "decoder",
    )


def run_model_kind(config: Any) -> str:
    """"decoder" when the run's task or method needs a causal LM, else "encoder"."""
    from engine import tasks

    return get(config.method.name).model_kind(tasks.get(config.task.type).model_kind)


def check_run_model(config: Any, data: Any) -> list[str]:
    """What a run needs of its model, checked from its files before any weight loads: a
    decoder where the task or the method needs one, and the method's own fit (prompt length).
    A UserError, or the lines of what passed."""
    from engine.models.loading import check_decoder, resolve_model

    if run_model_kind(config) == "decoder":
        spec = get(config.method.name)
        needed_by = f"method '{spec.name}'" if "encoder" not in spec.model_kinds else "this task"
        check_decoder(resolve_model(config.model.name, allow_pickle=config.model.allow_pickle), needed_by=needed_by)
    return load(config.method.name).check_fit(config, data)


__all__ = ["Method", "build_run_model", "check_run_model", "load", "run_model_kind"]
