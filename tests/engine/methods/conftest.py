"""Tiny models and a synthetic task whose answer is known, for the method tests.

The dataset: each class owns one keyword; a text is the keyword among nuisance words
drawn from a small set shared by all classes. A random encoder's mean-pooled embedding is
dominated by which nuisance words a text happens to have; training on the meta-train
classes teaches it to ignore them, which transfers to the held-out classes' keywords.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
import torch

from engine.models.encoder import TextEncoder
from engine.models.loading import bundled_model_dir

KEYWORDS = (
    "apple banana cherry grape lemon mango olive peach pear plum "
    "river mountain forest desert island valley ocean canyon meadow glacier"
).split()
NUISANCE = "the of and to in for".split()


def tiny_config(**overrides):
    from transformers import BertConfig

    values = dict(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )
    values.update(overrides)
    return BertConfig(**values)


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(bundled_model_dir("all-MiniLM-L6-v2")), local_files_only=True)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer) -> Path:
    """A random 2-layer BERT saved as safetensors next to the bundled tokenizer."""
    from transformers import AutoModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-bert")
    AutoModel.from_config(tiny_config()).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def keyword_csv(tmp_path_factory) -> Path:
    rng = random.Random(0)
    path = tmp_path_factory.mktemp("data") / "keywords.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for label, word in enumerate(KEYWORDS):
            for _ in range(24):
                words = [rng.choice(NUISANCE) for _ in range(4)]
                words.insert(rng.randrange(len(words) + 1), word)
                writer.writerow([" ".join(words), f"class_{label:02d}"])
    return path


@pytest.fixture
def tiny_encoder(tokenizer) -> TextEncoder:
    from transformers import AutoModel

    torch.manual_seed(0)
    return TextEncoder(AutoModel.from_config(tiny_config(), attn_implementation="eager"), tokenizer, max_length=16)


def run_config(model_dir: Path, data: Path, method: str, params: dict | None = None, **train) -> "RunConfig":
    from engine.config import RunConfig

    raw = {
        "name": f"test-{method}",
        "dataset": {"path": str(data), "text_column": "text", "label_column": "label"},
        "task": {"mode": "episodic", "n_way": 5, "k_shot": 5, "query": 5, "test_episodes": 10, "val_episodes": 4, "meta_test_fraction": 0.4},
        "model": {"name": str(model_dir), "max_length": 16},
        "method": {"name": method, "params": params or {}},
        "train": {"episodes": 2, "eval_every": 1, "device": "cpu", "seed": 0} | train,
    }
    return RunConfig.from_dict(raw)
