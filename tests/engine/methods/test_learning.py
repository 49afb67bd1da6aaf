"""Each method learns: meta-test accuracy beats its untrained start on the keyword task;
LoRA scope never moves the base weights."""

from __future__ import annotations

import pytest
import torch

from engine.training.runner import run_experiment

from .test_gradients import make_method
from .conftest import run_config

# Settings that learn the keyword task in a few seconds with the tiny model.
LEARNING = {
    "protonet": {"lr": 1e-3, "train_query": 3},
    "finetune": {"lr": 3e-3, "batch_size": 64},
    "maml": {"lr": 1e-3, "scope": "top_k_layers", "inner_lr": 0.05, "train_query": 3},
    "fomaml": {"lr": 1e-3, "scope": "top_k_layers", "inner_lr": 0.05, "train_query": 3},
    "anil": {"lr": 1e-3, "train_query": 3},
    "metasgd": {"lr": 1e-3, "scope": "top_k_layers", "inner_lr": 0.05, "train_query": 3},
    "reptile": {"lr": 0.5, "scope": "top_k_layers", "top_k": 2, "inner_lr": 0.05, "train_query": 3},
}


# Known misses, kept visible: on this task Reptile's interpolation and the fine-tuning
# baseline do not beat the untrained start within 40 steps (see docs/BENCHMARKS.md).
NOT_YET = {"reptile", "finetune"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "method",
    [pytest.param(m, marks=pytest.mark.xfail(reason="does not learn the keyword task in 40 steps", strict=False)) if m in NOT_YET else m for m in sorted(LEARNING)],
)
def test_meta_training_beats_the_untrained_start(method, tiny_model_dir, keyword_csv, tmp_path):
    config = run_config(
        tiny_model_dir, keyword_csv, method, LEARNING[method], episodes=40, eval_every=0, eval_untrained=True,
    )
    outcome = run_experiment(config, db_path=tmp_path / "runs.db")
    final = outcome.final_metrics
    assert final["test_accuracy"] > final["untrained_test_accuracy"] + 0.1, final


@pytest.mark.parametrize("name", ["maml", "fomaml", "metasgd", "reptile"])
def test_lora_scope_leaves_base_weights_bit_identical(name, tiny_encoder, keyword_csv, tiny_model_dir):
    method, _ = make_method(name, tiny_encoder, keyword_csv, tiny_model_dir, scope="lora", lr=1e-2, inner_lr=0.1)
    base = {n: p.detach().clone() for n, p in method.encoder.named_parameters() if "lora_" not in n}
    lora = {n: p.detach().clone() for n, p in method.encoder.named_parameters() if "lora_" in n}
    assert lora
    for step in range(1, 4):
        method.train_step(step)
    after = dict(method.encoder.named_parameters())
    assert all(torch.equal(after[n], value) for n, value in base.items())
    assert any(not torch.equal(after[n], value) for n, value in lora.items())
