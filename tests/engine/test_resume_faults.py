"""Issue #17, cases 3, 4 and 8: resume and fork after the data, the model or a checkpoint
changed, and for every option that changes what a run stores."""

from __future__ import annotations

import csv
import random
import shutil

import pytest

from engine.config import RunConfig
from engine.errors import UserError
from engine.paths import artifacts_dir
from engine.store import Store
from engine.training.checkpoints import MANIFEST, list_checkpoints
from engine.training.continuation import fork_run, resume_run
from engine.training.runner import run_experiment
from tests.conftest import tiny_config_text
from tests.engine.test_continuation import StopAfter

pytestmark = pytest.mark.slow


def _config(model, dataset, **values):
    config = RunConfig.from_toml(tiny_config_text(model, dataset, episodes=8))
    return config.with_values({"train.checkpoint_every": 2, "train.eval_every": 0, "task.test_episodes": 4, **values})


def _stopped_run(db, config) -> str:
    outcome = run_experiment(config, db_path=db, stop=StopAfter(6))
    assert outcome.status == "interrupted"
    return outcome.run_id


# --- case 8: every option that changes what is stored ------------------------------------

STORED_OPTIONS = [
    pytest.param({"train.eval_untrained": True}, id="untrained"),
    pytest.param({"train.eval_untrained": True, "train.eval_every": 3}, id="untrained+val"),
    pytest.param({"train.eval_untrained": False}, id="plain"),
    pytest.param({"train.eval_every": 3}, id="val"),
    pytest.param({"task.mode": "supervised", "method.name": "finetune", "train.eval_untrained": True, "train.eval_every": 3}, id="supervised+untrained"),
    pytest.param({"task.mode": "supervised", "method.name": "finetune"}, id="supervised"),
]


@pytest.mark.parametrize("options", STORED_OPTIONS)
def test_resume_and_fork_work_for_every_stored_option(tmp_path, tiny_model, keyword_csv, options):
    db = tmp_path / "runs.db"
    run_id = _stopped_run(db, _config(tiny_model, keyword_csv, **options))
    forked = fork_run(run_id, {"method.params.lr": 1e-4}, db_path=db)
    assert forked.status == "finished"
    resumed = resume_run(run_id, db_path=db)
    assert resumed.status == "finished"
    with Store(db) as store:
        steps = [m["step"] for m in store.metrics(run_id, "train_loss")]
        assert steps == list(range(1, 9))
        if options.get("train.eval_untrained") and "task.mode" not in options:
            assert "gain_over_untrained" in resumed.final_metrics
            assert len(store.episodes(run_id, "untrained")) == len(store.episodes(run_id, "test")) == 4


# --- case 3: the dataset or the model changed between stop and resume ----------------------

def _drop_class(path, label):
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.reader(handle) if r[1] != label]
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def test_a_changed_dataset_is_refused_unless_allowed(tmp_path, tiny_model, keyword_csv):
    db = tmp_path / "runs.db"
    run_id = _stopped_run(db, _config(tiny_model, keyword_csv))
    _drop_class(keyword_csv, "class_19")
    for attempt in (lambda: resume_run(run_id, db_path=db), lambda: fork_run(run_id, {}, db_path=db)):
        with pytest.raises(UserError, match=r"the dataset changed since run .* \(now 456 rows, 19 classes\); pass --allow-changed-data"):
            attempt()
    with Store(db) as store:
        assert len(store.list_runs()) == 1 and store.get_run(run_id)["status"] == "interrupted"
    outcome = resume_run(run_id, db_path=db, allow_changed_data=True)
    assert outcome.status == "finished"
    with Store(db) as store:
        assert any("dataset changed" in row["message"] and row["level"] == "warning" for row in store.logs(run_id))


def test_a_changed_model_folder_is_refused(tmp_path, tiny_model, keyword_csv):
    model = shutil.copytree(tiny_model, tmp_path / "model")
    db = tmp_path / "runs.db"
    run_id = _stopped_run(db, _config(model, keyword_csv))
    (model / "config.json").write_text((model / "config.json").read_text().replace('"hidden_act"', ' "hidden_act"'))
    with pytest.raises(UserError, match="the model folder changed"):
        resume_run(run_id, db_path=db)
    assert resume_run(run_id, db_path=db, allow_changed_data=True).status == "finished"


# --- case 4: damaged checkpoints --------------------------------------------------------

@pytest.fixture(scope="module")
def stopped_template(tmp_path_factory, tiny_model):
    from tests.conftest import write_keyword_dataset

    root = tmp_path_factory.mktemp("stopped")
    dataset = write_keyword_dataset(root / "keywords.csv")
    run_id = _stopped_run(root / "runs.db", _config(tiny_model, dataset))
    return root, run_id


