"""A study in PostgreSQL (the storage for workers on many machines), on a server this test starts.

Skipped, with the reason, where no PostgreSQL server binaries or no Python driver are installed
(on Debian: apt-get install postgresql; the driver comes with pip install 'metalab[postgres]').
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from study_helpers import show, write_study

from engine.cli import main
from engine.store import Store

pytestmark = pytest.mark.slow


def _server_binaries() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is None:
        pytest.skip("no PostgreSQL driver for Python (pip install 'metalab[postgres]')")
    bindir = _server_binaries()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb) installed; on Debian: apt-get install postgresql")
    prefix: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="metalab-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            import pwd

            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser to start the server as 'postgres'")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = [runuser, "-u", "postgres", "--"]
    data, port = folder / "data", 54329 + os.getpid() % 500

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)

    try:
        done = call(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "metalab", "--no-sync")
        if done.returncode != 0:
            pytest.skip(f"initdb failed: {done.stderr.strip().splitlines()[-1:]}")
        options = f"-k {folder} -c listen_addresses='' -p {port} -c fsync=off"
        done = call(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
        if done.returncode != 0:
            pytest.skip(f"the PostgreSQL server did not start: {done.stderr.strip()[-300:]}")
        yield f"postgresql://metalab@/postgres?host={folder}&port={port}"
    finally:
        if (data / "postmaster.pid").exists():
            call(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_a_study_in_postgresql_with_a_second_worker(study_dir: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_study(study_dir, 'sampler = "tpe"\npruner = "none"\nn_trials = 2', name="pg")
    db = study_dir / "metalab.db"
    assert main(["study", "run", str(path), "--db", str(db), "--storage", postgres_url]) == 0
    # a worker elsewhere needs only the URL and the name; here it raises the budget by one
    assert main(["study", "worker", "--storage", postgres_url, "--study", "pg", "--db", str(db), "--n-trials", "3"]) == 0
    capsys.readouterr()
    assert main(["study", "list", "--storage", postgres_url, "--json"]) == 0
    assert '"name": "pg"' in capsys.readouterr().out
    shown = show("pg", postgres_url)
    assert [t["state"] for t in shown["trials"]] == ["complete"] * 3
    with Store(db) as store:
        assert {r["id"] for r in store.list_runs(study="pg")} == {t["run_id"] for t in shown["trials"]}
