"""How the model computes on its device: bf16 autocast and gradient checkpointing.

Both are method parameters (``bf16``, ``gradient_checkpointing``: ``auto``, ``on`` or
``off``, defined once in ``engine.catalog`` with the rule for ``auto``: on for a decoder on
a CUDA device, bf16 where the device supports it; off otherwise, since big decoders are
what needs the memory and CPUs gain nothing from bf16). The choice is
applied to the encoder itself (``TextEncoder.autocast_dtype``, the backbone's
checkpointing), so every method and every forward pass gets it the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

from engine.catalog import speed_switch

log = logging.getLogger("engine.training")


@dataclass(frozen=True)
class Compute:
    bf16: bool = False
    gradient_checkpointing: bool = False

    def describe(self) -> str:
        parts = ["bf16 autocast" if self.bf16 else "fp32"]
        if self.gradient_checkpointing:
            parts.append("gradient checkpointing")
        return ", ".join(parts)


def bf16_supported(device: torch.device) -> bool:
    return device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def plan_compute(hp: Any, *, model_kind: str, device: torch.device) -> Compute:
    """The switches for a run: ``hp`` is the method's bound parameters (those it lacks count
    as ``auto``); ``auto`` is ``engine.catalog.speed_switch``, bf16 only where supported."""
    bf16 = speed_switch(getattr(hp, "bf16", "auto"), model_kind=model_kind, device_type=device.type)
    if bf16 and not bf16_supported(device):
        if getattr(hp, "bf16", "auto") == "on":
            log.info("bf16 autocast needs a CUDA device that supports it; running in fp32 on %s", device.type)
        bf16 = False
    checkpointing = speed_switch(getattr(hp, "gradient_checkpointing", "auto"), model_kind=model_kind, device_type=device.type)
    return Compute(bf16=bf16, gradient_checkpointing=checkpointing)


def apply_compute(encoder: Any, compute: Compute) -> None:
    """Sets the encoder's forward precision and its backbone's checkpointing."""
    encoder.autocast_dtype = torch.bfloat16 if compute.bf16 else None
    backbone = encoder.backbone
    if compute.gradient_checkpointing and getattr(backbone, "supports_gradient_checkpointing", False):
        # Non-reentrant: works with frozen inputs (LoRA) and with the inner loop's double backward.
        # (transformers 5 renamed it; the old name warns.)
        enable = getattr(backbone, "activation_checkpointing_enable", None)
        if enable is not None:
            enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    elif compute.gradient_checkpointing:
        log.info("%s has no gradient checkpointing; training without it", type(backbone).__name__)
    log.info("compute: %s", compute.describe())


def setup_compute(encoder: Any, method_cls: Any, params: dict[str, Any], device: torch.device) -> Compute:
    """Plans and applies the run's compute settings (the runner calls this once per process)."""
    compute = plan_compute(method_cls.bind(params), model_kind=getattr(encoder, "kind", "encoder"), device=device)
    apply_compute(encoder, compute)
    return compute
