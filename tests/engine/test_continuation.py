"""Stop, kill, resume and fork: finished work survives and curves continue at the right step."""

import json
import signal
import subprocess
import sys
import time

import pytest

from engine.config import RunConfig
from engine.paths import artifacts_dir
from engine.store import Store
from engine.training.checkpoints import list_checkpoints
from engine.training.continuation import fork_run, resume_run
from engine.training.runner import StopFlag, run_experiment
from tests.conftest import REPO, run_cli, tiny_config_text


class StopAfter(StopFlag):
    """Asks to stop once ``steps`` steps have run (as SIGTERM from the GUI would)."""

    def __init__(self, steps):
        super().__init__()
        self.steps, self.checks = steps, 0

    @property
    def requested(self):  # the runner asks once after every step
        self.checks += 1
        return self.checks >= self.steps

    @requested.setter
    def requested(self, value):
        pass


def _config(tiny_model, keyword_csv, **values):
    config = RunConfig.from_toml(tiny_config_text(tiny_model, keyword_csv, episodes=8))
    return config.with_values({"train.checkpoint_every": 2, "train.eval_every": 0, "task.test_episodes": 4, **values})


def _losses(store, run_id):
    return [(m["step"], m["value"]) for m in store.metrics(run_id, "train_loss")]


@pytest.mark.slow
def test_stop_then_resume_matches_an_unbroken_run(tmp_path, tiny_model, keyword_csv):
    db = tmp_path / "runs.db"
    config = _config(tiny_model, keyword_csv)
    unbroken = run_experiment(config, db_path=db)
    stopped = run_experiment(config, db_path=db, stop=StopAfter(4))
    assert stopped.status == "interrupted"
    with Store(db) as store:
        assert store.get_run(stopped.run_id)["status"] == "interrupted"
        assert [s for s, _ in _losses(store, stopped.run_id)] == [1, 2, 3, 4]
    assert [s for s, _ in list_checkpoints(artifacts_dir(db) / stopped.run_id)] == [2, 4]

    resumed = resume_run(stopped.run_id, db_path=db)
    assert resumed.status == "finished" and resumed.run_id == stopped.run_id
    with Store(db) as store:
        steps_and_losses = _losses(store, stopped.run_id)
        assert [s for s, _ in steps_and_losses] == list(range(1, 9))  # no gap, no duplicate
        reference = _losses(store, unbroken.run_id)
    for (step, value), (_, expected) in zip(steps_and_losses, reference):
        assert value == pytest.approx(expected, rel=1e-5), step
    assert resumed.final_metrics["test_accuracy"] == pytest.approx(unbroken.final_metrics["test_accuracy"])


@pytest.mark.slow
def test_fork_continues_from_a_checkpoint_with_new_settings(tmp_path, tiny_model, keyword_csv):
    db = tmp_path / "runs.db"
    parent = run_experiment(_config(tiny_model, keyword_csv), db_path=db)
    child = fork_run(parent.run_id, {"method.params.lr": 1e-5}, db_path=db, step=4)
    assert child.status == "finished"
    with Store(db) as store:
        run = store.get_run(child.run_id)
        assert run["parent_id"] == parent.run_id
        assert run["config"]["method"]["params"]["lr"] == 1e-5
        losses = _losses(store, child.run_id)
        assert [s for s, _ in losses] == list(range(1, 9))
        assert losses[:4] == _losses(store, parent.run_id)[:4]  # the parent's curve up to the fork
    with pytest.raises(Exception, match="no checkpoint at step 3"):
        fork_run(parent.run_id, {}, db_path=db, step=3)


