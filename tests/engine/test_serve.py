"""``metalab-engine serve``: warm first, then the one run requested on stdin, as ``run --events``."""

from __future__ import annotations

import json
import subprocess
import sys

from engine.store import Store
from tests.conftest import REPO, tiny_config_text, write_keyword_dataset


def _serve(db, stdin: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", "serve", "--db", str(db), *extra], cwd=REPO, input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_serve_runs_the_requested_queued_run(tmp_path, tiny_model):
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_config_text(tiny_model, write_keyword_dataset(tmp_path / "kw.csv"), episodes=3))
    db = tmp_path / "runs.db"
    from engine.config import RunConfig

    with Store(db) as store:
        run_id = store.create_run(RunConfig.load(config).to_dict(), status="queued")
    request = json.dumps({"action": "run", "config": str(config), "run_id": run_id})
    result = _serve(db, request + "\n", "--preload", str(tiny_model))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ready" in result.stderr.splitlines()
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert events[0]["type"] == "run_started" and events[0]["run_id"] == run_id
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "finished"
    with Store(db) as store:
        assert store.get_run(run_id)["status"] == "finished"


def test_serve_without_a_request_writes_nothing(tmp_path):
    db = tmp_path / "runs.db"
    result = _serve(db, "")
    assert result.returncode == 0 and result.stdout == ""
    with Store(db) as store:
        assert store.list_runs() == []


def test_serve_bad_request_is_one_line(tmp_path):
    result = _serve(tmp_path / "runs.db", '{"action": "dance"}\n')
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: serve: expected")
