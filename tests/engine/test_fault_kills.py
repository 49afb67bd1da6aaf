"""The engine killed (SIGKILL) at random moments of training, validation, the meta-test and
an export (issue 27). Whatever the moment, nothing but the run's own artifacts is written
or removed, and every run ends finished, resumable, or plainly short of its first
checkpoint; every resumable one resumes to the end with each step once.

Engines are forked from a forkserver that has imported torch once, so a kill costs the
run's own time, not an interpreter's start. ``METALAB_FAULT_KILLS`` sets how many (50 by
default: 13 in training, 12 in validation, 11 in the meta-test, 2 while the engine starts,
12 in exports)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import time
from pathlib import Path

import pytest

from engine.config import RunConfig
from engine.paths import artifacts_dir
from engine.store import Store
from engine.training.checkpoints import list_checkpoints
from tests.conftest import tiny_config_text

KILLS = int(os.environ.get("METALAB_FAULT_KILLS", "50"))
PHASES = ("train", "val", "test", "export")
STEPS, CHECKPOINT_EVERY = 12, 3
SEED = 27


def _context():
    context = multiprocessing.get_context("forkserver")
    # what every engine imports (lazily) before its first step: each child forks with them loaded
    context.set_forkserver_preload(["torch", "transformers", "transformers.models.bert.modeling_bert", "scipy.stats", "sklearn.linear_model", "pandas", "pyarrow",
                                    "sqlite_utils", "engine.training.runner", "engine.training.continuation",
                                    "engine.export", "engine.methods", "engine.tasks"])
    return context


def _train(config: dict, db: str, events: str, env: dict) -> None:
    os.environ.update(env)
    import engine.training.recorder as recorder
    from engine.training.runner import run_experiment

    recorder.PROGRESS_SECONDS = 0.0  # every item reported: a kill can be aimed at any of them
    with open(events, "w", buffering=1) as stream:
        run_experiment(RunConfig.from_dict(config), db_path=Path(db), events_stream=stream)


def _resume(run_id: str, db: str, env: dict) -> None:
    os.environ.update(env)
    from engine.training.continuation import resume_run

    outcome = resume_run(run_id, db_path=Path(db))
    assert outcome.status == "finished", outcome


def _export(run_id: str, db: str, target: str, env: dict) -> None:
    os.environ.update(env)
    from engine.export import export_model

    (Path(target).parent / f"started-{Path(target).name}").touch()  # the parent waits for this
    export_model(Path(db), run_id, Path(target))


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root``: its content hash (a folder: a marker)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else "dir"
    return out


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def _wait_for_phase(events: Path, phase: str, done: int, process, timeout: float = 120) -> bool:
    """Reads the child's events until ``phase`` reports ``done`` items (False: it ended first)."""
    deadline, offset = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and process.is_alive():
        if events.exists():
            with open(events) as stream:
                stream.seek(offset)
                text = stream.read()
            complete = text[: text.rfind("\n") + 1]
            offset += len(complete)
            for line in complete.splitlines():
                event = json.loads(line)
                if event["type"] == "progress" and event["phase"] == phase and event["done"] >= done:
                    return True
        time.sleep(0.002)
    return False


