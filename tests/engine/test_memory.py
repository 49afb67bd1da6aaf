"""The torch-free training-memory estimate (engine.memory) for decoders, full and LoRA."""

from __future__ import annotations

from engine.memory import estimate_training_memory
from engine.catalog import get

# GPT-2 small's shape, as model-info reports it
GPT2 = {"parameters": 124_439_808, "layers": 12, "hidden_size": 768, "vocab_size": 50257, "kind": "decoder"}


def estimate(params: dict, *, examples: int = 8, max_length: int = 128, **kw) -> dict[str, int]:
    parts = estimate_training_memory(GPT2, params, examples=examples, max_length=max_length, **kw)
    assert parts is not None
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
    return parts


def test_lora_needs_less_than_full_training():
    full = estimate(dict(get("maml").defaults(), scope="all"))
    lora = estimate(get("maml").defaults())  # LoRA is the gradient methods' default scope
    assert lora["total"] < full["total"]
    # the base weights have no gradient or AdamW state under LoRA: only the adapters do
    assert full["gradients"] == GPT2["parameters"] * 4 and full["optimizer"] == GPT2["parameters"] * 8
    adapters = 12 * 4 * 2 * 8 * 768
    assert lora["gradients"] == adapters * 4 and lora["optimizer"] == adapters * 8
    assert lora["weights"] == full["weights"] + adapters * 4


def test_it_grows_with_sequence_length_and_batch():
    params = get("finetune").defaults()
    base = estimate(params, max_length=64)["activations"]
    assert estimate(params, max_length=128)["activations"] == 2 * base  # linear in tokens
    assert estimate(dict(params, batch_size=params["batch_size"] * 2), max_length=64)["activations"] == 2 * base
    episodes = get("maml").defaults()  # no batch_size: the episode's texts
    assert estimate(episodes, examples=20)["total"] > estimate(episodes, examples=10)["total"]


def test_cuda_defaults_and_quantization_shrink_it():
    params = get("maml").defaults()  # bf16 and checkpointing "auto"
    cpu = estimate(params, device_type="cpu")
    cuda = estimate(params, device_type="cuda")  # a decoder on CUDA: bf16 + checkpointing
    assert cuda["activations"] < cpu["activations"] and cuda["weights"] == cpu["weights"]
    forced = estimate(dict(params, bf16="off", gradient_checkpointing="off"), device_type="cuda")
    assert forced == cpu
    assert estimate(params, quantize="4bit")["weights"] < estimate(params, quantize="8bit")["weights"] < cpu["weights"]


def test_a_second_order_meta_gradient_keeps_more_than_first_order():
    second = estimate(get("maml").defaults())
    first = estimate(get("fomaml").defaults() | {"first_order": True})
    assert first["activations"] < second["activations"]


def test_unknown_size_gives_no_estimate():
    assert estimate_training_memory({"parameters": None}, {}, examples=8, max_length=64) is None