@pytest.mark.slow
def test_sigkill_mid_run_keeps_metrics_and_resumes(tmp_path, tiny_model, keyword_csv):
    db = tmp_path / "runs.db"
    config_path = tmp_path / "long.toml"
    _config(tiny_model, keyword_csv, **{"train.episodes": 400}).save(config_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "run", str(config_path), "--db", str(db), "--events"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    last_step = 0
    for line in proc.stdout:
        event = json.loads(line)
        if event["type"] == "checkpoint" and event["step"] >= 6:
            run_id = event["run_id"]
            break
        if event["type"] == "metric" and event["name"] == "train_loss":
            last_step = event["step"]
    time.sleep(1.5)  # the engine flushes its rows at least once a second
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = time.time()

    with Store(db) as store:
        assert store.get_run(run_id)["status"] == "running"  # nobody has looked yet
        assert len(store.metrics(run_id, "train_loss")) >= last_step
        assert store.mark_stale_runs() == [run_id]  # the pid is gone: detected at once
        assert time.time() - killed_at < 5
        assert store.get_run(run_id)["status"] == "interrupted"
        checkpoint_step = list_checkpoints(artifacts_dir(db) / run_id)[-1][0]

        # Resume to a nearer end so the test stays short.
        config = store.get_run(run_id)["config"]
        config["train"]["episodes"] = checkpoint_step + 4
        store.update_run(run_id, config=config)
    result = run_cli("resume", run_id, "--db", str(db))
    assert result.returncode == 0, result.stderr
    with Store(db) as store:
        steps = [s for s, _ in _losses(store, run_id)]
        assert steps == list(range(1, checkpoint_step + 5))
        assert store.get_run(run_id)["status"] == "finished"


def test_out_of_memory_fails_the_run_with_advice(tmp_path, tiny_model, keyword_csv, monkeypatch, capsys):
    import torch

    from engine.cli import main
    from engine.methods.protonet import ProtoNet

    def explode(self, step):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(ProtoNet, "train_step", explode)
    config = tmp_path / "c.toml"
    config.write_text(tiny_config_text(tiny_model, keyword_csv))
    db = tmp_path / "runs.db"
    assert main(["run", str(config), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out of memory" in err and "first-order" in err and "max_length" in err
    with Store(db) as store:
        (run,) = store.list_runs()
        assert run["status"] == "failed" and "out of memory" in run["error"]


def test_unwritable_database_path_is_a_clear_error(tmp_path, capsys):
    from engine.cli import main

    folder = tmp_path / "a-folder.db"
    folder.mkdir()  # a path SQLite cannot open as a file (as with a read-only or missing mount)
    code = main(["runs", "list", "--db", str(folder)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {folder}: cannot open the run database") and err.count("\n") == 1


def test_half_written_checkpoints_are_never_loaded(tmp_path):
    import torch

    from engine.training.checkpoints import save_checkpoint

    run_dir = tmp_path / "run"
    save_checkpoint(run_dir / "checkpoint-000002", {"w": torch.ones(2)}, step=2, config={})
    # What a kill during a write leaves behind: a temp folder, and a folder without its weights.
    (run_dir / ".checkpoint-000004.abc123").mkdir()
    (run_dir / ".checkpoint-000004.abc123" / "model.safetensors").write_bytes(b"partial")
    (run_dir / "checkpoint-000006").mkdir()
    (run_dir / "checkpoint-000006" / "run_config.json").write_text("{}")
    assert [step for step, _ in list_checkpoints(run_dir)] == [2]


def test_a_full_disk_fails_the_run_with_one_line_and_keeps_the_database_sound(tmp_path, tiny_model, keyword_csv, monkeypatch, capsys):
    import errno
    import sqlite3

    from engine.cli import main
    from engine.training import checkpoints

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "artifacts"))

    monkeypatch.setattr(checkpoints, "save_file", no_space)  # the first checkpoint write fails
    config = tmp_path / "c.toml"
    config.write_text(tiny_config_text(tiny_model, keyword_csv) + "checkpoint_every = 2\n")
    db = tmp_path / "runs.db"
    assert main(["run", str(config), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err
    with Store(db, readonly=True) as store:
        (run,) = store.list_runs()
        assert run["status"] == "failed" and "No space left" in run["error"]
        assert len(store.metrics(run["id"], "train_loss")) == 2  # what was recorded before the failure stays
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_data_folder_that_cannot_be_created_is_one_line(tmp_path, capsys):
    from engine.cli import main

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    code = main(["runs", "list", "--db", str(blocker / "runs.db")])
    err = capsys.readouterr().err
    assert code in (1, 2) and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
