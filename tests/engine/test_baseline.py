"""The frozen-encoder baseline: right scores on known geometry, the run's own episodes, the CLI."""

import json

import pytest
import torch

from engine.baseline import frozen_baseline, ncm_accuracy, score_episodes
from engine.cli import main
from engine.config import RunConfig
from engine.data import Episode
from engine.store import Store
from engine.training.runner import run_experiment
from engine.tasks import build_task_data
from tests.conftest import tiny_config_text


def unit(*values):
    return torch.nn.functional.normalize(torch.tensor([values], dtype=torch.float), dim=-1)[0]


def test_ncm_sends_each_query_to_the_nearest_class_mean():
    support = torch.stack([unit(1, 0), unit(0.8, 0.2), unit(0, 1), unit(0.2, 0.8)])
    query = torch.stack([unit(0.9, 0.1), unit(0.1, 0.9), unit(0.6, 0.4)])
    # the third query leans to class 0 (mean direction (0.9, 0.1)); labelled 1, it is wrong
    assert ncm_accuracy(support, [0, 0, 1, 1], query, [0, 1, 1], 2) == pytest.approx(2 / 3)


def test_both_references_score_a_separable_episode_perfectly_and_a_swapped_one_at_zero():
    embeddings = {0: unit(1, 0, 0), 1: unit(0.9, 0.1, 0), 2: unit(0, 1, 0), 3: unit(0, 0.9, 0.1),
                  4: unit(0.95, 0.05, 0), 5: unit(0.05, 0.95, 0)}
    right = Episode(0, ("a", "b"), (0, 1, 2, 3), (0, 0, 1, 1), (4, 5), (0, 1))
    swapped = Episode(1, ("a", "b"), (0, 1, 2, 3), (0, 0, 1, 1), (4, 5), (1, 0))
    scores = score_episodes(embeddings, [right, swapped], 2)
    assert scores == {"ncm": [1.0, 0.0], "logreg": [1.0, 0.0]}


@pytest.fixture
def tiny_config(tmp_path, tiny_model, keyword_csv):
    path = tmp_path / "tiny.toml"
    path.write_text(tiny_config_text(tiny_model, keyword_csv))
    return path


def test_baseline_scores_the_runs_test_episodes_and_a_run_records_the_same_reference(tmp_path, tiny_config):
    config = RunConfig.load(tiny_config).with_values({"train.episodes": 2, "train.eval_every": 0})
    result = frozen_baseline(config)
    summary = result.summary()
    assert summary["episodes"] == config.task.test_episodes == len(result.accuracies["logreg"])
    assert 0.0 <= summary["ncm"]["accuracy"] <= 1.0 and summary["ncm"]["ci95"] >= 0.0

    data = build_task_data(config)
    from engine.data import episodes_key

    assert result.episodes_key == episodes_key(data.dataset.fingerprint(), list(data.test_sampler.episodes(config.task.test_episodes)))

    import io
    import json

    stream = io.StringIO()
    outcome = run_experiment(config, db_path=tmp_path / "runs.db", events_stream=stream)
    final = outcome.final_metrics
    # the reference is scored after training (the first point is not kept waiting for it),
    # on a fresh copy of the untouched base model: the same figures as the CLI's
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    first_point = next(i for i, e in enumerate(events) if e["type"] == "metric" and e["name"] == "train_loss")
    reference = next(i for i, e in enumerate(events) if e["type"] == "log" and e["message"].startswith("frozen encoder:"))
    assert first_point < reference
    assert final["baseline_ncm_accuracy"] == pytest.approx(summary["ncm"]["accuracy"])
    assert final["baseline_logreg_accuracy"] == pytest.approx(summary["logreg"]["accuracy"])
    with Store(tmp_path / "runs.db") as store:
        trained = [r["accuracy"] for r in store.episodes(outcome.run_id, "test")]
    gain = sum(trained) / len(trained) - summary["ncm"]["accuracy"]
    assert final["gain_over_baseline_ncm"] == pytest.approx(gain)
    assert "gain_over_baseline_ncm_p_value" in final


def test_cli_baseline_prints_json_and_text(capsys, tiny_config):
    assert main(["baseline", str(tiny_config), "--json", "--episodes", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["episodes"] == 4 and {"ncm", "logreg"} <= set(out)
    assert set(out["ncm"]) == {"accuracy", "ci95"}
    assert main(["baseline", str(tiny_config), "--episodes", "4"]) == 0
    text = capsys.readouterr().out
    assert "nearest class mean" in text and "logistic regression" in text


@pytest.mark.parametrize("extra, message", [
    (["--set", "task.mode=supervised"], "episodic"),
    (["--episodes", "0"], "at least 1"),
])
def test_cli_baseline_refuses_bad_input_in_one_line(capsys, tiny_config, extra, message):
    assert main(["baseline", str(tiny_config), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_baseline_names_a_missing_config(capsys, tmp_path):
    assert main(["baseline", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml" in capsys.readouterr().err


def test_cli_baseline_refuses_token_classification(capsys, tiny_config):
    assert main(["baseline", str(tiny_config), "--set", "task.type=token_classification"]) == 2
    assert "classification" in capsys.readouterr().err
