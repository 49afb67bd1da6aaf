"""Paired statistics against hand-computed numbers, and the unpaired fallback."""

import json
import math

import pytest

from engine.cli import main
from engine.compare import compare_runs
from engine.stats import mean_ci, paired_difference, unpaired_difference
from engine.store import Store

CONFIG = {"name": "r", "method": {"name": "protonet"}, "task": {"mode": "episodic", "n_way": 5, "k_shot": 1}}


def test_mean_ci_by_hand():
    mean, half = mean_ci([0.5, 0.7, 0.9])
    # sd = 0.2, sem = 0.2/sqrt(3), t(0.975, 2) = 4.302652729911275
    assert mean == pytest.approx(0.7)
    assert half == pytest.approx(4.302652729911275 * 0.2 / math.sqrt(3))
    assert mean_ci([0.4]) == (0.4, 0.0)


def test_paired_difference_by_hand():
    a = [0.6, 0.7, 0.8, 0.5]
    b = [0.7, 0.9, 0.8, 0.7]  # differences 0.1, 0.2, 0.0, 0.2: mean 0.125, sd 0.0957427
    result = paired_difference(a, b)
    sd = math.sqrt(sum((d - 0.125) ** 2 for d in (0.1, 0.2, 0.0, 0.2)) / 3)
    t = 0.125 / (sd / 2)
    assert result["n"] == 4 and result["paired"]
    assert result["mean_diff"] == pytest.approx(0.125)
    assert result["ci95"] == pytest.approx(3.182446305284263 * sd / 2)
    from scipy import stats

    assert result["p_value"] == pytest.approx(2 * stats.t.sf(t, 3))


def test_unpaired_is_welch():
    from scipy import stats

    a, b = [0.1, 0.2, 0.3], [0.4, 0.5, 0.7, 0.9]
    result = unpaired_difference(a, b)
    assert not result["paired"] and result["mean_diff"] == pytest.approx(0.625 - 0.2)
    assert result["p_value"] == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue)


def test_library_intervals_pin_the_textbook_numbers():
    """scipy's confidence_interval() gives the hand formulas' numbers (t quantile x standard error,
    Welch-Satterthwaite degrees of freedom) to 1e-15, and these pinned values."""
    from scipy import stats

    a = [0.6, 0.7, 0.8, 0.5, 0.9, 0.65]
    b = [0.7, 0.75, 0.8, 0.6, 0.95, 0.6]
    c = [0.55, 0.9, 0.7, 0.8]

    def by_hand(values):
        n = len(values)
        mean = sum(values) / n
        sem = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)
        return mean, stats.t.ppf(0.975, n - 1) * sem

    mean, half = mean_ci(a)
    assert abs(half - by_hand(a)[1]) < 1e-15 and half == pytest.approx(0.14995060707878505, abs=1e-15)
    paired = paired_difference(a, b)
    assert abs(paired["ci95"] - by_hand([y - x for x, y in zip(a, b)])[1]) < 1e-15
    assert paired["ci95"] == pytest.approx(0.06134188458524871, abs=1e-15)
    assert paired["p_value"] == pytest.approx(0.1412347731762618, abs=1e-15)
    welch = unpaired_difference(a, c)
    va, vc = (by_hand(a)[1] / stats.t.ppf(0.975, 5)) ** 2, (by_hand(c)[1] / stats.t.ppf(0.975, 3)) ** 2
    dof = (va + vc) ** 2 / (va**2 / 5 + vc**2 / 3)
    assert abs(welch["ci95"] - stats.t.ppf(0.975, dof) * math.sqrt(va + vc)) < 1e-15
    assert welch["ci95"] == pytest.approx(0.2286813024514034, abs=1e-15)
    assert welch["p_value"] == pytest.approx(0.6447519878142617, abs=1e-15)
    assert paired_difference([0.5, 0.5], [0.7, 0.7])["ci95"] == 0.0  # no spread: a certain difference


def _run(store, key, accuracies):
    run_id = store.create_run(CONFIG)
    store.add_episodes(run_id, [{"episode": i, "accuracy": a, "key": f"e{i}"} for i, a in enumerate(accuracies)])
    store.update_run(run_id, episodes_key=key, status="finished")
    return run_id


def test_compare_pairs_only_identical_episodes(tmp_path, capsys):
    db = tmp_path / "runs.db"
    with Store(db) as store:
        ref = _run(store, "K", [0.6, 0.7, 0.8, 0.5])
        same = _run(store, "K", [0.7, 0.9, 0.8, 0.7])
        other = _run(store, "OTHER", [0.9, 0.9, 0.8, 0.9])
        result = compare_runs(store, ref, [same, other])
    paired, unpaired = result["comparisons"]
    assert paired["paired"] and paired["n"] == 4 and paired["mean_diff"] == pytest.approx(0.125)
    assert not unpaired["paired"] and "different episodes" in unpaired["reason"]
    assert result["runs"][0]["metrics"]["test_accuracy"]["mean"] == pytest.approx(0.65)

    assert main(["runs", "compare", ref, same, other, "--db", str(db), "--json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert [c["paired"] for c in as_json["comparisons"]] == [True, False]
    assert {"mean_diff", "ci95", "p_value", "n"} <= set(as_json["comparisons"][0])