@pytest.mark.slow
def test_fifty_kills_at_random_moments_lose_nothing_and_touch_nothing_else(tmp_path, tiny_model, keyword_csv):
    rng = random.Random(SEED)
    context = _context()
    env = {k: os.environ[k] for k in ("METALAB_DATA", "METALAB_DB", "HF_HUB_OFFLINE", "OMP_NUM_THREADS") if k in os.environ}
    db = tmp_path / "runs.db"
    user = tmp_path / "home"  # the user's own files, beside the exports
    (user / "src").mkdir(parents=True)
    (user / "thesis.tex").write_text("\\documentclass{article}")
    (user / "src" / "train.py").write_text("print('mine')")
    config = RunConfig.from_toml(tiny_config_text(tiny_model, keyword_csv, episodes=STEPS)).with_values({
        "train.checkpoint_every": CHECKPOINT_EVERY, "train.eval_every": 4, "task.val_episodes": 8, "task.test_episodes": 24,
    }).to_dict()
    sizes = {"train": STEPS, "val": 8, "test": 24}

    finished = context.Process(target=_train, args=(config, str(db), str(tmp_path / "first.jsonl"), env))
    finished.start()
    finished.join(300)
    with Store(db) as store:
        source_run = store.list_runs()[0]["id"]  # a finished run, for the exports
    killed_at: dict[str, str] = {}
    for kill in range(KILLS):
        phase = PHASES[kill % len(PHASES)]
        before = _snapshot(tmp_path)
        if phase == "export":
            target = user / f"export-{kill}"
            if kill % 8 == 3:  # a re-export into an earlier export the user added notes to
                _export_now(context, source_run, db, target, env)
                (target / "NOTES.md").write_text("my notes")
                before = _snapshot(tmp_path)
            process = context.Process(target=_export, args=(source_run, str(db), str(target), env))
            process.start()
            started = user / f"started-{target.name}"
            deadline = time.monotonic() + 60
            while not started.exists() and process.is_alive() and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 1.5))  # an export of the tiny model takes about a second
            process.kill()
            process.join()
            started.unlink(missing_ok=True)
            after = _snapshot(tmp_path)
            changed = _changed(before, after)
            # an export writes its folder and its own hidden temporary beside it; it may remove
            # an earlier killed export's temporary (locked by nobody, over a minute old), never more
            swept = {p for p in changed if p.startswith("home/.export-") and p not in after
                     and f"{'/'.join(p.split('/')[:2])}/.metalab-export.lock" in before}
            allowed = (f"home/{target.name}/", f"home/.{target.name}.", "runs.db")
            assert all(p.startswith(allowed) or p == f"home/{target.name}" for p in changed - swept), (kill, sorted(changed))
            notes = target / "NOTES.md"
            assert not (before.get(f"home/{target.name}/NOTES.md")) or notes.read_text() == "my notes", kill
            if target.exists() and any(target.iterdir()):
                manifest = target / "metalab_export.json"
                assert manifest.exists(), (kill, sorted(p.name for p in target.iterdir()))  # whole, or not there
            _export_now(context, source_run, db, target, env)  # the next export succeeds, user's notes kept
            assert (target / "model.safetensors").exists()
            if before.get(f"home/{target.name}/NOTES.md"):
                assert notes.read_text() == "my notes"
            continue
        events = tmp_path / f"events-{kill}.jsonl"
        with Store(db) as store:
            known = {r["id"] for r in store.list_runs()}
        process = context.Process(target=_train, args=(config, str(db), str(events), env))
        process.start()
        if kill % 25 == 1:  # while it starts: before its first event (the run row may not be there yet)
            phase, reached = "start", True
            time.sleep(rng.uniform(0.0, 0.4))
        else:
            aim = rng.randint(1, sizes[phase] - 1)
            reached = _wait_for_phase(events, phase, aim, process)
            time.sleep(rng.uniform(0.0, 0.03))
        process.kill()
        process.join()
        assert reached, (kill, phase)
        changed = _changed(before, _snapshot(tmp_path))
        with Store(db) as store:
            store.mark_stale_runs()  # as the next CLI call or GUI start does
            new = [r for r in store.list_runs() if r["id"] not in known]
        assert len(new) <= 1 and (new or phase == "start"), (kill, phase)
        if not new:
            continue
        newest = new[0]
        killed_at[newest["id"]] = phase
        own = f"{artifacts_dir(db).relative_to(tmp_path)}/{newest['id']}"  # its folder and what is in it
        allowed = (own, "runs.db", events.name, "metalab-data")
        assert all(p.startswith(allowed) for p in changed), (kill, phase, sorted(changed))

    assert len(killed_at) >= sum(1 for k in range(KILLS) if PHASES[k % len(PHASES)] != "export") - 2  # a run per kill
    resumed, tally = 0, {"finished": 0, "failed": 0, "before first checkpoint": 0, "resumed": 0}
    with Store(db) as store:
        runs = {r["id"]: r for r in store.list_runs() if r["id"] in killed_at}
    for run_id, run in runs.items():
        checkpoints = list_checkpoints(artifacts_dir(db) / run_id)
        with Store(db) as store:
            trained = [m["step"] for m in store.metrics(run_id, "train_loss")]
        if run["status"] == "failed":
            assert run["error"], run_id  # plainly failed: it says why
            tally["failed"] += 1
            continue
        if run["status"] == "finished":  # the kill came as it ended: then it is whole
            with Store(db) as store:
                assert len(store.episodes(run_id, split="test")) == sizes["test"] and trained == list(range(1, STEPS + 1))
            tally["finished"] += 1
            continue
        assert run["status"] == "interrupted", (run_id, run["status"])
        if not checkpoints:  # killed before its first checkpoint: no more than that is lost
            assert killed_at[run_id] in ("start", "train", "val") and len(trained) <= CHECKPOINT_EVERY, (run_id, trained)
            tally["before first checkpoint"] += 1
            continue
        if killed_at[run_id] == "test":  # the trained model is never lost once training ended
            assert checkpoints[-1][0] == STEPS, (run_id, checkpoints)
        process = context.Process(target=_resume, args=(run_id, str(db), env))
        process.start()
        process.join(300)
        assert process.exitcode == 0, (run_id, killed_at[run_id])
        resumed += 1
        tally["resumed"] += 1
        with Store(db) as store:
            assert [m["step"] for m in store.metrics(run_id, "train_loss")] == list(range(1, STEPS + 1)), run_id
            assert len(store.episodes(run_id, split="test")) == sizes["test"], run_id
            assert store.get_run(run_id)["status"] == "finished"
    exports = sum(1 for k in range(KILLS) if PHASES[k % len(PHASES)] == "export")
    print(f"\n{KILLS} kills ({exports} in exports): {len(runs)} runs, {tally}")
    assert resumed >= len(runs) // 2


def _export_now(context, run_id, db, target, env) -> None:
    process = context.Process(target=_export, args=(run_id, str(db), str(target), env))
    process.start()
    process.join(120)
    (target.parent / f"started-{target.name}").unlink(missing_ok=True)
    assert process.exitcode == 0, target
