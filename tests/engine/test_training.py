"""Training really trains: losses fall, results are stored, supervised learns a known answer.

(That meta-training transfers to held-out classes is shown on the real model by the
quickstart and, per method, by tests/engine/methods.)"""

import pytest

from engine.config import RunConfig
from engine.store import Store
from engine.training.runner import run_experiment
from tests.conftest import tiny_config_text


@pytest.mark.slow
@pytest.mark.parametrize("method, mode", [("protonet", "episodic"), ("finetune", "episodic"), ("finetune", "supervised")])
def test_tiny_model_learns_the_keyword_task(tmp_path, tiny_model, keyword_csv, method, mode):
    steps = 40 if mode == "episodic" else 120  # supervised: 20 classes from a random start
    config = RunConfig.from_toml(tiny_config_text(tiny_model, keyword_csv, method=method, episodes=steps))
    config = config.with_values(
        {"task.mode": mode, "train.eval_untrained": True, "method.params.lr": 2e-3, "method.params.warmup_fraction": 0.0,
         "task.test_episodes": 30, "train.eval_every": steps // 2}
    )
    db = tmp_path / "runs.db"
    outcome = run_experiment(config, db_path=db)
    final = outcome.final_metrics
    assert outcome.status == "finished"
    with Store(db) as store:
        val = [m["value"] for m in store.metrics(outcome.run_id, "val_accuracy")]
        assert len(val) == 2
        if mode == "episodic":
            assert len(store.episodes(outcome.run_id, "test")) == 30
            assert len(store.episodes(outcome.run_id, "untrained")) == 30
        losses = [m["value"] for m in store.metrics(outcome.run_id, "train_loss")]
    assert len(losses) == steps
    assert sum(losses[-10:]) < 0.8 * sum(losses[:10]), losses
    if mode == "episodic":
        assert {"untrained_test_accuracy", "gain_over_untrained", "gain_over_untrained_p_value"} <= set(final)
        assert final["test_accuracy"] > 1 / 3  # above chance on held-out classes
    else:
        assert final["test_accuracy"] > 0.6, final  # 20 keyword classes: chance is 0.05
