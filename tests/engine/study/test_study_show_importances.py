"""#27.10a: ``study show`` of a large study computes no importances unless asked, and on
request fits them on a bounded random sample of the complete trials."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.study._report import IMPORTANCE_SAMPLE
from tests.study_fill import fill_study

N_TRIALS = 2_000  # 1,800 complete: more than the sample


@pytest.fixture(scope="module")
def big_study(tmp_path_factory):
    return fill_study(tmp_path_factory.mktemp("big") / "studies.journal", N_TRIALS)


@pytest.fixture
def fitted(monkeypatch):
    """Stands in for Optuna's importance fit and records the complete trials of each study it is given."""
    import optuna.importance
    from optuna.trial import TrialState

    seen: list[list[int]] = []

    def record(study, evaluator=None, **_):
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        seen.append([int(t.user_attrs["run_id"], 16) for t in trials])  # a copied trial is renumbered; its run id is not
        return {"method.params.lr": 0.9, "method.params.temperature": 0.1}

    monkeypatch.setattr(optuna.importance, "get_param_importances", record)
    return seen


def test_study_show_computes_no_importances_unless_asked(big_study, fitted, capsys):
    assert main(["study", "show", "big", "--storage", big_study, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert fitted == [] and shown["importances"] == {} and shown["importances_computed"] is False
    assert len(shown["trials"]) == N_TRIALS and shown["counts"] == {"complete": 1800, "pruned": 200}
    assert main(["study", "show", "big", "--storage", big_study]) == 0
    assert "parameter importances: not computed (add --importances)" in capsys.readouterr().out and fitted == []


def test_importances_on_request_use_a_bounded_sample(big_study, fitted, capsys):
    assert main(["study", "show", "big", "--storage", big_study, "--importances", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    (numbers,) = fitted
    complete = {t["number"] for t in shown["trials"] if t["state"] == "complete"}
    assert len(numbers) == IMPORTANCE_SAMPLE == 1000 and len(set(numbers)) == len(numbers) and set(numbers) <= complete
    assert numbers != sorted(complete)[:IMPORTANCE_SAMPLE]  # drawn across the study, not its first trials
    assert shown["importances_computed"] is True and shown["importance_sample"] == {"used": 1000, "of": 1800}
    assert shown["importances"] == {"method.params.lr": 0.9, "method.params.temperature": 0.1}
    assert main(["study", "show", "big", "--storage", big_study, "--importances"]) == 0
    assert "on 1,000 complete trials, a random sample of 1,800" in capsys.readouterr().out
    assert fitted[1] == numbers  # the same sample each time (seeded)