def _copy(template, tmp_path):
    root, run_id = template
    shutil.copytree(root, tmp_path / "copy")
    return tmp_path / "copy" / "runs.db", run_id


CHECKPOINT_FILES = ["model.safetensors", "state.pt", "run_config.json", MANIFEST]


@pytest.mark.parametrize("name", CHECKPOINT_FILES)
def test_a_truncated_checkpoint_file_falls_back_to_an_older_one(tmp_path, stopped_template, name):
    db, run_id = _copy(stopped_template, tmp_path)
    checkpoints = list_checkpoints(artifacts_dir(db) / run_id)
    assert [s for s, _ in checkpoints] == [2, 4, 6]
    target = checkpoints[-1][1] / name
    data = target.read_bytes()
    target.write_bytes(data[: random.Random(name).randrange(len(data))])
    outcome = resume_run(run_id, db_path=db)
    assert outcome.status == "finished"
    with Store(db) as store:
        notes = [r["message"] for r in store.logs(run_id) if r["level"] == "warning"]
        assert any("checkpoint-000006: damaged checkpoint" in n for n in notes)
        assert any("newest sound checkpoint, at step 4" in n for n in notes)
        assert [m["step"] for m in store.metrics(run_id, "train_loss")] == list(range(1, 9))


def test_every_checkpoint_truncated_at_a_random_offset_never_tracebacks(tmp_path, stopped_template):
    db, run_id = _copy(stopped_template, tmp_path)
    rng = random.Random(17)
    for _, folder in list_checkpoints(artifacts_dir(db) / run_id):
        for name in CHECKPOINT_FILES:
            data = (folder / name).read_bytes()
            (folder / name).write_bytes(data[: rng.randrange(len(data))])
    with pytest.raises(UserError, match=f"run {run_id} has no sound checkpoint"):
        resume_run(run_id, db_path=db)
    with pytest.raises(UserError, match="damaged checkpoint"):
        fork_run(run_id, {}, db_path=db, step=4)


def test_a_truncated_checkpoint_without_a_manifest_is_caught_on_load(tmp_path, stopped_template):
    db, run_id = _copy(stopped_template, tmp_path)
    for _, folder in list_checkpoints(artifacts_dir(db) / run_id):
        (folder / MANIFEST).unlink()  # as written before manifests existed
    newest = list_checkpoints(artifacts_dir(db) / run_id)[-1][1] / "state.pt"
    newest.write_bytes(newest.read_bytes()[:100])
    assert resume_run(run_id, db_path=db).status == "finished"


def test_export_of_a_checkpoint_pruned_while_read_says_pruned(tmp_path, monkeypatch, capsys):
    """#27.11d: a checkpoint listed, then removed by the pruning after a newer one, before it
    is loaded: ``export-model --step N`` said "damaged"; it says pruned, in one line."""
    import shutil

    import torch

    from engine.cli import main
    from engine.paths import artifacts_dir
    from engine.store import Store
    from engine.training import checkpoints

    db = tmp_path / "runs.db"
    with Store(db) as store:
        run_id = store.create_run({"name": "r"}, status="finished")
    folder = checkpoints.save_checkpoint(
        artifacts_dir(db) / run_id / "checkpoint-000002", {"encoder": {"w": torch.zeros(2)}}, step=2, config={"name": "r"}
    )
    listed = checkpoints.list_checkpoints

    def list_then_prune(run_dir):
        found = listed(run_dir)
        shutil.rmtree(folder, ignore_errors=True)  # the pruning of a running engine, between listing and loading
        return found

    monkeypatch.setattr(checkpoints, "list_checkpoints", list_then_prune)
    assert main(["export-model", run_id, str(tmp_path / "out"), "--db", str(db), "--step", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "damaged" not in err
    assert "checkpoint at step 2 was pruned (removed by a newer checkpoint) while reading; pick another step" in err
    assert not (tmp_path / "out").exists()


def test_a_checkpoint_damaged_in_place_is_still_called_damaged(tmp_path):
    import torch

    from engine.training import checkpoints

    folder = checkpoints.save_checkpoint(tmp_path / "checkpoint-000004", {"encoder": {"w": torch.zeros(2)}}, step=4, config={})
    (folder / "model.safetensors").write_bytes(b"cut")
    with pytest.raises(checkpoints.DamagedCheckpoint, match="damaged checkpoint") as caught:
        checkpoints.load_checkpoint(folder)
    assert not isinstance(caught.value, checkpoints.PrunedCheckpoint)
