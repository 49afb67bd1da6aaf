"""A stop after training keeps the trained model: the weights are saved before the
evaluation, a stop in validation, the frozen reference or the meta-test ends the run at
once, the episodes scored so far are kept, and ``resume`` finishes the evaluation
(issue 27, cases 2 and 16)."""

import json
import time

import pytest

from engine.config import RunConfig
from engine.paths import artifacts_dir
from engine.store import Store
from engine.training.checkpoints import list_checkpoints
from engine.training.continuation import resume_run
from engine.training.runner import StopFlag, run_experiment
from tests.conftest import tiny_config_text

TEST_EPISODES = 12


@pytest.fixture(autouse=True)
def _every_progress_event(monkeypatch):
    """Every episode reported (not at most 4 a second): the tiny model scores a dozen at once."""
    monkeypatch.setattr("engine.training.recorder.PROGRESS_SECONDS", 0.0)


class StopInPhase(StopFlag):
    """An events stream and a stop flag in one: asks to stop (as SIGTERM from the GUI would)
    once ``done`` items of ``phase`` were reported, and notes when it asked."""

    def __init__(self, phase, done=1):
        super().__init__()
        self.phase, self.done = phase, done
        self.asked_at = None
        self.phases = []

    def write(self, text):
        for line in text.splitlines():
            event = json.loads(line)
            if event["type"] != "progress":
                continue
            if not self.phases or self.phases[-1] != event["phase"]:
                self.phases.append(event["phase"])
            if self.asked_at is None and event["phase"] == self.phase and event["done"] >= self.done:
                self.asked_at = time.monotonic()
                self.requested = True

    def flush(self):
        pass


def _config(tiny_model, keyword_csv, **values):
    config = RunConfig.from_toml(tiny_config_text(tiny_model, keyword_csv, episodes=6))
    settings = {"train.checkpoint_every": 0, "train.eval_every": 3, "task.test_episodes": TEST_EPISODES,
                "task.val_episodes": 6, **values}
    return config.with_values(settings)


def _stop_in(config, db, phase, done=1):
    flag = StopInPhase(phase, done)
    outcome = run_experiment(config, db_path=db, stop=flag, events_stream=flag)
    ended = time.monotonic()
    return outcome, flag, ended - flag.asked_at


def _accuracies(store, run_id):
    return [(e["episode"], e["accuracy"]) for e in store.episodes(run_id, split="test")]


@pytest.mark.slow
def test_a_stop_in_the_meta_test_keeps_the_model_and_the_scored_episodes_and_resume_finishes(tmp_path, tiny_model, keyword_csv):
    db = tmp_path / "runs.db"
    config = _config(tiny_model, keyword_csv)
    unbroken = run_experiment(config, db_path=db)

    stopped, flag, seconds = _stop_in(config, db, "test", done=4)
    assert stopped.status == "interrupted"
    assert seconds < 10  # one episode, not the rest of the meta-test
    with Store(db) as store:
        run = store.get_run(stopped.run_id)
        assert "during the meta-test" in run["error"] and "resume finishes the evaluation" in run["error"]
        kept = _accuracies(store, stopped.run_id)
        assert 4 <= len(kept) < TEST_EPISODES
    # the default checkpoint_every = 0, and still the trained weights are there to resume from
    assert [s for s, _ in list_checkpoints(artifacts_dir(db) / stopped.run_id)] == [6]

    resumed = resume_run(stopped.run_id, db_path=db)
    assert resumed.status == "finished"
    with Store(db) as store:
        assert [s for s in (m["step"] for m in store.metrics(stopped.run_id, "train_loss"))] == list(range(1, 7))
        assert [m["step"] for m in store.metrics(stopped.run_id, "val_accuracy")] == [3, 6]  # the final one once
        finished = _accuracies(store, stopped.run_id)
        reference = _accuracies(store, unbroken.run_id)
        assert {e: a for e, a in finished}.items() >= {e: a for e, a in kept}.items()  # what was scored stayed
        artifacts = {a["kind"] for a in store.artifacts(stopped.run_id)}
    assert [e for e, _ in finished] == list(range(TEST_EPISODES))
    for (episode, value), (_, expected) in zip(finished, reference):
        assert value == pytest.approx(expected, abs=1e-6), episode
    assert resumed.final_metrics["test_accuracy"] == pytest.approx(unbroken.final_metrics["test_accuracy"])
    assert "weights" in artifacts
    # the checkpoint kept for the evaluation goes once the weights are written (checkpoint_every = 0)
    assert list_checkpoints(artifacts_dir(db) / stopped.run_id) == []


@pytest.mark.slow
@pytest.mark.parametrize(("phase", "words"), [("val", "during the validation"), ("reference", "during the frozen reference")])
def test_a_stop_after_training_in_validation_or_the_reference_ends_at_once_and_resumes(
    tmp_path, tiny_model, keyword_csv, phase, words
):
    db = tmp_path / "runs.db"
    config = _config(tiny_model, keyword_csv, **{"train.eval_every": 6})  # one validation: after training
    stopped, flag, seconds = _stop_in(config, db, phase)
    assert stopped.status == "interrupted" and seconds < 10
    assert "test" not in flag.phases  # the meta-test never started
    with Store(db) as store:
        assert words in store.get_run(stopped.run_id)["error"]
    assert [s for s, _ in list_checkpoints(artifacts_dir(db) / stopped.run_id)] == [6]
    resumed = resume_run(stopped.run_id, db_path=db)
    assert resumed.status == "finished" and resumed.final_metrics["test_episodes"] == TEST_EPISODES


@pytest.mark.slow
def test_a_stop_in_a_validation_during_training_checkpoints_that_step(tmp_path, tiny_model, keyword_csv):
    db = tmp_path / "runs.db"
    config = _config(tiny_model, keyword_csv)  # validations at step 3 and after training
    stopped, flag, seconds = _stop_in(config, db, "val")
    assert stopped.status == "interrupted" and seconds < 10
    assert flag.phases[-1] == "val"  # no training step after the stop
    with Store(db) as store:
        assert [m["step"] for m in store.metrics(stopped.run_id, "train_loss")] == [1, 2, 3]
    assert [s for s, _ in list_checkpoints(artifacts_dir(db) / stopped.run_id)] == [3]
    assert resume_run(stopped.run_id, db_path=db).status == "finished"


@pytest.mark.slow
def test_a_stop_in_mamls_inner_loop_report_ends_the_validation(tmp_path, tiny_model, keyword_csv):
    """The report after a validation adapts with gradients (seconds an episode with a real
    model): it is counted in the validation's progress and stops like the episodes."""
    db = tmp_path / "runs.db"
    config = _config(tiny_model, keyword_csv, **{"method.name": "maml", "method.params.scope": "head"})
    stopped, flag, seconds = _stop_in(config, db, "val", done=6 + 1)  # 6 val episodes, then the report's first
    assert stopped.status == "interrupted" and seconds < 10
    with Store(db) as store:
        assert [m["step"] for m in store.metrics(stopped.run_id, "train_loss")] == [1, 2, 3]
        assert store.metrics(stopped.run_id, "val_accuracy") == []  # the unfinished validation is dropped
    assert [s for s, _ in list_checkpoints(artifacts_dir(db) / stopped.run_id)] == [3]
