"""runs import: TensorBoard folders and MLflow runs become external runs that Compare overlays."""

from __future__ import annotations

import pytest

from engine.cli import main
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
