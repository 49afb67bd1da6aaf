"""train.report_to: the run logs live to TensorBoard and MLflow; a failing tool is a warning, never a stopped run."""

from __future__ import annotations

import pytest

from engine.cli import main
from engine.store import Store
from tests.conftest import tiny_config_text, write_keyword_dataset


def run_tiny(tmp_path, tiny_model, capsys, report_to):
    data = write_keyword_dataset(tmp_path / "kw.csv")
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_config_text(tiny_model, data, episodes=6))
    db = tmp_path / "runs.db"
    assert main(["run", str(config), "--db", str(db), "--set", f"train.report_to={report_to}"]) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    with Store(db) as store:
        return db, store.get_run(run_id), store.metrics(run_id), store.logs(run_id)


@pytest.mark.slow
def test_report_to_logs_every_metric_live_to_tensorboard_and_mlflow(tmp_path, tiny_model, capsys, monkeypatch):
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    db, run, metrics, logs = run_tiny(tmp_path, tiny_model, capsys, '["tensorboard", "mlflow"]')
    assert run["status"] == "finished" and not [line for line in logs if line["level"] == "warning"]

    events = EventAccumulator(str(db.parent / "artifacts" / run["id"] / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    client = MlflowClient(uri)
    (mlflow_run,) = client.search_runs([client.get_experiment_by_name("metalab").experiment_id])
    assert mlflow_run.data.tags["metalab.run_id"] == run["id"] and mlflow_run.info.status == "FINISHED"
    for point in metrics:
        (scalar,) = [s for s in events.Scalars(point["name"]) if s.step == point["step"]]
        assert scalar.value == pytest.approx(point["value"], rel=1e-6)
        history = client.get_metric_history(mlflow_run.info.run_id, point["name"])
        assert point["value"] == pytest.approx(next(m.value for m in history if m.step == point["step"]))
    assert events.Scalars("final/test_accuracy")[0].value == pytest.approx(run["final_metrics"]["test_accuracy"])
    assert mlflow_run.data.metrics["final/test_accuracy"] == pytest.approx(run["final_metrics"]["test_accuracy"])
    assert mlflow_run.data.params["method.name"] == "protonet"


@pytest.mark.slow
def test_a_failing_reporter_is_one_warning_and_the_run_finishes(tmp_path, tiny_model, capsys, monkeypatch):
    pytest.importorskip("tensorboard")
    from engine.training import reporters

    calls = []

    def broken(self, *args):
        calls.append(args)
        raise OSError("disk full")

    monkeypatch.setattr(reporters.TensorBoardReporter, "on_metric", broken)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'no-such-folder' / 'x' / 'mlflow.db'}")
    _, run, metrics, logs = run_tiny(tmp_path, tiny_model, capsys, '["tensorboard", "mlflow"]')
    assert run["status"] == "finished" and metrics and len(calls) == 1
    warnings = [line["message"] for line in logs if line["level"] == "warning"]
    assert any("report_to tensorboard failed" in w and "disk full" in w for w in warnings)
    assert sum("report_to tensorboard" in w for w in warnings) == 1


def test_report_to_takes_only_known_tools(tmp_path, capsys, tiny_model):
    data = write_keyword_dataset(tmp_path / "kw.csv")
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_config_text(tiny_model, data))
    assert main(["validate", str(config), "--set", 'train.report_to=["wandb"]']) == 2
    assert "'train.report_to' takes tensorboard, mlflow, got 'wandb'" in capsys.readouterr().err
