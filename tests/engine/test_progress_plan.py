"""One progress model for a whole run (issue 27, case 17): every phase sized up front, one
ETA over all of them, and a share done by time that is not 100 % while the meta-test runs."""

import json

import pytest

from engine.config import RunConfig
from engine.store import Store
from engine.training.progress_plan import ProgressPlan
from engine.training.runner import run_experiment
from tests.conftest import tiny_config_text

# seconds per item of each phase in the simulated run, and a fixed cost at the start of an
# evaluation pass (the encoding of its sentences, before the first episode is done)
TRAIN, EPISODE, OVERHEAD = 2.0, 0.1, 3.0


def _simulate(plan, phases, on_report=None):
    """Reports as a runner would: each pass from done = 0, one report per item."""
    now = 0.0
    for name, total in phases:
        plan.update(name, 0, total, now)
        for done in range(1, total + 1):
            now += (TRAIN if name == "train" else EPISODE) + (OVERHEAD if done == 1 and name != "train" else 0)
            plan.update(name, done, total, now)
            if on_report:
                on_report(name, done, now)
    return now


def test_the_eta_covers_every_phase_left_and_the_share_is_by_time():
    sizes = dict(untrained=50, train=100, validations=3, val_episodes=20, reference=50, test=50)
    timeline = [("untrained", 50), ("train", 40), ("val", 20), ("train", 60), ("val", 20), ("val", 20),
                ("reference", 50), ("test", 50)]
    # the same run twice: the first tells when it ends
    end = _simulate(ProgressPlan.for_run(**sizes), [(n, t) for n, t in timeline])
    seen = []
    plan = ProgressPlan.for_run(**sizes)

    def look(name, done, now):
        seen.append((name, done, now, plan.eta(), plan.fraction()))

    _simulate(plan, timeline, look)
    after_training = next(s for s in seen if s[0] == "val" and s[1] == 20 and s[2] > 100 * TRAIN)
    _, _, now, eta, _ = after_training
    assert eta == pytest.approx(end - now, rel=0.25)  # not "ETA 0 s" after a phase: the rest of the run
    during_test = [fraction for name, _d, _n, _e, fraction in seen if name == "test"][:-1]
    assert during_test and max(during_test) < 1.0  # never 100 % while the meta-test runs
    fractions = [f for *_rest, f in seen if f is not None]
    assert fractions[-1] == pytest.approx(1.0)


def test_an_evaluation_phase_not_reached_is_estimated_from_one_alike():
    plan = ProgressPlan.for_run(untrained=10, train=5, validations=0, val_episodes=0, reference=0, test=10)
    _simulate(plan, [("untrained", 10), ("train", 5)])
    # the meta-test costs what the untrained pass did (same episodes, same model size)
    assert plan.eta() == pytest.approx(10 * EPISODE + OVERHEAD, rel=0.05)


@pytest.mark.slow
def test_a_run_reports_one_eta_and_its_share_and_stores_them(tmp_path, tiny_model, keyword_csv, monkeypatch):
    monkeypatch.setattr("engine.training.recorder.PROGRESS_SECONDS", 0.0)
    config = RunConfig.from_toml(tiny_config_text(tiny_model, keyword_csv, episodes=6))

    class Events:
        def __init__(self):
            self.progress = []

        def write(self, text):
            self.progress += [e for e in map(json.loads, text.splitlines()) if e["type"] == "progress"]

        def flush(self):
            pass

    events = Events()
    outcome = run_experiment(config, db_path=tmp_path / "runs.db", events_stream=events)
    phases = [e["phase"] for e in events.progress]
    assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p] == ["train", "val", "train", "val", "reference", "test"]
    starts = [e for i, e in enumerate(events.progress) if i and events.progress[i - 1]["phase"] != e["phase"]]
    evaluations = [e for e in starts if e["phase"] != "train"]  # (training goes on counting its steps)
    assert evaluations and all(e["done"] == 0 for e in evaluations)  # each clock starts before its encoding
    reference = [e for e in events.progress if e["phase"] == "reference"]
    assert reference[-1]["unit"] == "sentences" and reference[-1]["done"] == reference[-1]["total"] > 1
    late = [e for e in events.progress if e["phase"] in ("reference", "test")]
    assert all(isinstance(e["run_eta_seconds"], float) for e in late)
    assert all(e["run_fraction"] < 1.0 for e in late if e["done"] < e["total"])
    with Store(tmp_path / "runs.db") as store:
        run = store.get_run(outcome.run_id)
    assert run["phase"] == "test" and 0.5 < run["progress"] <= 1.0  # the Runs page reads these while it runs


def test_a_resumed_runs_duration_keeps_its_earlier_time(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        run_id = store.create_run({"name": "r"})
        store.start_run(run_id, device="cpu", versions={}, pid=1, host="h")
        store.update_run(run_id, started_at="2026-12-07T10:00:00.000Z")
        store.finish_run(run_id, "interrupted", error="stopped by the user")
        store.update_run(run_id, finished_at="2026-12-07T10:05:00.000Z")
        store.update_run(run_id, status="queued", finished_at=None, heartbeat_at="2026-12-07T10:05:00.000Z")
        store.start_run(run_id, device="cpu", versions={}, pid=2, host="h")
        assert store.get_run(run_id)["earlier_seconds"] == pytest.approx(300.0)
