"""``metalab-engine inspect``: embedding maps and confusion matrices of a finished run."""

from __future__ import annotations

import json

import pytest

from engine.inspection import confusion, inspect_run
from tests.conftest import run_cli

# The first test to ask for ``every_method_runs`` trains seven runs: minutes on a loaded machine.
pytestmark = pytest.mark.timeout(1200)


def test_confusion_counts_rows_as_true_classes_and_gives_per_class_accuracy():
    table = confusion([("a", "a"), ("a", "b"), ("b", "b"), ("b", "b"), ("a", "a")], ["a", "b", "c"])
    assert table["matrix"] == [[2, 1, 0], [0, 2, 0], [0, 0, 0]]
    assert table["per_class_accuracy"] == {"a": 2 / 3, "b": 1.0, "c": None}
    assert table["accuracy"] == 4 / 5 and table["queries"] == 5


@pytest.mark.parametrize("method", ["protonet", "maml"])
def test_inspect_recomputes_the_runs_own_meta_test(every_method_runs, method):
    db, runs = every_method_runs
    from engine.store import Store

    with Store(db, readonly=True) as store:
        stored = {r["episode"]: r["accuracy"] for r in store.episodes(runs[method], split="test")}
    result = inspect_run(db, runs[method], episode=1, projection="tsne")
    n_way, k_shot, query = 3, 2, 3  # tests.conftest.tiny_config_text
    assert result["classes"] and len(result["classes"]) == n_way
    examples = result["examples"]
    assert [e["role"] for e in examples] == ["support"] * n_way * k_shot + ["query"] * n_way * query
    for name in ("before", "after"):
        view = result["views"][name]
        assert len(view["xy"]) == len(examples)
        for example, answer, wrong in zip(examples, view["predicted"], view["wrong"], strict=True):
            assert (answer is None) == (example["role"] == "support")
            assert wrong == (answer is not None and answer != example["label"])
    # The episode's confusion is the trained model's answers, which the run itself scored.
    episode_table = result["confusion"]["episode"]
    assert episode_table["accuracy"] == pytest.approx(stored[1]) == pytest.approx(result["views"]["after"]["accuracy"])
    assert result["stored_accuracy"] == pytest.approx(stored[1])
    assert sum(map(sum, episode_table["matrix"])) == n_way * query
    # Every episode has as many queries: the aggregate accuracy is the mean of the stored ones.
    overall = result["confusion"]["all"]
    assert overall["episodes"] == len(stored)
    assert overall["accuracy"] == pytest.approx(sum(stored.values()) / len(stored))
    counts = [sum(row) for row in overall["matrix"]]
    assert sum(counts) == len(stored) * n_way * query
    for label, row, acc in zip(overall["classes"], overall["matrix"], overall["per_class_accuracy"].values(), strict=True):
        assert acc == (pytest.approx(row[overall["classes"].index(label)] / sum(row)) if sum(row) else None)


def test_inspect_json_from_the_cli_and_its_cache(every_method_runs):
    db, runs = every_method_runs
    run_id = runs["anil"]
    cache = db.parent / "artifacts" / run_id / "inspect" / "test_predictions.json"
    cache.unlink(missing_ok=True)
    first = run_cli("inspect", run_id[:8], "--db", str(db), "--episode", "0", "--projection", "tsne", "--json")
    assert first.returncode == 0, first.stderr
    answer = json.loads(first.stdout)
    assert answer["run_id"] == run_id and answer["episode"] == 0 and answer["projection"] == "tsne"
    assert set(answer["views"]) == {"before", "after"} and set(answer["confusion"]) == {"episode", "all"}
    assert "progress: 8/8 meta-test episodes" in first.stderr
    assert len(json.loads(cache.read_text())["predicted"]) == 8
    # Another episode of the same weights reads the predictions back instead of adapting again.
    second = run_cli("inspect", run_id, "--db", str(db), "--episode", "3", "--projection", "tsne", "--json")
    assert second.returncode == 0, second.stderr
    assert "progress:" not in second.stderr
    assert json.loads(second.stdout)["confusion"]["all"] == answer["confusion"]["all"]


