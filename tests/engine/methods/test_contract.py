"""Every registered method runs a couple of steps through the runner into a temporary DB."""

from __future__ import annotations

import pytest

from engine.catalog import all_specs
from engine.store import Store
from engine.training.runner import run_experiment

from .conftest import DECODER_RUN, decoder_only, run_config

EPISODIC = [spec.name for spec in all_specs() if "episodic" in spec.modes]
FAST = {"train_query": 2}


def _params(name: str) -> dict:
    params = dict(FAST) if "train_query" in {p.name for p in next(s for s in all_specs() if s.name == name).params} else {}
    return params


@pytest.mark.parametrize("method", EPISODIC)
def test_method_runs_through_the_runner(method, tiny_model_dir, keyword_csv, tmp_path, request):
    db = tmp_path / "runs.db"
    config = run_config(tiny_model_dir, keyword_csv, method, _params(method))
    if decoder_only(method):  # in-context learning: a decoder and a prompt that fits it
        config = config.with_values({"model.name": str(request.getfixturevalue("tiny_decoder_dir")), **DECODER_RUN})
    outcome = run_experiment(config, db_path=db)
    assert outcome.status == "finished"
    with Store(db) as store:
        run = store.get_run(outcome.run_id)
        assert run["status"] == "finished"
        episodes = store.episodes(outcome.run_id)
    assert len(episodes) == 10
    assert 0.0 <= outcome.final_metrics["test_accuracy"] <= 1.0


@pytest.mark.parametrize("scope", ["head", "top_k_layers", "lora", "all"])
@pytest.mark.parametrize("method", ["maml", "fomaml", "metasgd", "reptile"])
def test_every_scope_runs(method, scope, tiny_model_dir, keyword_csv, tmp_path):
    if method == "reptile" and scope == "head":
        pytest.skip("reptile meta-learns the adapted weights: no head-only scope")
    config = run_config(tiny_model_dir, keyword_csv, method, {**FAST, "scope": scope}, episodes=1, eval_every=0)
    outcome = run_experiment(config, db_path=tmp_path / "runs.db")
    assert outcome.status == "finished"


def test_maml_family_reports_its_inner_loop(tiny_model_dir, keyword_csv, tmp_path):
    db = tmp_path / "runs.db"
    config = run_config(tiny_model_dir, keyword_csv, "maml", {**FAST, "inner_steps_test": 2}, episodes=2, eval_every=1)
    outcome = run_experiment(config, db_path=db)
    with Store(db) as store:
        names = set(store.metric_names(outcome.run_id))
    for name in (
        "inner_query_accuracy_before", "inner_query_accuracy_after", "inner_query_loss_before",
        "inner_query_loss_after", "inner_support_loss_step_0", "inner_support_loss_step_2",
    ):
        assert name in names
