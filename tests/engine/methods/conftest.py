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


@pytest.fixture(scope="session")
def tiny_decoder_dir(tmp_path_factory) -> Path:
    """A random 2-layer GPT-2 with the bundled tokenizer (``engine.models.tiny``), for the
    methods that need a decoder (``icl``, ``metaicl``)."""
    from engine.models.tiny import build_tiny_decoder

    return build_tiny_decoder(tmp_path_factory.mktemp("tiny-gpt2"))


def decoder_only(method: str) -> bool:
    from engine.catalog import get

    return "encoder" not in get(method).model_kinds


# What a decoder-only method's classification run changes: its model, and a prompt that fits
# the tiny decoder's context (one demonstration per class).
DECODER_RUN = {"model.max_length": 128, "task.k_shot": 1}


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


# A synthetic NER task: each entity type owns four words; an entity is one or two of its
# type's words among filler words shared by every sentence. Held-out types' words are new
# to the model, so what transfers is telling entity words from filler and one type's
# words from another's.
ENTITY_WORDS = {
    "fruit": "apple banana cherry grape", "water": "river lake ocean stream", "music": "violin piano guitar drum",
    "animal": "tiger lion zebra horse", "city": "paris london berlin tokyo", "colour": "red blue green yellow",
    "job": "doctor nurse teacher lawyer", "day": "monday tuesday friday sunday", "metal": "copper iron silver gold",
    "sport": "soccer tennis golf hockey", "flower": "rose tulip lily daisy", "tool": "hammer wrench drill saw",
}
FILLER = "the of and to in for with on at by from we saw some very near".split()


def write_ner_jsonl(path: Path, *, sentences: int = 480, seed: int = 0) -> Path:
    import json

    rng = random.Random(seed)
    types = sorted(ENTITY_WORDS)
    with path.open("w") as handle:
        for _ in range(sentences):
            tokens = [rng.choice(FILLER) for _ in range(rng.randint(4, 7))]
            tags = ["O"] * len(tokens)
            for kind in rng.sample(types, rng.randint(1, 2)):
                words = rng.sample(ENTITY_WORDS[kind].split(), rng.choice((1, 1, 2)))
                # Never inside another entity: before a B- or an O, or at the end.
                at = rng.choice([i for i in range(len(tokens) + 1) if i == len(tokens) or not tags[i].startswith("I-")])
                tokens[at:at] = words
                tags[at:at] = [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
            handle.write(json.dumps({"tokens": tokens, "tags": tags}) + "\n")
    return path


@pytest.fixture(scope="session")
def ner_jsonl(tmp_path_factory) -> Path:
    return write_ner_jsonl(tmp_path_factory.mktemp("ner") / "entities.jsonl")


def ner_run_config(model_dir: Path, data: Path, method: str, params: dict | None = None, **train) -> "RunConfig":
    from engine.config import RunConfig

    raw = {
        "name": f"test-ner-{method}",
        "dataset": {"path": str(data)},
        "task": {"type": "token_classification", "mode": "episodic", "n_way": 3, "k_shot": 2, "query": 3,
                 "test_episodes": 10, "val_episodes": 3, "meta_test_fraction": 0.4},
        "model": {"name": str(model_dir), "max_length": 32},
        "method": {"name": method, "params": params or {}},
        "train": {"episodes": 2, "eval_every": 1, "device": "cpu", "seed": 0} | train,
    }
    return RunConfig.from_dict(raw)
