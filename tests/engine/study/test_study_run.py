"""``study run`` with every sampler, pruning, and ``study show --json`` (trials are runs in the store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from study_helpers import write_study

from engine.cli import main
from engine.store import Store

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("sampler", ["random", "grid", "tpe", "gp", "cmaes", "nsga2"])
def test_study_run_with_every_sampler(study_dir: Path, sampler: str, capsys: pytest.CaptureFixture[str]) -> None:
    space = """
        "method.params.lr" = { low = 1e-4, high = 1e-2, log = true }
        "method.params.temperature" = { low = 5.0, high = 20.0 }
    """
    if sampler == "grid":
        space = '"method.params.lr" = { choices = [1e-4, 1e-3] }\n"method.params.temperature" = { low = 5.0, high = 15.0, step = 10.0 }'
    # one start-up trial, so the second trial comes from the model (CMA-ES has 1 by default)
    options = "\nsampler_options = { n_startup_trials = 1 }" if sampler in ("tpe", "gp") else ""
    body = f'sampler = "{sampler}"\npruner = "none"\nn_trials = 2\nseed = 3{options}'
    path = write_study(study_dir, body, name=f"s-{sampler}", space=space)
    db = study_dir / "data" / "metalab.db"
    assert main(["study", "run", str(path), "--db", str(db)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f"s-{sampler}"  # the study name is the last line, as run prints its id

    assert main(["study", "show", f"s-{sampler}", "--db", str(db), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sampler"] == sampler
    assert [t["number"] for t in shown["trials"]] == [0, 1]
    assert all(t["state"] == "complete" and 0.0 <= t["value"] <= 1.0 for t in shown["trials"])
    assert shown["best_value"] == max(t["value"] for t in shown["trials"])
    assert set(shown["best_params"]) == {"method.params.lr", "method.params.temperature"}
    assert isinstance(shown["importances"], dict)

    with Store(db) as store:
        runs = {r["id"]: r for r in store.list_runs(study=f"s-{sampler}")}
        assert set(runs) == {t["run_id"] for t in shown["trials"]}
        for trial in shown["trials"]:
            run = runs[trial["run_id"]]
            assert run["status"] == "finished" and run["trial_number"] == trial["number"]
            assert run["config"]["method"]["params"]["lr"] == pytest.approx(trial["params"]["method.params.lr"])
            # the objective is the run's last val_accuracy, as stored with its curve
            last = [m for m in store.metrics(run["id"], "val_accuracy")][-1]
            assert last["step"] == 4 and last["value"] == pytest.approx(trial["value"])
    import optuna

    from engine.study import default_storage, open_storage

    study = optuna.load_study(study_name=f"s-{sampler}", storage=open_storage(default_storage(db)))
    assert study.metric_names == ["val_accuracy"]  # optuna-dashboard labels the objective
    assert study.user_attrs["run_database"] == str(db.resolve())
    assert {t.user_attrs["run_database"] for t in study.trials} == {str(db.resolve())}
    if sampler == "grid":  # two different grid points
        assert len({tuple(t["params"].values()) for t in shown["trials"]}) == 2


def test_a_pruned_trial_is_a_pruned_run(study_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import optuna

    path = write_study(study_dir, 'sampler = "random"\npruner = "median"\nn_trials = 3\npruner_options = { n_startup_trials = 1 }', name="p")
    db = study_dir / "metalab.db"
    calls: list[int] = []
    real = optuna.pruners.MedianPruner.prune

    def prune_after_first_trial(self, study, trial):  # type: ignore[no-untyped-def]
        calls.append(trial.number)
        real(self, study, trial)  # the real pruner runs too (it must accept our steps)
        return trial.number > 0

    monkeypatch.setattr(optuna.pruners.MedianPruner, "prune", prune_after_first_trial)
    assert main(["study", "run", str(path), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["study", "show", "p", "--db", str(db), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    states = [t["state"] for t in shown["trials"]]
    assert states == ["complete", "pruned", "pruned"]
    with Store(db) as store:
        for trial in shown["trials"][1:]:
            run = store.get_run(trial["run_id"])
            assert run["status"] == "pruned"
            assert trial["last_step"] == 2  # pruned at the first validation, before the end
            assert [m["step"] for m in store.metrics(run["id"], "val_accuracy")] == [2]
    assert 0 in calls
    # the text views a person reads
    assert main(["study", "show", "p", "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert "1 complete, 2 pruned" in text and "trial   1  pruned" in text
    assert main(["study", "list", "--db", str(db)]) == 0
    assert "p " in capsys.readouterr().out


def test_a_timeout_starts_no_new_trial_after_it(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_study(study_dir, 'sampler = "random"\nn_trials = 5\ntimeout = 0.001', name="t")
    assert main(["study", "run", str(path), "--db", str(study_dir / "metalab.db")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "t"
    assert main(["study", "show", "t", "--db", str(study_dir / "metalab.db"), "--json"]) == 0
    assert [t["state"] for t in json.loads(capsys.readouterr().out)["trials"]] == ["complete"]  # the first one finishes
