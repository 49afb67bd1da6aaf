"""The model panel's memory estimate: the engine's torch-free estimate (``engine.memory``),
summed. Parts (weights, gradients, optimizer state, activations) come from there."""

from __future__ import annotations

from typing import Any

from engine.memory import estimate_training_memory


def estimate_training_bytes(
    info: dict[str, Any], params: dict[str, Any], *, examples: int, max_length: int, device_type: str = "cpu",
    quantize: str = "none",
) -> int | None:
    """Bytes needed to train; None when the model's size is unknown. ``device_type``
    ("cuda", "cpu"): where ``auto`` switches (bf16, checkpointing) turn on for decoders."""
    parts = estimate_training_memory(info, params, examples=examples, max_length=max_length, device_type=device_type, quantize=quantize)
    return None if parts is None else parts["total"]
