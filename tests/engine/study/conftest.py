"""Fixtures for study tests: a tiny random BERT with the bundled tokenizer, a fast run config."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TINY_RUN = """\
name = "tiny"
[task]
mode = "episodic"
n_way = 5
k_shot = 2
query = 2
test_episodes = 2
val_episodes = 2
[model]
name = "{model}"
max_length = 12
[method]
name = "protonet"
[method.params]
lr = 1e-3
[train]
episodes = 4
eval_every = 2
device = "cpu"
"""


@pytest.fixture(scope="session")
def study_tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import transformers

    from engine.models.loading import bundled_model_dir

    source = bundled_model_dir("all-MiniLM-L6-v2")
    folder = tmp_path_factory.mktemp("study-tiny-bert")
    tokenizer = transformers.AutoTokenizer.from_pretrained(source)
    config = transformers.BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=len(tokenizer)
    )
    transformers.BertModel(config).save_pretrained(folder, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    return folder


@pytest.fixture
def study_dir(tmp_path: Path, study_tiny_model: Path) -> Path:
    """A folder with ``tiny.toml`` (a run config of a few seconds) for study files to name."""
    (tmp_path / "tiny.toml").write_text(TINY_RUN.format(model=study_tiny_model), encoding="utf-8")
    return tmp_path
