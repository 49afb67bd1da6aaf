"""A tiny, randomly initialised decoder (GPT-2 shape) with the bundled MiniLM WordPiece
tokenizer, saved as safetensors: for tests, the LM quickstart and CPU benchmarks. Nothing
is downloaded; its perplexity figures say that the code works, not how a real model does."""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def build_tiny_decoder(folder: str | Path, *, hidden: int = 32, layers: int = 2, heads: int = 2, positions: int = 256, seed: int = 0) -> Path:
    """Writes the model to ``folder`` (created) and returns it. The WordPiece tokenizer's
    [CLS] and [SEP] frame every document, so they act as its start and end tokens."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from engine.models.loading import bundled_model_dir

    folder = Path(folder)
    source = bundled_model_dir("all-MiniLM-L6-v2")
    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    config = GPT2Config(
        vocab_size=30522, n_embd=hidden, n_layer=layers, n_head=heads, n_positions=positions,
        bos_token_id=101, eos_token_id=102, pad_token_id=0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        GPT2LMHeadModel(config).save_pretrained(folder, safe_serialization=True)
    return folder
