"""A text encoder: a transformers backbone with mean pooling over the attention mask, or
one vector per word when the batch names the words' first sub-token ``positions``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from engine.errors import ModelError
from engine.models.loading import ModelSource, check_quantization, check_weights_fit, hub_local_only, is_decoder_config, resolve_model

log = logging.getLogger(__name__)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


class TextEncoder(nn.Module):
    """Texts in, one embedding per text (or per word) out. ``backbone`` is any ``AutoModel``."""

    kind = "encoder"

    def __init__(self, backbone: nn.Module, tokenizer: Any, *, max_length: int, source: str = ""):
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.source = source
        # bf16 on CUDA (engine.training.precision): the backbone's forward runs under autocast,
        # its outputs come back in float32, so heads, losses and the backward stay as they are.
        self.autocast_dtype: torch.dtype | None = None

    def autocast(self) -> contextlib.AbstractContextManager:
        """The forward-pass precision context: autocast when ``autocast_dtype`` is set."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    @property
    def hidden_size(self) -> int:
        return int(self.backbone.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, cut to max_length, unpadded (batches pad to their longest)."""
        out = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=False)
        return out["input_ids"]

    def padded(self, ids: Sequence[Sequence[int]], *, left: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(input_ids, attention_mask)`` on the CPU, each text padded to the batch's longest,
        on the right (encoders, training) or on the left (a decoder scoring what comes next)."""
        pad = self.tokenizer.pad_token_id or 0
        width = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            if seq:
                cols = slice(width - len(seq), width) if left else slice(0, len(seq))
                input_ids[row, cols] = torch.as_tensor(seq, dtype=torch.long)
                mask[row, cols] = 1
        return input_ids, mask

    def collate(self, ids: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        input_ids, mask = self.padded(ids)
        device = self.device
        return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """[batch, hidden] mean-pooled; with ``positions`` ([items, 2]: row, token) the hidden
        state at each position instead, [items, hidden] (token classification)."""
        with self.autocast():
            hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return _pool(hidden, attention_mask, positions)

    def encode_batch(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self(**batch)

    def layers(self) -> nn.ModuleList | None:
        return find_layers(self.backbone)

    def set_trainable_layers(self, count: int) -> None:
        """Freeze all but the top ``count`` transformer layers (-1: train everything)."""
        if count < 0:
            for p in self.backbone.parameters():
                p.requires_grad_(True)
            return
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        layers = self.layers()
        if layers is None or count == 0:
            return
        for layer in list(layers)[-count:]:
            for p in layer.parameters():
                p.requires_grad_(True)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.backbone.parameters())


class DecoderEncoder(TextEncoder):
    """A causal LM (``AutoModelForCausalLM``) seen as an encoder: the same hidden states per
    text or per position, from its base model, plus its own output layer (``output_weight``)
    that scores the next token.

    Training batches (``collate``) are right-padded: the causal mask and the attention mask
    keep pads out of every real token's context, and ``positions`` name the real tokens.
    Generation and scoring batches (``collate_left``) are left-padded, so every text's last
    token sits in the last column (where ``generate`` continues and where a prompt's next
    token is read); they carry ``position_ids`` because GPT-2 would otherwise count the pads.
    The tokenizer pads on the left too (``padding_side``) for callers that use it directly.
    """

    kind = "decoder"

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        positions: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        with self.autocast():
            out = self.backbone.base_model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)
        return _pool(out.last_hidden_state, attention_mask, positions)

    def collate_left(self, ids: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """Left-padded batch with ``position_ids`` that start at 0 on each text's first real token."""
        input_ids, mask = self.padded(ids, left=True)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        device = self.device
        return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device), "position_ids": position_ids.to(device)}

    def next_token_logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """[batch, vocab]: the next-token scores after each text of a ``collate_left`` batch."""
        with self.autocast():
            out = self.backbone(**batch)
        logits = out.logits[:, -1]
        return logits.float() if logits.dtype in (torch.bfloat16, torch.float16) else logits

    def output_weight(self) -> torch.Tensor:
        """[vocab, hidden]: next-token logits are ``hidden @ output_weight().T`` (tied or not)."""
        return self.backbone.get_output_embeddings().weight


