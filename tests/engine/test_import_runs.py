"""runs import: TensorBoard folders and MLflow runs become external runs that Compare overlays."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.external import ExternalRun
from tests.engine.test_export_runs import T0, expected_points, make_runs


def imported_ids(capsys):
    return capsys.readouterr().out.split()


def test_a_metalab_tensorboard_export_comes_back_as_an_imported_run(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from engine.store import Store

    db = tmp_path / "runs.db"
    ids = make_runs(db)
    assert main(["runs", "export", ids[0], "--format", "tensorboard", "-o", str(tmp_path / "tb"), "--db", str(db)]) == 0
    capsys.readouterr()
    other = tmp_path / "other.db"
    assert main(["runs", "import", str(tmp_path / "tb"), "--db", str(other)]) == 0
    (new_id,) = imported_ids(capsys)
    with Store(other) as store:
        run = store.get_run(new_id)
        points = {(m["name"], m["step"]): m for m in store.metrics(new_id)}
    assert run["status"] == "imported" and run["method"] == "protonet"
    with Store(db) as store:
        assert run["name"] == store.get_run(ids[0])["name"]  # the run's own name, not its folder's (its id)
    assert run["config"]["method"]["params"]["lr"] == pytest.approx(1e-3)
    assert run["config"]["imported_from"]["kind"] == "tensorboard" and "imported" in run["tags"]
    assert run["final_metrics"]["test_accuracy"] == pytest.approx(0.5)
    for point in expected_points(db, ids[0]):
        read = points[(point["name"], point["step"])]
        assert read["value"] == pytest.approx(point["value"], rel=1e-6) and read["time"] == pytest.approx(point["time"], abs=1e-3)
    assert min(m["wall_time"] for m in points.values()) == 0.0


def test_a_tensorboard_run_from_elsewhere_overlays_a_metalab_run_in_compare(tmp_path, capsys):
    """Scalars written by any SummaryWriter; Compare then shows both runs' curves, and no paired statistics."""
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    from engine.store import Store
    from gui.compare_data import load_comparison, paired_table, unpaired_note

    db = tmp_path / "runs.db"
    (metalab_id, _) = make_runs(db)
    with Store(db) as store:
        store.add_episodes(metalab_id, [{"episode": i, "accuracy": 0.5} for i in range(4)])
    writer = SummaryWriter(log_dir=str(tmp_path / "logs" / "baseline"))
    for step in range(1, 6):
        writer.add_scalar("train_loss", 3.0 / step, global_step=step, walltime=T0 + 10 * step)
    writer.close()
    assert main(["runs", "import", str(tmp_path / "logs"), "--db", str(db)]) == 0
    (imported,) = imported_ids(capsys)

    comp = load_comparison(db, [metalab_id, imported], ref_id=metalab_id)
    assert set(comp.curves[imported]) == {"train_loss"} and "train_loss" in comp.curves[metalab_id]
    assert list(comp.curves[imported]["train_loss"].steps) == [1, 2, 3, 4, 5]
    assert list(comp.curves[imported]["train_loss"].values) == pytest.approx([3.0 / s for s in range(1, 6)])
    assert comp.run(imported)["name"] == "baseline"
    assert paired_table(comp)[0][-1] == "no per-episode results"
    assert "no paired statistics without per-episode results" in unpaired_note(comp)


def test_import_of_a_folder_without_event_files_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["runs", "import", str(tmp_path / "empty"), "--db", str(tmp_path / "runs.db")]) == 2
    assert "no TensorBoard event files" in capsys.readouterr().err
    assert main(["runs", "import", "--db", str(tmp_path / "runs.db")]) == 2


