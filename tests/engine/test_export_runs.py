"""runs export to TensorBoard and MLflow: each tool's own reader gets back every exported metric."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from tests.conftest import tiny_config_text, write_keyword_dataset

T0 = 1_790_000_000.0


def make_runs(db):
    """Two finished runs with curves (one with a NaN point, left out) and final metrics, written as the engine writes them."""
    from engine.store import Store

    ids = []
    with Store(db) as store:
        for i, lr in enumerate((1e-3, 1e-4)):
            config = {"name": f"run {i}", "method": {"name": "protonet", "params": {"lr": lr}}, "task": {"n_way": 5, "k_shot": 1},
                      "tags": ["sweep"]}
            run_id = store.create_run(config, status="running")
            rows = [("train_loss", step, 2.0 / step + i, step * 0.5, T0 + step) for step in range(1, 6)]
            rows += [("val_accuracy", step, 0.2 * step / 5 + i / 10, step * 0.5, T0 + step + 0.25) for step in (2, 4)]
            rows.append(("train_accuracy", 6, float("nan"), 3.0, T0 + 6))
            store.add_metrics(run_id, rows)
            store.finish_run(run_id, "finished", final_metrics={"test_accuracy": 0.5 + i / 10, "test_accuracy_ci95": 0.05,
                                                                "train_seconds": 3.0, "note": "text is not a metric"})
            ids.append(run_id)
    return ids


def expected_points(db, run_id):
    from engine.store import Store

    with Store(db) as store:
        return [r for r in store.metrics(run_id) if r["value"] is not None and r["value"] == r["value"]]


def test_tensorboard_export_reads_back_with_event_accumulator(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    db = tmp_path / "runs.db"
    ids = make_runs(db)
    out = tmp_path / "tb"
    for _ in range(2):  # exporting again replaces the run's event file
        assert main(["runs", "export", *ids, "--format", "tensorboard", "-o", str(out), "--db", str(db)]) == 0
        assert capsys.readouterr().out.split() == [str(out / i) for i in ids]
    assert [len(list((out / i).iterdir())) for i in ids] == [1, 1]
    for run_id in ids:
        events = EventAccumulator(str(out / run_id), size_guidance={"scalars": 0})
        events.Reload()
        for point in expected_points(db, run_id):
            (read,) = [s for s in events.Scalars(point["name"]) if s.step == point["step"]]
            assert read.value == pytest.approx(point["value"], rel=1e-6)
            assert read.wall_time == pytest.approx(point["time"], abs=1e-3)
        assert events.Scalars("final/test_accuracy")[0].value == pytest.approx(0.5 if run_id == ids[0] else 0.6)
        content = events.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
        assert start.hparams["method.params.lr"].number_value == pytest.approx(1e-3 if run_id == ids[0] else 1e-4)
        assert start.hparams["method.name"].string_value == "protonet"
        experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
        assert "final/test_accuracy" in {m.name.tag for m in experiment.metric_infos}


def test_tensorboard_needs_an_output_folder(tmp_path, capsys):
    db = tmp_path / "runs.db"
    ids = make_runs(db)
    assert main(["runs", "export", ids[0], "--format", "tensorboard", "--db", str(db)]) == 2
    assert "-o DIR" in capsys.readouterr().err
    assert main(["runs", "export", *ids, "--format", "csv", "--db", str(db)]) == 2


@pytest.mark.slow
def test_mlflow_export_reads_back_with_search_runs(tmp_path, tiny_model, capsys, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # artifacts go beside the MLflow database, not into the current folder

    db = tmp_path / "runs.db"
    ids = make_runs(db)
    data = write_keyword_dataset(tmp_path / "kw.csv")
    (tmp_path / "tiny.toml").write_text(tiny_config_text(tiny_model, data, episodes=2))
    assert main(["run", str(tmp_path / "tiny.toml"), "--db", str(db)]) == 0
    trained = capsys.readouterr().out.strip().splitlines()[-1]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["runs", "export", *ids, trained, "--to-mlflow", uri, "--db", str(db)]) == 0

    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        found = mlflow.search_runs(experiment_names=["metalab"], output_format="list")
    finally:
        mlflow.set_tracking_uri(before)
    by_id = {run.data.tags["metalab.run_id"]: run for run in found}
    assert set(by_id) == {*ids, trained}
    client = MlflowClient(uri)
    from engine.store import Store

    for run_id in [*ids, trained]:
        run = by_id[run_id]
        with Store(db) as store:
            stored = store.get_run(run_id)
        assert run.info.status == "FINISHED" and run.info.run_name == stored["name"]
        assert run.data.params["method.name"] == "protonet"
        for point in expected_points(db, run_id):
            history = client.get_metric_history(run.info.run_id, point["name"])
            (read,) = [m for m in history if m.step == point["step"]]
            assert read.value == pytest.approx(point["value"]) and read.timestamp == int(point["time"] * 1000)
        assert run.data.metrics["final/test_accuracy"] == pytest.approx(stored["final_metrics"]["test_accuracy"])
    assert by_id[ids[0]].data.params["method.params.lr"] == "0.001" and by_id[ids[0]].data.tags["metalab.tag.sweep"] == "true"
    artifacts = {a.path for a in client.list_artifacts(by_id[trained].info.run_id, "model")}
    assert {"model/modules.json", "model/model.safetensors", "model/README.md"} <= artifacts
    assert client.list_artifacts(by_id[ids[0]].info.run_id) == []  # no weights, no model
    assert list(elsewhere.iterdir()) == [] and (tmp_path / "mlruns").is_dir()


@pytest.mark.slow
def test_mlflow_export_to_a_local_mlruns_folder(tmp_path, capsys, monkeypatch):
    """The file store MLflow 3 keeps in maintenance mode (opted into with MLFLOW_ALLOW_FILE_STORE)."""
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    db = tmp_path / "runs.db"
    ids = make_runs(db)
    uri = (tmp_path / "mlruns").as_uri()
    assert main(["runs", "export", *ids, "--to-mlflow", uri, "--db", str(db), "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)["mlflow"]
    assert set(exported) == set(ids)
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        found = mlflow.search_runs(experiment_names=["metalab"], output_format="list")
    finally:
        mlflow.set_tracking_uri(before)
    assert {run.info.run_id for run in found} == set(exported.values())
    for run in found:
        names = {p["name"] for p in expected_points(db, run.data.tags["metalab.run_id"])}
        assert names | {"final/test_accuracy"} <= set(run.data.metrics)