def _pool(hidden: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
    if hidden.dtype in (torch.bfloat16, torch.float16):  # from autocast: heads and losses stay float32
        hidden = hidden.float()
    if positions is not None:
        return hidden[positions[:, 0], positions[:, 1]]
    return mean_pool(hidden, attention_mask)


def find_layers(model: nn.Module) -> nn.ModuleList | None:
    """The stack of transformer blocks: the longest ModuleList of same-typed modules."""
    best: nn.ModuleList | None = None
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) > 0:
            if len({type(m) for m in module}) == 1 and (best is None or len(module) > len(best)):
                best = module
    return best


def load_encoder(
    name: str,
    *,
    max_length: int,
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
    causal_lm: bool = False,
    quantize: str = "none",
) -> TextEncoder:
    """Loads tokenizer and backbone from a resolved source, offline for local ones.
    ``causal_lm``: the model with its language-modelling head (``AutoModelForCausalLM``);
    ``quantize``: 8- or 4-bit base weights through bitsandbytes, on the current CUDA device."""
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    source: ModelSource = resolve_model(name, allow_pickle=allow_pickle)
    check_weights_fit(source, trust_remote_code=trust_remote_code)  # transformers would fill gaps with random values
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if source.local or hub_local_only(source):  # a hub id in the cache loads without network
        kwargs["local_files_only"] = True
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path, **kwargs)
        model_kwargs = dict(kwargs, use_safetensors=not allow_pickle)
        if attn_implementation:
            model_kwargs["attn_implementation"] = attn_implementation
        model_kwargs.update(quantization_kwargs(quantize))
        if causal_lm:
            require_decoder(AutoConfig.from_pretrained(source.path, **kwargs), name)
        backbone = (AutoModelForCausalLM if causal_lm else AutoModel).from_pretrained(source.path, **model_kwargs)
    except ModelError:
        raise
    except OSError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not source.local:
            first = f"cannot load '{name}' from the Hugging Face hub or its cache ({first})"
        raise ModelError(first, source=name) from None
    except Exception as exc:  # a corrupt file surfaces as many exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load the model ({first})", source=name) from None
    if tokenizer.pad_token_id is None:
        # Decoders often have no pad token; the mask makes the choice harmless.
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if causal_lm:
        tokenizer.padding_side = "left"  # generation continues, and scoring reads, the last column
    return (DecoderEncoder if causal_lm else TextEncoder)(backbone, tokenizer, max_length=max_length, source=name)


def quantization_kwargs(quantize: str) -> dict[str, Any]:
    """``from_pretrained`` arguments for 8/4-bit base weights (bitsandbytes, an optional
    extra: ``pip install 'metalab[bnb]'``); the run's config checks were made at validate."""
    if quantize == "none":
        return {}
    check_quantization(quantize, "cuda")
    from transformers import BitsAndBytesConfig

    if quantize == "8bit":
        config = BitsAndBytesConfig(load_in_8bit=True)
    else:  # NF4 weights, computing in bf16 where the device has it
        compute = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute)
    return {"quantization_config": config, "device_map": {"": torch.cuda.current_device()}}


def require_decoder(config: Any, name: str) -> None:
    if not is_decoder_config(config):
        kind = getattr(config, "model_type", "") or "an"
        raise ModelError(f"this task needs a decoder (a causal language model); this is {kind} encoder", source=name)


def build_encoder_from_config(config: Any, tokenizer: Any, *, max_length: int) -> TextEncoder:
    """A randomly initialised encoder (tests and tiny benchmarks)."""
    from transformers import AutoModel

    return TextEncoder(AutoModel.from_config(config), tokenizer, max_length=max_length, source="config")
