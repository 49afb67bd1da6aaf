"""Token classification through every method that serves it: a tiny model learns a
synthetic NER task, and every method's default run (classification and NER) predicts
and exports."""

from __future__ import annotations

import pytest
import torch

from engine.config import RunConfig
from engine.catalog import all_specs
from engine.training.runner import run_experiment

from .conftest import ner_run_config

NER_METHODS = sorted(s.name for s in all_specs() if "token_classification" in s.tasks)

# Settings that learn the synthetic NER task in 40 steps with the tiny model. Measured gains
# in entity F1 over the untrained start on the same 10 episodes: +0.13 to +0.34. Reptile with
# the top two layers (its classification setting) un-learned here (-0.05 to -0.11 at lr 0.3
# and 1.0, inner_lr 0.02 and 0.1); adapting every weight with 3 smaller inner steps learns
# (+0.32; its untrained start scores 0: 3 steps on all weights of a random model destroy it).
LEARNING = {
    "protonet": {"lr": 1e-3},
    "nnshot": {"lr": 1e-3},
    "finetune": {"lr": 3e-3},
    "anil": {"lr": 1e-3},
    "maml": {"lr": 1e-3, "scope": "top_k_layers", "inner_lr": 0.05},
    "fomaml": {"lr": 1e-3, "scope": "top_k_layers", "inner_lr": 0.05},
    "metasgd": {"lr": 1e-3, "scope": "top_k_layers", "inner_lr": 0.05},
    "reptile": {"lr": 1.0, "scope": "all", "inner_lr": 0.05, "inner_steps": 3},
}


def test_every_ner_method_has_learning_settings():
    assert set(NER_METHODS) <= set(LEARNING)


@pytest.mark.slow
@pytest.mark.parametrize("method", NER_METHODS)
def test_a_tiny_model_learns_few_shot_ner(method, tiny_model_dir, ner_jsonl, tmp_path):
    config = ner_run_config(tiny_model_dir, ner_jsonl, method, LEARNING[method], episodes=40, eval_every=0, eval_untrained=True)
    final = run_experiment(config, db_path=tmp_path / "runs.db").final_metrics
    assert final["headline_metric"] == "test_f1"
    assert final["test_f1"] > final["untrained_test_f1"] + 0.05, final
    assert final["gain_over_untrained_p_value"] < 0.05, final


def _default_run(method: str, task_type: str, model_dir, keyword_csv, ner_jsonl, db):
    ner = task_type == "token_classification"
    raw = {
        "name": f"default-{method}",
        "dataset": {"path": str(ner_jsonl if ner else keyword_csv)},
        "task": {"type": task_type, "n_way": 3, "k_shot": 2, "query": 3, "test_episodes": 2, "val_episodes": 1, "meta_test_fraction": 0.4},
        "model": {"name": str(model_dir), "max_length": 24},
        "method": {"name": method},  # the method's defaults: maml's scope is lora
        "train": {"episodes": 1, "eval_every": 0, "device": "cpu", "seed": 0},
    }
    outcome = run_experiment(RunConfig.from_dict(raw), db_path=db)
    assert outcome.status == "finished"
    return outcome.run_id


@pytest.mark.parametrize(
    # Decoder tasks (language_modeling) and decoder-only methods (icl, metaicl) have their own default
    # runs in tests/engine/test_language_modeling.py and tests/engine/methods/test_icl.py.
    "method,task_type",
    [(s.name, t) for s in all_specs() if "encoder" in s.model_kinds for t in s.tasks if t != "language_modeling"],
    ids=lambda v: v
)
def test_every_default_run_predicts_and_exports(method, task_type, tiny_model_dir, keyword_csv, ner_jsonl, tmp_path):
    from transformers import AutoModel

    from engine.export import export_model
    from engine.inference import load_trained_encoder, predict

    db = tmp_path / "runs.db"
    run_id = _default_run(method, task_type, tiny_model_dir, keyword_csv, ner_jsonl, db)
    encoder = load_trained_encoder(db, run_id)
    if task_type == "token_classification":
        request = {"support": [{"tokens": ["we", "saw", "paris", "and", "tiger"], "tags": ["O", "O", "B-city", "O", "B-animal"]}],
                   "query": ["near london some lion", "the of"]}
        result = predict(encoder, request)
        assert result["types"] == ["animal", "city"]
        assert [p["tokens"] for p in result["predictions"]] == [q.split() for q in request["query"]]
        assert all(len(p["tags"]) == len(p["tokens"]) for p in result["predictions"])
    else:
        request = {"support": [{"text": "apple pie", "label": "fruit"}, {"text": "river water", "label": "water"}],
                   "query": ["apple juice"]}
        assert predict(encoder, request)["classes"] == ["fruit", "water"]
    out = export_model(db, run_id, tmp_path / "hf")
    exported = AutoModel.from_pretrained(out, use_safetensors=True).eval()
    batch = encoder.collate(encoder.tokenize(["apple pie by the river"]))
    with torch.no_grad():
        expected = encoder.backbone(**batch).last_hidden_state
        got = exported(**batch).last_hidden_state
    assert torch.allclose(expected, got, atol=1e-5)  # the export is the trained (merged) encoder


def test_supervised_token_head_scores_entities_on_test_sentences(tiny_model_dir, ner_jsonl, tmp_path):
    from engine.store import Store

    config = ner_run_config(tiny_model_dir, ner_jsonl, "finetune", {"lr": 3e-3}, episodes=3, eval_every=2)
    config = config.with_values({"task.mode": "supervised"})
    outcome = run_experiment(config, db_path=tmp_path / "runs.db")
    final = outcome.final_metrics
    assert outcome.status == "finished" and final["headline_metric"] == "test_f1"
    assert 0.0 <= final["test_f1"] <= 1.0 and final["test_f1_ci95"] is None
    assert {"test_precision", "test_recall", "test_loss", "test_accuracy"} <= set(final)
    with Store(tmp_path / "runs.db") as store:
        assert {"val_f1", "val_precision", "val_recall", "train_loss"} <= set(store.metric_names(outcome.run_id))


@pytest.mark.slow
def test_a_stopped_lora_ner_run_resumes_as_if_unbroken(tiny_model_dir, ner_jsonl, tmp_path):
    from engine.store import Store
    from engine.training.continuation import resume_run
    from tests.engine.test_continuation import StopAfter

    db = tmp_path / "runs.db"
    config = ner_run_config(tiny_model_dir, ner_jsonl, "maml", {"lr": 1e-3, "train_query": 2}, episodes=4, eval_every=0, checkpoint_every=2)
    assert config.method.params["scope"] == "lora"  # the default: the saved model has adapters
    unbroken = run_experiment(config, db_path=db)
    stopped = run_experiment(config, db_path=db, stop=StopAfter(2))
    resumed = resume_run(stopped.run_id, db_path=db)
    assert resumed.status == "finished"
    with Store(db) as store:
        losses = [m["value"] for m in store.metrics(resumed.run_id, "train_loss")]
        expected = [m["value"] for m in store.metrics(unbroken.run_id, "train_loss")]
    assert losses == pytest.approx(expected, rel=1e-5)
    assert resumed.final_metrics["test_f1"] == pytest.approx(unbroken.final_metrics["test_f1"])