@pytest.mark.slow
def test_mlflow_runs_come_back_as_imported_runs(tmp_path, capsys):
    pytest.importorskip("mlflow")
    from engine.store import Store

    db = tmp_path / "runs.db"
    ids = make_runs(db)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["runs", "export", *ids, "--to-mlflow", uri, "--db", str(db)]) == 0
    capsys.readouterr()
    other = tmp_path / "other.db"
    assert main(["runs", "import", "--from-mlflow", uri, "--experiment", "metalab", "--db", str(other)]) == 0
    new_ids = imported_ids(capsys)
    assert len(new_ids) == 2
    with Store(other) as store:
        runs = {store.get_run(i)["name"]: store.get_run(i) for i in new_ids}
        first = runs["run 0"]
        points = {(m["name"], m["step"]): m["value"] for m in store.metrics(first["id"])}
    assert first["status"] == "imported" and first["config"]["method"]["params"]["lr"] == pytest.approx(1e-3)
    assert first["config"]["task"]["n_way"] == 5 and first["n_way"] == 5 and "sweep" in first["tags"]
    assert first["final_metrics"]["test_accuracy"] == pytest.approx(0.5)
    assert {(p["name"], p["step"]): p["value"] for p in expected_points(db, ids[0])} == pytest.approx(points)


def test_an_imported_ner_run_keeps_its_headline():
    """A TensorBoard export carries numbers only; the headline (a string) comes back from the
    run's task.type, so the imported copy is read by entity F1 as the original is."""
    from engine.external._common import ExternalRun, save_external_run
    from engine.store import Store

    run = ExternalRun("ner", {"kind": "tensorboard"}, params={"task.type": "token_classification", "method.name": "maml"},
                      points=[("train_loss", 1, 0.8, 1000.0)], final_metrics={"test_f1": 0.25, "test_accuracy": 0.78})
    plain = ExternalRun("other", {"kind": "tensorboard"}, params={"lr": 0.1}, points=[("loss", 1, 0.5, 1000.0)],
                        final_metrics={"loss": 0.5})
    with Store(":memory:") as store:
        ner_id, plain_id = save_external_run(store, run), save_external_run(store, plain)
        ner_final, plain_final = store.get_run(ner_id)["final_metrics"], store.get_run(plain_id)["final_metrics"]
    assert ner_final["headline_metric"] == "test_f1" and ner_final["headline_direction"] == "maximize"
    assert "headline_metric" not in plain_final  # a run from elsewhere: no task, no headline made up


# --- issue 27 case 5: a crafted import never breaks the database --------------------------------

def write_tensorboard_run(folder, scalars):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(folder))
    for tag, step, value in scalars:
        writer.add_scalar(tag, value, global_step=step, walltime=T0 + step)
    writer.close()


def table_counts(db):
    from engine.store import Store

    with Store(db) as store:
        return {table: store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("runs", "metrics")}


