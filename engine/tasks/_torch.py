"""Torch helpers the task types share: cross-entropy over items and item accuracy.
Kept apart from ``_base`` so that importing ``engine.tasks`` needs no torch."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.tasks._base import IGNORE


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, targets, ignore_index=IGNORE)


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of items (not IGNORE) whose top logit is the target (methods' train_accuracy)."""
    keep = targets != IGNORE
    if not bool(keep.any()):
        return float("nan")
    return float((logits.argmax(-1)[keep] == targets[keep]).float().mean())
