"""A rough estimate of the memory a training run needs, by part: weights, gradients,
optimizer state and activations. Torch-free: the GUI's model panel shows it before a run.

Generic: it reads the model's shape from ``model-info`` (``parameters``, ``layers``,
``hidden_size``, ``vocab_size``, ``kind``) and the method's parameters by their shared
names (``trainable_layers``, ``batch_size``, ``inner_steps``, ``first_order``, ``scope``,
``lora_rank``, ``bf16``, ``gradient_checkpointing``), never the method's name.

- Full training keeps a gradient and two AdamW moments for every trained weight; under
  ``scope = "lora"`` only the adapters train (the base weights need no gradient or state).
- Activations grow with the tokens of a step (examples x ``max_length``): per layer and
  token a multiple of the hidden size, and a decoder adds its next-token logits over the
  vocabulary. bf16 halves them; gradient checkpointing keeps one layer's worth plus each
  layer's input; each inner step of a meta-gradient keeps another copy (of a decoder's
  output layer too, which its inner loop adapts).
- 8/4-bit base weights (``model.quantize``) take 1 or 0.5 bytes a weight.
"""

from __future__ import annotations

from typing import Any

from engine.catalog import speed_switch

BYTES_FP32 = 4
BYTES_BF16 = 2
BYTES_PER_WEIGHT = {"none": 4.0, "8bit": 1.0, "4bit": 0.5}  # model.quantize
ADAMW_MOMENTS = 2
ACTIVATION_FACTOR = 16  # values kept per token, hidden unit and layer for the backward pass (rough)
LORA_MATRICES_PER_LAYER = 4  # adapted projections per transformer layer (attention q, k, v, out: rough)
LOGIT_COPIES = 2  # a decoder's logits over the vocabulary and their gradient, per token


def estimate_training_memory(
    info: dict[str, Any],
    params: dict[str, Any],
    *,
    examples: int,
    max_length: int,
    device_type: str = "cpu",
    quantize: str = "none",
) -> dict[str, int] | None:
    """Bytes by part (``weights``, ``gradients``, ``optimizer``, ``activations``, ``total``);
    None when the model's size is unknown. ``examples``: texts in a step (an episode's
    support and queries; a method's ``batch_size`` wins where it has one)."""
    total = info.get("parameters")
    if not isinstance(total, (int, float)) or total <= 0:
        return None
    layers = int(info.get("layers") or 0)
    hidden = int(info.get("hidden_size") or 0)
    kind = str(info.get("kind") or "encoder")
    vocab = int(info.get("vocab_size") or 0)

    trained = _trained_weights(total, layers, hidden, params)
    adapters = _lora_weights(layers, hidden, params)
    weights = total * BYTES_PER_WEIGHT.get(quantize, BYTES_FP32) + adapters * BYTES_FP32
    gradients = trained * BYTES_FP32
    optimizer = trained * ADAMW_MOMENTS * BYTES_FP32

    tokens = int(params.get("batch_size") or examples) * max_length
    bf16 = speed_switch(params.get("bf16", "auto"), model_kind=kind, device_type=device_type)
    checkpointing = speed_switch(params.get("gradient_checkpointing", "auto"), model_kind=kind, device_type=device_type)
    per_value = BYTES_BF16 if bf16 else BYTES_FP32
    depth = max(layers, 1)
    if trained == 0:
        activations = tokens * hidden * per_value  # no backward: one layer's output at a time
    elif checkpointing:
        activations = tokens * hidden * per_value * (depth + ACTIVATION_FACTOR)  # layer inputs + one layer recomputed
    else:
        activations = tokens * hidden * per_value * depth * ACTIVATION_FACTOR
    if kind == "decoder" and vocab:  # logits in float32 (the loss is computed there)
        activations += tokens * vocab * LOGIT_COPIES * BYTES_FP32
    inner = int(params.get("inner_steps") or 0)
    if inner > 0:  # adapted copies kept for the outer gradient
        activations *= 1 + inner
        if params.get("first_order") is False:
            activations *= 2
        if kind == "decoder" and vocab and hidden:  # the inner loop adapts the output layer: a copy per step
            activations += vocab * hidden * (1 + inner) * BYTES_FP32
    parts = {"weights": weights, "gradients": gradients, "optimizer": optimizer, "activations": activations}
    out = {name: int(value) for name, value in parts.items()}
    out["total"] = sum(out.values())
    return out


def _lora_weights(layers: int, hidden: int, params: dict[str, Any]) -> int:
    if params.get("scope") != "lora" or not (layers and hidden):
        return 0
    rank = int(params.get("lora_rank") or 8)
    return layers * LORA_MATRICES_PER_LAYER * 2 * rank * hidden  # A (rank x hidden) and B (hidden x rank)


def _trained_weights(total: float, layers: int, hidden: int, params: dict[str, Any]) -> float:
    """Weights with a gradient and optimizer state."""
    if params.get("scope") == "lora" and layers and hidden:  # the base weights are frozen
        return _lora_weights(layers, hidden, params)
    trainable_layers = int(params.get("trainable_layers", -1))
    if trainable_layers == 0:
        return 0.0
    if trainable_layers > 0 and layers:
        return total * min(1.0, trainable_layers / layers)
    return float(total)