def test_a_tensorboard_headline_metric_scalar_is_refused_and_nothing_is_written(tmp_path, capsys):
    """#27.5a: a scalar ``final/headline_metric`` became a float headline name and broke every
    later ``runs list``. Now the whole import is refused in one line and the other run in the
    same folder is not written either (all or nothing)."""
    pytest.importorskip("tensorboard")
    db = tmp_path / "runs.db"
    write_tensorboard_run(tmp_path / "logs" / "good", [("train_loss", 1, 0.5), ("final/test_accuracy", 1, 0.6)])
    write_tensorboard_run(tmp_path / "logs" / "crafted", [("train_loss", 1, 0.5), ("final/headline_metric", 1, 0.9)])
    assert main(["runs", "import", str(tmp_path / "logs"), "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "crafted" in err and "'headline_metric'" in err and "Traceback" not in err
    assert table_counts(db) == {"runs": 0, "metrics": 0}
    assert main(["runs", "list", "--db", str(db)]) == 0


def test_runs_list_reads_a_headline_name_that_is_not_text(tmp_path, capsys):
    """A database that already holds such a row (imported before the fix) still lists."""
    from engine.store import Store

    db = tmp_path / "runs.db"
    with Store(db) as store:
        bad = store.create_run({"name": "crafted"}, status="imported")
        store.update_run(bad, final_metrics={"headline_metric": 0.9, "headline_direction": 1.0, "test_accuracy": 0.5})
        store.create_run({"name": "fine"}, status="imported")
    assert main(["runs", "list", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "crafted" in out and "fine" in out and "50.00%" in out
    assert main(["runs", "list", "--json", "--db", str(db)]) == 0
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["name"] == "crafted"]
    assert row["headline_metric"] == "test_accuracy" and row["headline"] == 0.5 and row["headline_direction"] == "maximize"


def test_a_config_key_of_the_wrong_type_is_refused_before_anything_is_written():
    """#27.5b: ``task.type = ["classification"]`` tracebacked after the run row and its metrics
    were written. Known config keys are checked as a run config's are, before any write."""
    from engine.errors import UserError
    from engine.external import import_runs
    from engine.store import Store

    good = ExternalRun("good", {"kind": "mlflow", "uri": "sqlite:///m.db", "run_id": "a" * 32}, params={"lr": 0.1},
                       points=[("loss", 1, 0.5, T0)])
    crafted = ExternalRun("crafted", {"kind": "mlflow", "uri": "sqlite:///m.db", "run_id": "b" * 32},
                          params={"task.type": ["classification"], "method.name": "protonet"}, points=[("loss", 1, 0.5, T0)])
    with Store(":memory:") as store:
        with pytest.raises(UserError, match=r"MLflow run b+ at sqlite:///m.db: 'task.type' must be a string"):
            import_runs(store, [good, crafted])
        with pytest.raises(UserError, match="'task.n_way' must be an integer"):
            import_runs(store, [ExternalRun("n", {"kind": "tensorboard", "path": "/x"}, params={"task.n_way": "five"})])
        with pytest.raises(UserError, match="not a date"):
            import_runs(store, [ExternalRun("t", {"kind": "tensorboard", "path": "/y"}, points=[("loss", 1, 0.5, 1e300)])])
        assert store.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
        assert store.conn.execute("SELECT count(*) FROM metrics").fetchone()[0] == 0


def test_another_tools_params_keep_their_values_and_whole_floats_become_integers():
    from engine.external import import_runs
    from engine.store import Store

    run = ExternalRun("x", {"kind": "tensorboard", "path": "/runs/x"},
                      params={"model": "resnet50", "task.n_way": 5.0, "task.k_shot": 1.0, "tags": [1, 2], "lr": 0.1})
    with Store(":memory:") as store:
        (run_id,) = import_runs(store, [run])
        stored = store.get_run(run_id)
    assert stored["config"]["imported_params"] == {"model": "resnet50", "tags": [1, 2]} and stored["model"] is None
    assert stored["n_way"] == 5 and isinstance(stored["config"]["task"]["n_way"], int) and stored["config"]["lr"] == 0.1


def test_importing_the_same_folder_again_is_refused_unless_asked(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    db = tmp_path / "runs.db"
    write_tensorboard_run(tmp_path / "logs" / "a", [("train_loss", 1, 0.5)])
    write_tensorboard_run(tmp_path / "logs" / "b", [("train_loss", 1, 0.4)])
    assert main(["runs", "import", str(tmp_path / "logs"), "--db", str(db)]) == 0
    first = imported_ids(capsys)
    assert len(first) == 2
    # One of the two folders again, by another spelling of its path: refused, nothing written.
    assert main(["runs", "import", str(tmp_path / "logs" / ".." / "logs" / "b"), "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already imported as run" in err and "--again" in err
    assert table_counts(db)["runs"] == 2
    assert main(["runs", "import", str(tmp_path / "logs" / "b"), "--again", "--db", str(db)]) == 0
    (again,) = imported_ids(capsys)
    assert again not in first and table_counts(db)["runs"] == 3
    # The same folder twice in one call is one source.
    assert main(["runs", "import", str(tmp_path / "logs" / "a"), str(tmp_path / "logs" / "a"), "--again", "--db", str(db)]) == 0
    assert len(imported_ids(capsys)) == 1


@pytest.mark.slow
def test_an_mlflow_param_of_the_wrong_type_is_one_line_and_writes_nothing(tmp_path, capsys):
    mlflow = pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(run_name="crafted") as crafted:
        mlflow.log_param("task.type", '["classification"]')
        mlflow.log_metric("test_accuracy", 0.5, step=1)
    db = tmp_path / "runs.db"
    assert main(["runs", "import", "--from-mlflow", uri, "--db", str(db)]) == 2
    err = capsys.readouterr().err  # MLflow's own INFO lines come first, from this process
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert crafted.info.run_id in line and "'task.type' must be a string" in line and "Traceback" not in err
    assert table_counts(db) == {"runs": 0, "metrics": 0}
