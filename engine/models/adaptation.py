"""What of the model a method adapts per task, as part of the model itself.

An adaptation *scope* says which weights a task's inner loop changes besides the head:
none (``head``), the top ``top_k`` transformer layers (``top_k_layers``), LoRA adapters
injected with ``peft`` (``lora``: the base weights never move) or every weight (``all``).
Only ``lora`` changes the model's structure, so training, resume, ``predict``,
``export-model`` and Try a model all build the model through ``build_model`` with the
run's ``Adaptation`` and load the same weights into the same modules. ``merge_adapters``
folds LoRA into the base weights for a plain Hugging Face model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from engine.models.encoder import TextEncoder, load_encoder

SCOPES = ("head", "top_k_layers", "lora", "all")


@dataclass(frozen=True)
class Adaptation:
    scope: str = "head"
    top_k: int = 1
    lora_rank: int = 8
    lora_alpha: float = 16.0

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"unknown adaptation scope {self.scope!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def apply(self, encoder: TextEncoder, *, seed: int) -> None:
        """Gives ``encoder`` this scope's structure: LoRA adapters (seeded) under ``lora``, the
        only weights left trainable then; other scopes leave the model as it is. Applying
        it to a model that has it already changes nothing."""
        if self.scope == "lora" and not any("lora_" in name for name, _ in encoder.named_parameters()):
            inject_lora(encoder, rank=self.lora_rank, alpha=self.lora_alpha, seed=seed)

    def adapted_names(self, encoder: TextEncoder) -> list[str]:
        """Names of the encoder parameters a task's inner loop adapts (the head is apart)."""
        named = dict(encoder.named_parameters())
        if self.scope == "head":
            return []
        if self.scope == "lora":
            return [n for n in named if "lora_" in n]
        if self.scope == "all":
            return list(named)
        layers = encoder.layers()
        if layers is None:
            raise ValueError("scope 'top_k_layers' needs a model with a stack of transformer layers")
        ids = {id(p) for layer in list(layers)[-self.top_k :] for p in layer.parameters()}
        return [n for n, p in named.items() if id(p) in ids]


def build_model(
    model_config: Any, adaptation: Adaptation, *, seed: int, attn_implementation: str | None = None, causal_lm: bool = False
) -> TextEncoder:
    """The run's encoder: the base model loaded from ``model_config`` with ``adaptation`` applied
    (``causal_lm``: a decoder with its language-modelling head, for the tasks that need one)."""
    encoder = load_encoder(
        model_config.name,
        max_length=model_config.max_length,
        allow_pickle=model_config.allow_pickle,
        trust_remote_code=model_config.trust_remote_code,
        attn_implementation=attn_implementation,
        causal_lm=causal_lm,
        quantize=getattr(model_config, "quantize", "none"),
    )
    adaptation.apply(encoder, seed=seed)
    return encoder


def inject_lora(encoder: TextEncoder, *, rank: int, alpha: float, seed: int) -> None:
    from peft import LoraConfig, inject_adapter_in_model
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as TARGETS

    backbone = encoder.backbone
    targets = TARGETS.get(getattr(backbone.config, "model_type", ""), None) or "all-linear"
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=targets)
    # Seeded so the adapters' random init is the same for the same run seed.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder.backbone = inject_adapter_in_model(config, backbone)
    for name, param in encoder.named_parameters():
        param.requires_grad_("lora_" in name)


def merge_adapters(encoder: TextEncoder) -> TextEncoder:
    """Folds every LoRA adapter into its base layer and puts the base layer back: the
    backbone is a plain transformers model again (its ``save_pretrained`` keys are the
    base model's). A model without adapters is returned as it is."""
    from peft.tuners.lora import LoraLayer

    for name, module in list(encoder.backbone.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            parent: nn.Module = encoder.backbone.get_submodule(parent_name) if parent_name else encoder.backbone
            setattr(parent, child, module.get_base_layer())
    return encoder
