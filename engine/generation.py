"""Continuing prompts with a trained decoder run: greedy or sampled (temperature, top-p).

Prompts are batched with *left* padding: a causal LM continues from its last position, so
every prompt must end at the same column, and the attention mask (from which transformers
derives the position ids) keeps the pads out of every real token's context. A tokenizer
that frames texts with an end token (the bundled WordPiece one adds ``[SEP]``) has it cut,
or the model would continue after "the end".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.errors import UserError

MAX_NEW_TOKENS = 1024  # a sanity cap; a model's own context limit usually bites first


def check_options(
    prompts: Sequence[str], *, max_new_tokens: int, min_new_tokens: int = 0, sample: bool, temperature: float, top_p: float
) -> None:
    if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise UserError("give at least one non-empty prompt (--prompt TEXT)")
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise UserError(f"--max-new-tokens must be between 1 and {MAX_NEW_TOKENS}, got {max_new_tokens}")
    if not 0 <= min_new_tokens <= max_new_tokens:
        raise UserError(f"--min-new-tokens must be between 0 and --max-new-tokens ({max_new_tokens}), got {min_new_tokens}")
    if sample and not temperature > 0:
        raise UserError(f"--temperature must be above 0, got {temperature}")
    if sample and not 0 < top_p <= 1:
        raise UserError(f"--top-p must be in (0, 1], got {top_p}")


def prompt_ids(encoder: Any, prompt: str) -> list[int]:
    """The prompt's token ids as the run saw documents start, without a closing end token."""
    tokenizer = encoder.tokenizer
    ids = list(encoder.tokenize([prompt])[0])
    enders = {tokenizer.eos_token_id, tokenizer.sep_token_id} - {None}
    while len(ids) > 1 and ids[-1] in enders:
        ids.pop()
    return ids


def left_padded(rows: Sequence[Sequence[int]], pad: int) -> tuple[list[list[int]], list[list[int]]]:
    """(input ids, attention mask), each row padded on the left to the longest."""
    width = max(len(r) for r in rows)
    ids = [[pad] * (width - len(r)) + list(r) for r in rows]
    mask = [[0] * (width - len(r)) + [1] * len(r) for r in rows]
    return ids, mask


def generate(
    encoder: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 40,
    min_new_tokens: int = 0,
    sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"continuations": [{"prompt", "continuation", "tokens"}...], "settings": {...}}``."""
    import torch

    check_options(prompts, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, sample=sample,
                  temperature=temperature, top_p=top_p)
    if getattr(encoder, "kind", "encoder") != "decoder":
        raise UserError("this run's model is an encoder: only a decoder (a causal LM) continues text")
    tokenizer, model = encoder.tokenizer, encoder.backbone
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    rows = [prompt_ids(encoder, p) for p in prompts]
    ids, mask = left_padded(rows, pad)
    device = encoder.device
    # min_new_tokens holds the end token back: a small model that ends every document at once still shows text
    options: dict[str, Any] = {"max_new_tokens": max_new_tokens, "min_new_tokens": min_new_tokens, "do_sample": sample,
                               "pad_token_id": pad}
    if eos is not None:
        options["eos_token_id"] = eos
    if sample:
        options.update(temperature=temperature, top_p=top_p, top_k=0)
    else:  # a saved generation config may ask for sampling; greedy means greedy
        options.update(temperature=None, top_p=None, top_k=None)
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(
            input_ids=torch.tensor(ids, device=device), attention_mask=torch.tensor(mask, device=device), **options
        )
    width = len(ids[0])
    results = []
    for prompt, row in zip(prompts, out.tolist(), strict=True):
        new = row[width:]
        if eos is not None and eos in new:  # the end token and the pads after it are not text
            new = new[: new.index(eos)]
        results.append({"prompt": prompt, "continuation": tokenizer.decode(new, skip_special_tokens=True), "tokens": len(new)})
    settings = {"max_new_tokens": max_new_tokens, "min_new_tokens": min_new_tokens, "sample": sample, "seed": seed}
    if sample:
        settings.update(temperature=temperature, top_p=top_p)
    return {"continuations": results, "settings": settings}
