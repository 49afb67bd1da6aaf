"""Population-based training: options, exploit/explore, lineage in the store, a killed member."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from study_helpers import REPO, engine_cmd, show, write_study

from engine.cli import main
from engine.errors import ConfigError
from engine.store import Store
from engine.study import load_spec

PBT_SPACE = """
    "method.params.lr" = { low = 1e-4, high = 1e-2, log = true }
    "method.params.temperature" = { low = 1.0, high = 30.0 }
    "method.params.distance" = { choices = ["cosine", "euclidean"] }
"""


def pbt_base(study_dir: Path, episodes: int = 6) -> None:
    base = study_dir / "tiny.toml"
    base.write_text(base.read_text().replace("episodes = 4", f"episodes = {episodes}"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("{ population = 1 }", "population' must be between 2"),
        ("{ ready_every = 3 }", "multiple of train.eval_every"),
        ("{ ready_every = 6 }", "at least two generations"),
        ("{ quantile = 0.9 }", "quantile' must be between"),
        ('{ perturb = "x" }', "two positive factors"),
        ("{ tournament = 2 }", "not an option of the pbt sampler"),
    ],
)
def test_bad_pbt_options_are_refused_with_one_line(study_dir: Path, options: str, message: str) -> None:
    pbt_base(study_dir)
    path = write_study(study_dir, f'sampler = "pbt"\nsampler_options = {options}', space=PBT_SPACE)
    with pytest.raises(ConfigError, match=message):
        load_spec(path)


def test_the_budget_is_members_times_generations(study_dir: Path) -> None:
    pbt_base(study_dir, episodes=7)
    spec = load_spec(write_study(study_dir, 'sampler = "pbt"\nsampler_options = { population = 3 }', space=PBT_SPACE))
    from engine.study._pbt import boundaries

    assert boundaries(spec) == [2, 4, 6, 7] and spec.n_trials == 12


def test_explore_perturbs_continuous_values_within_bounds_and_keeps_choices() -> None:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from engine.study._pbt_params import PBTOptions, explore

    dists = {"lr": FloatDistribution(1e-4, 1e-2, log=True), "k": IntDistribution(1, 9), "d": CategoricalDistribution(["a", "b"])}
    options = PBTOptions(resample_probability=0.0)
    rng = np.random.default_rng(0)
    seen_lr = set()
    for _ in range(50):
        out = explore({"lr": 1e-3, "k": 5, "d": "b"}, dists, options, rng)
        seen_lr.add(round(out["lr"] / 1e-3, 6))
        assert out["k"] in (4, 6) and out["d"] == "b"  # 5 x 0.8 = 4, 5 x 1.2 = 6
    assert seen_lr == {0.8, 1.2}
    edge = explore({"lr": 1e-2, "k": 9, "d": "a"}, dists, options, np.random.default_rng(1))
    assert edge["lr"] <= 1e-2 and edge["k"] <= 9  # clipped to the space
    always = PBTOptions(resample_probability=1.0)
    drawn = [explore({"lr": 1e-3, "k": 5, "d": "b"}, dists, always, np.random.default_rng(s))["d"] for s in range(20)]
    assert set(drawn) == {"a", "b"}  # categorical values change only by resampling


@pytest.mark.slow
def test_a_population_of_four_exploits_and_stores_its_lineage(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pbt_base(study_dir, episodes=6)
    path = write_study(
        study_dir, 'sampler = "pbt"\nseed = 1\nsampler_options = { population = 4, ready_every = 2, workers = 2 }',
        name="pbt", space=PBT_SPACE,
    )
    db = study_dir / "metalab.db"
    assert main(["study", "run", str(path), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["study", "show", "pbt", "--db", str(db), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    population = shown["population"]
    assert sorted(population["members"]) == ["0", "1", "2", "3"]
    assert all([g["generation"] for g in h] == [0, 1, 2] for h in population["members"].values())
    # P = 4, quantile 0.25: the worst member of generations 0 and 1 exploits one of the best
    assert [e["generation"] for e in population["events"]] == [1, 2]
    with Store(db) as store:
        runs = {r["id"]: r for r in store.list_runs(study="pbt")}
        for event in population["events"]:
            member = population["members"][str(event["member"])]
            forked = next(g for g in member if g["generation"] == event["generation"])
            child = runs[forked["run_id"]]
            assert child["parent_id"] == event["from_run"]  # the lineage: the donor's run
            assert runs[event["replaced_run"]]["status"] == "pruned"
            assert forked["params"] == event["params_after"]
            assert child["config"]["method"]["params"]["temperature"] == pytest.approx(event["params_after"]["method.params.temperature"])
            # the fork starts with the donor's curve up to the boundary, and goes on to the end
            # or to the boundary where it was itself replaced (ready_every = 2 episodes)
            replaced_at = [e["generation"] for e in population["events"] if e["replaced_run"] == child["id"]]
            steps = [m["step"] for m in store.metrics(child["id"], "val_accuracy")]
            assert steps[0] == 2 and steps[-1] == (2 * replaced_at[0] if replaced_at else 6)
        finals = [h[-1] for h in population["members"].values()]
        assert all(runs[f["run_id"]]["status"] == "finished" for f in finals)
        assert len({f["run_id"] for f in finals}) == 4
    schedule = population["best_schedule"]
    assert [s["generation"] for s in schedule] == [0, 1, 2]
    assert schedule[-1]["member"] == population["best_member"]
    assert shown["best_run_id"] == schedule[-1]["run_id"]


@pytest.mark.slow
def test_a_killed_member_is_restarted_and_the_study_finishes(study_dir: Path) -> None:
    pbt_base(study_dir, episodes=20)
    base = study_dir / "tiny.toml"
    base.write_text(base.read_text().replace("eval_every = 2", "eval_every = 10"))
    storage = f"journal:{study_dir / 'studies.journal'}"
    path = write_study(
        study_dir, 'sampler = "pbt"\nsampler_options = { population = 2, ready_every = 10, workers = 2 }',
        name="kill", space=PBT_SPACE,
    )
    db = study_dir / "metalab.db"
    main_proc = subprocess.Popen(engine_cmd("study", "run", str(path), "--db", str(db), "--storage", storage),
                                 cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        victim = wait_for_worker_unit(storage, "kill", exclude_pid=main_proc.pid)
        import os

        os.kill(victim["pid"], signal.SIGKILL)
        out, err = main_proc.communicate(timeout=480)
    finally:
        if main_proc.poll() is None:
            main_proc.kill()
    assert main_proc.returncode == 0, err[-3000:]
    shown = show("kill", storage)
    killed = shown["trials"][victim["number"]]
    if killed["state"] == "fail":  # the kill landed mid-unit: the unit was retried and completed
        retries = [t for t in shown["trials"] if t["retry_of"] == victim["number"]]
        assert len(retries) == 1 and retries[0]["state"] == "complete"
    else:  # the unit had just told its value when the kill landed: the worker died between units
        assert killed["state"] == "complete"
    population = shown["population"]
    assert len(population["members"]) == 2
    assert all(len(h) == 2 and h[-1]["generation"] == 1 for h in population["members"].values())
    with Store(db) as store:
        assert all(store.get_run(h[-1]["run_id"])["status"] == "finished" for h in population["members"].values())


def wait_for_worker_unit(storage: str, name: str, *, exclude_pid: int, timeout: float = 240) -> dict:
    """A running population unit held by a worker process other than ``exclude_pid``."""
    import optuna
    from optuna.trial import TrialState

    from engine.study._storage import open_storage
    from engine.study._trials import WORKER_ATTR

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            study = optuna.load_study(study_name=name, storage=open_storage(storage))
        except Exception:  # not created yet
            time.sleep(0.1)
            continue
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            worker = t.system_attrs.get(WORKER_ATTR) or {}
            if worker.get("pid") and worker["pid"] != exclude_pid and t.user_attrs.get("run_id"):
                return {"number": t.number, "pid": worker["pid"]}
        time.sleep(0.05)
    raise AssertionError("no worker process took a population unit")
