"""A rough memory estimate for training a model with a method: weights, optimizer state and
activations. Generic: it reads the method's parameters by their shared names
(``trainable_layers``, ``batch_size``, ``inner_steps``, ``first_order``, ``scope``,
``lora_rank``), never the method's name. Under ``scope = "lora"`` only the adapters are
trained (optimizer state for them alone); a decoder adds its next-token logits over the
vocabulary for every token.
"""

from __future__ import annotations

from typing import Any

BYTES_PER_FLOAT = 4
ACTIVATION_FACTOR = 16  # floats kept per token, hidden unit and layer for the backward pass (rough)
LORA_MATRICES_PER_LAYER = 4  # adapted projections per transformer layer (attention q, k, v, out: rough)


def estimate_training_bytes(
    info: dict[str, Any], params: dict[str, Any], *, examples: int, max_length: int
) -> int | None:
    """Bytes needed to train; None when the model's size is unknown."""
    total = info.get("parameters")
    if not isinstance(total, (int, float)) or total <= 0:
        return None
    layers = int(info.get("layers") or 0)
    hidden = int(info.get("hidden_size") or 0)
    trainable_layers = int(params.get("trainable_layers", -1))
    if trainable_layers == 0:
        share = 0.0
    elif trainable_layers > 0 and layers:
        share = min(1.0, trainable_layers / layers)
    else:
        share = 1.0
    weights = total * BYTES_PER_FLOAT
    optimizer = total * share * 3 * BYTES_PER_FLOAT  # gradient + two AdamW moments
    if params.get("scope") == "lora" and layers and hidden:  # the base weights are frozen
        rank = int(params.get("lora_rank") or 8)
        adapters = layers * LORA_MATRICES_PER_LAYER * 2 * rank * hidden
        weights += adapters * BYTES_PER_FLOAT
        optimizer = adapters * 3 * BYTES_PER_FLOAT
    examples = int(params.get("batch_size") or examples)
    activations = examples * max_length * hidden * max(layers, 1) * BYTES_PER_FLOAT
    activations *= ACTIVATION_FACTOR if share > 0 else 1
    vocab = int(info.get("vocab_size") or 0)
    if info.get("kind") == "decoder" and vocab:  # logits and their gradient, per token
        activations += examples * max_length * vocab * 2 * BYTES_PER_FLOAT
    inner = int(params.get("inner_steps") or 0)
    if inner > 0:  # adapted copies kept for the outer gradient
        activations *= 1 + inner
        if params.get("first_order") is False:
            activations *= 2
    return int(weights + optimizer + activations)