def test_inspect_bad_input_is_one_line(every_method_runs, tmp_path):
    db, runs = every_method_runs
    result = run_cli("inspect", runs["protonet"], "--db", str(db), "--episode", "99")
    assert result.returncode == 2 and "episodes 0 to 7" in result.stderr and "Traceback" not in result.stderr
    from engine.store import Store

    with Store(db) as store:
        queued = store.create_run({"name": "q", "method": {"name": "protonet"}}, status="queued")
    try:
        result = run_cli("inspect", queued, "--db", str(db))
        assert result.returncode == 2 and "only finished runs" in result.stderr and "Traceback" not in result.stderr
    finally:
        with Store(db) as store:
            store.delete_run(queued)


REQUEST = {"support": [{"text": "apple pie with apple", "label": "fruit"}, {"text": "an apple tart", "label": "fruit"},
                       {"text": "the river flows", "label": "water"}, {"text": "river water here", "label": "water"}],
           "query": ["apple juice please", "by the river bank"]}


def test_explain_splits_the_change_in_probability_among_the_words(every_method_runs):
    """Integrated gradients are complete: the words' scores add up to p(label | text) - p(label | no words)."""
    import torch
    import torch.nn.functional as F

    from engine.inference import load_trained_encoder, predict
    from engine.inspection import explain

    db, runs = every_method_runs
    encoder = load_trained_encoder(db, runs["maml"])  # LoRA scope, folded into the encoder
    answer = predict(encoder, REQUEST)
    explain(encoder, REQUEST, answer, steps=64)
    tokenizer = encoder.tokenizer
    for prediction in answer["predictions"]:
        words = prediction["words"]
        assert [w["text"] for w in words] == prediction["text"].split()
        assert all(prediction["text"][w["start"]:w["end"]] == w["text"] for w in words)
        assert max(abs(w["weight"]) for w in words) == pytest.approx(1.0)
        # p(label) for the text and for the baseline (word tokens replaced by padding).
        ids = tokenizer(prediction["text"], truncation=True, max_length=encoder.max_length)["input_ids"]
        special = tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)
        baseline = [i if s else tokenizer.pad_token_id for i, s in zip(ids, special, strict=True)]
        probability = {}
        for name, seq in (("text", ids), ("baseline", baseline)):
            with torch.no_grad():
                support = F.normalize(encoder(**encoder.collate(encoder.tokenize([s["text"] for s in REQUEST["support"]]))), dim=-1)
                means = F.normalize(torch.stack([support[:2].mean(0), support[2:].mean(0)]), dim=-1)
                query = F.normalize(encoder(**encoder.collate([seq])), dim=-1)
                probs = torch.softmax(answer["temperature"] * query @ means.T, dim=-1)[0]
            probability[name] = float(probs[answer["classes"].index(prediction["label"])])
        assert probability["text"] == pytest.approx(prediction["probabilities"][prediction["label"]], abs=1e-4)
        total = sum(w["score"] for w in words)
        assert total == pytest.approx(probability["text"] - probability["baseline"], abs=max(2 * prediction["delta"], 1e-3))


def test_predict_explain_from_the_cli(every_method_runs, tmp_path):
    db, runs = every_method_runs
    (tmp_path / "request.json").write_text(json.dumps(REQUEST))
    result = run_cli("predict", runs["protonet"], "--db", str(db), "--input", str(tmp_path / "request.json"), "--explain")
    assert result.returncode == 0, result.stderr
    for prediction, text in zip(json.loads(result.stdout)["predictions"], REQUEST["query"], strict=True):
        assert [w["text"] for w in prediction["words"]] == text.split()
        assert all(-1.0 <= w["weight"] <= 1.0 for w in prediction["words"])
