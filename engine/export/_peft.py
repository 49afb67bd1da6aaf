"""A LoRA run's adapter alone, as a PEFT folder that ``PeftModel.from_pretrained`` opens.

MetaLab injects adapters into the backbone with peft (adapter name ``default``) and saves
the encoder's state, so a key reads ``backbone.<module>.lora_A.default.weight``. PEFT's
own files name it ``base_model.model.<module>.lora_A.weight``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import UserError


def adapter_weights(encoder_state: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(tensors under PEFT's names, the target module names)."""
    tensors: dict[str, Any] = {}
    targets: set[str] = set()
    for key, tensor in encoder_state.items():
        if ".lora_" not in key:
            continue
        module, _, rest = key.removeprefix("backbone.").partition(".lora_")
        which, _adapter_name, leaf = rest.split(".", 2)
        targets.add(module.rsplit(".", 1)[-1])
        tensors[f"base_model.model.{module}.lora_{which}.{leaf}"] = tensor.contiguous()
    return tensors, sorted(targets)


def write_adapter(folder: Path, encoder_state: dict[str, Any], *, rank: int, alpha: float, base_model: str, run_id: str) -> None:
    from peft import LoraConfig
    from safetensors.torch import save_file

    tensors, targets = adapter_weights(encoder_state)
    if not tensors:
        raise UserError(f"run {run_id} has no LoRA adapter to export (its method.params.scope is not lora)")
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=targets, base_model_name_or_path=base_model)
    config.save_pretrained(str(folder))
    save_file(tensors, str(folder / "adapter_model.safetensors"))
