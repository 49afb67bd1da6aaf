"""Data-parallel runs over torch.distributed (gloo on CPU, 2 processes): same gradient, same
metrics as one process, and a killed rank that is named instead of hanging the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.store import Store
from tests.conftest import REPO, make_tiny_model, run_cli, write_keyword_dataset

pytestmark = pytest.mark.slow

PROBE = Path(__file__).resolve().parent / "dp_gradient_probe.py"


@pytest.fixture(scope="module")
def dp_setup(tmp_path_factory) -> Path:
    """A dropout-free tiny model (dropout masks differ by rank) and a keyword dataset."""
    folder = tmp_path_factory.mktemp("dp")
    make_tiny_model(folder / "tiny", dropout=0.0)
    write_keyword_dataset(folder / "kw.csv")
    return folder


def write_config(folder: Path, method: str, *, episodes: int, mode: str = "episodic", extra: str = "") -> Path:
    path = folder / f"{method}-{mode}-{episodes}.toml"
    path.write_text(
        f'name = "dp"\n[dataset]\npath = "{folder / "kw.csv"}"\n[task]\nmode = "{mode}"\nn_way = 3\nk_shot = 2\nquery = 3\n'
        f'test_episodes = 6\nval_episodes = 2\nmeta_test_fraction = 0.4\n[model]\nname = "{folder / "tiny"}"\nmax_length = 16\n'
        f'[method]\nname = "{method}"\n[method.params]\n{extra}\n[train]\nepisodes = {episodes}\neval_every = {episodes}\n'
        'device = "cpu"\nseed = 0\n'
    )
    return path


def torchrun(*args: str, nproc: int = 2) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", *args]


def test_the_meta_gradient_split_over_two_ranks_equals_one_process(dp_setup: Path) -> None:
    from safetensors.torch import load_file

    config = write_config(dp_setup, "maml", episodes=2, extra="meta_batch_size = 4\nscope = \"top_k_layers\"")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    one = subprocess.run([sys.executable, str(PROBE), str(config), str(dp_setup / "one.safetensors")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run(torchrun(str(PROBE), str(config), str(dp_setup / "two.safetensors")),
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    single, split = load_file(str(dp_setup / "one.safetensors")), load_file(str(dp_setup / "two.safetensors"))
    assert single.keys() == split.keys() and len(single) > 4
    for name in single:
        assert (single[name] - split[name]).abs().max() <= 1e-5 * max(1.0, float(single[name].abs().max())), name
    assert any(float(g.abs().sum()) > 0 for g in single.values())  # a real gradient, not all zeros


@pytest.mark.parametrize(("method", "mode", "extra"), [("maml", "episodic", "meta_batch_size = 2"), ("finetune", "supervised", "batch_size = 8")])
def test_a_two_process_run_matches_a_one_process_run(dp_setup: Path, method: str, mode: str, extra: str) -> None:
    config = write_config(dp_setup, method, episodes=3, mode=mode, extra=extra)
    results = {}
    for nproc in (1, 2):
        db = dp_setup / f"{method}-{nproc}.db"
        result = run_cli("run", str(config), "--db", str(db), "--nproc", str(nproc), timeout=400)
        assert result.returncode == 0, result.stderr[-3000:]
        run_id = result.stdout.strip().splitlines()[-1]
        with Store(db) as store:
            run = store.get_run(run_id)
            curves = {name: [(m["step"], m["value"]) for m in store.metrics(run_id, name)] for name in ("train_loss", "train_accuracy")}
        assert len(list(Store(db).list_runs())) == 1  # rank 1 wrote nothing
        results[nproc] = (run, curves)
    (one, one_curves), (two, two_curves) = results[1], results[2]
    assert two["status"] == "finished" and two["config"]["train"]["devices"] == 2 and "2 ranks (gloo)" in two["device"]
    for name, points in one_curves.items():
        assert [s for s, _ in points] == [s for s, _ in two_curves[name]] == [1, 2, 3]
        for (_, a), (_, b) in zip(points, two_curves[name], strict=True):
            assert abs(a - b) <= 1e-5, (name, a, b)
    headline = one["final_metrics"].get("headline_metric", "test_accuracy")
    assert two["final_metrics"][headline] == pytest.approx(one["final_metrics"][headline], abs=1e-6)


def test_a_killed_rank_is_named_and_nothing_hangs(dp_setup: Path) -> None:
    import psutil

    config = write_config(dp_setup, "maml", episodes=5000, extra="meta_batch_size = 2")
    db = dp_setup / "killed.db"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    launcher = subprocess.Popen([sys.executable, "-m", "engine", "run", str(config), "--db", str(db), "--nproc", "2"],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        victim = None
        deadline = time.monotonic() + 240
        while victim is None and time.monotonic() < deadline:
            for child in psutil.Process(launcher.pid).children(recursive=True):
                try:
                    if child.environ().get("RANK") == "1" and db.exists():
                        victim = child
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            with Store(db) if db.exists() else _nothing() as store:
                started = store is not None and any(r["status"] == "running" for r in store.list_runs())
            if victim is not None and not started:
                victim = None
            time.sleep(0.2)
        assert victim is not None, "rank 1 never started training"
        time.sleep(1.0)  # a few steps in
        victim.send_signal(signal.SIGKILL)
        _, err = launcher.communicate(timeout=180)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode != 0
    with Store(db) as store:
        (run,) = store.list_runs()
    assert run["status"] in ("failed", "interrupted")
    assert "rank 1" in (run["error"] or "") or "rank: 1" in err, (run["error"], err[-2000:])


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
