"""Shared fixtures: a tiny random BERT with the bundled tokenizer, small datasets, temp DBs."""

from __future__ import annotations

import csv
import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tiny test models are all overhead: one thread avoids oversubscribed spinning when the
# machine is shared (measured 7x faster per step here), and subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory, monkeypatch):
    """No test touches the user's real data folder."""
    data = tmp_path_factory.mktemp("metalab-data")
    monkeypatch.setenv("METALAB_DATA", str(data))
    monkeypatch.setenv("METALAB_DB", str(data / "metalab.db"))


def make_tiny_model(folder: Path, *, hidden: int = 32, layers: int = 2, dropout: float = 0.1) -> Path:
    """A randomly initialised 2-layer BERT saved as safetensors, with the bundled tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    from engine.models.loading import bundled_model_dir

    source = bundled_model_dir("all-MiniLM-L6-v2")
    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=hidden * 2, max_position_embeddings=128,
        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
    )
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


def write_keyword_dataset(path: Path, *, classes: int = 20, per_class: int = 24, seed: int = 0) -> Path:
    """Each class is marked by its own keyword among many shared filler words.

    The answer is known, and it transfers: meta-training teaches the encoder to ignore the
    filler, which helps on held-out classes whose keywords it never saw.
    """
    import random

    rng = random.Random(seed)
    keywords = ["apple", "river", "engine", "violin", "castle", "pepper", "rocket", "forest", "silver", "tiger",
                "candle", "desert", "harbor", "lemon", "marble", "nickel", "orchid", "pillow", "quartz", "saddle"]
    filler = ("please the a today maybe quick note about my with some again here there when what could would "
              "should very just really also still only then now soon later often never always").split()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for c in range(classes):
            for i in range(per_class):
                words = rng.sample(filler, 6) + [keywords[c]]
                rng.shuffle(words)
                writer.writerow([" ".join(words) + f" {i}", f"class_{c}"])
    return path


@pytest.fixture
def keyword_csv(tmp_path) -> Path:
    return write_keyword_dataset(tmp_path / "keywords.csv")


def tiny_config_text(model: Path, dataset: Path, *, method: str = "protonet", episodes: int = 6, **extra: str) -> str:
    lines = [
        'name = "tiny"',
        "[dataset]",
        f'path = "{dataset}"',
        "[task]",
        "n_way = 3", "k_shot = 2", "query = 3", "test_episodes = 8", "val_episodes = 3", "meta_test_fraction = 0.4",
        "[model]",
        f'name = "{model}"',
        "max_length = 16",
        "[method]",
        f'name = "{method}"',
        "[train]",
        f"episodes = {episodes}", "eval_every = 3", 'device = "cpu"', "seed = 0",
    ]
    return "\n".join(lines) + "\n"


def train_every_method(folder: Path, model: Path, *, episodes: int = 4) -> tuple[Path, dict[str, str]]:
    """A database with one finished run of every method at its default settings (MAML's
    default scope is LoRA), trained in this process on the tiny model: {method: run id}.
    Methods that need a decoder (icl, metaicl) have theirs in tests/engine/methods/test_icl.py."""
    from engine.config import RunConfig
    from engine.catalog import all_specs
    from engine.training.runner import run_experiment

    dataset = write_keyword_dataset(folder / "keywords.csv")
    db = folder / "runs.db"
    runs = {}
    for spec in (s for s in all_specs() if "encoder" in s.model_kinds):
        path = folder / f"{spec.name}.toml"
        path.write_text(tiny_config_text(model, dataset, method=spec.name, episodes=episodes))
        config = RunConfig.load(path).with_values({"name": f"tiny {spec.name}"})
        outcome = run_experiment(config, db_path=db)
        assert outcome.status == "finished", (spec.name, outcome)
        runs[spec.name] = outcome.run_id
    return db, runs


@pytest.fixture(scope="session")
def every_method_runs(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """One finished tiny run of every method, shared by the whole session (read, never changed).

    Trained in a subprocess, so GUI tests that use it keep torch out of their own process."""
    import json
    import subprocess

    folder = tmp_path_factory.mktemp("every-method")
    script = (
        "import json, sys; from pathlib import Path; from tests.conftest import make_tiny_model, train_every_method; "
        "folder = Path(sys.argv[1]); db, runs = train_every_method(folder, make_tiny_model(folder / 'tiny-bert')); "
        "print(json.dumps(runs))"
    )
    result = subprocess.run([sys.executable, "-c", script, str(folder)], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "runs.db", json.loads(result.stdout.strip().splitlines()[-1])


def run_cli(*args: str, cwd: Path = REPO, env: dict | None = None, timeout: float = 240):
    import subprocess

    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
