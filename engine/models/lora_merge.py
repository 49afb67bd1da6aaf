"""Folding LoRA adapters saved in a state dict back into plain weights.

A run whose inner loop adapted a LoRA scope saves its encoder with peft's injected layer
names (``query.base_layer.weight``, ``query.lora_A.default.weight``...). Predict, export and
Try a model build a plain encoder, so the adapters are merged first:
``W = W_base + (alpha / r) * B @ A``, the same product peft's ``merge`` computes.
"""

from __future__ import annotations

from typing import Any

import torch

_BASE = ".base_layer."


def has_lora(state: dict[str, Any]) -> bool:
    return any(_BASE in key or ".lora_A." in key for key in state)


def merge_lora_state(state: dict[str, torch.Tensor], *, rank: int, alpha: float) -> dict[str, torch.Tensor]:
    """A plain state dict: base weights with their adapters added, LoRA keys dropped."""
    scaling = float(alpha) / float(rank)
    merged: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if ".lora_" in key:
            continue
        if _BASE not in key:
            merged[key] = tensor
            continue
        prefix, leaf = key.split(_BASE, 1)
        plain = f"{prefix}.{leaf}"
        if leaf == "weight":
            adapters = [k for k in state if k.startswith(f"{prefix}.lora_A.")]
            for a_key in adapters:
                b_key = a_key.replace(".lora_A.", ".lora_B.", 1)
                tensor = tensor + scaling * (state[b_key].float() @ state[a_key].float()).to(tensor.dtype)
        merged[plain] = tensor
    return merged
