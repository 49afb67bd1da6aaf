"""Issue #17 on the CLI: ids that must not match (case 1, and a fuzz over ids), confirmation
of deletes, output paths (case 14), data checks of method parameters (case 10)."""

from __future__ import annotations

import io
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.store import Store

CONFIG = {"name": "r", "method": {"name": "protonet"}, "model": {"name": "m"}, "dataset": {"path": "d"},
          "task": {"mode": "episodic", "n_way": 5, "k_shot": 1}}
IDS = ("abcd00000001", "abcd00000002", "ef0123456789", "0f1e2d3c4b5a")


def _db(folder: Path) -> Path:
    db = folder / "runs.db"
    with Store(db) as store:
        for run_id in IDS:
            store.create_run(CONFIG, run_id=run_id)
            store.finish_run(run_id, "finished", final_metrics={"test_accuracy": 0.5})
            store.add_episodes(run_id, [{"episode": 0, "accuracy": 0.5, "key": "k"}])
            weights = store.claim_artifacts(run_id) / "weights"
            weights.mkdir()
            store.add_artifact(run_id, "weights", weights)
    return db


def _left(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM runs")}
    finally:
        conn.close()


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_an_empty_id_deletes_and_shows_nothing(tmp_path, capsys):
    db = _db(tmp_path)
    for command in (["runs", "delete", ""], ["runs", "show", ""], ["runs", "delete", "--yes", ""]):
        code, _, err = cli(capsys, *command, "--db", str(db))
        assert code == 2 and err.count("\n") == 1 and "the run id is empty" in err
    assert _left(db) == set(IDS)
    assert all((db.parent / "artifacts" / run_id).exists() for run_id in IDS)


def test_a_prefix_or_several_runs_need_confirmation_in_scripts(tmp_path, capsys):
    db = _db(tmp_path)
    code, _, err = cli(capsys, "runs", "delete", "ef01", "--db", str(db))
    assert code == 2 and "needs --yes" in err and _left(db) == set(IDS)
    code, _, err = cli(capsys, "runs", "delete", IDS[0], IDS[2], "--db", str(db))
    assert code == 2 and "deleting 2 runs needs --yes" in err and _left(db) == set(IDS)
    code, out, _ = cli(capsys, "runs", "delete", IDS[0], IDS[2], "--yes", "--db", str(db))
    assert code == 0 and out.split() == ["deleted", IDS[0], "deleted", IDS[2]]
    assert _left(db) == {IDS[1], IDS[3]}
    code, out, _ = cli(capsys, "runs", "delete", IDS[3], "--db", str(db))  # named in full: no question
    assert code == 0 and _left(db) == {IDS[1]}
    code, out, _ = cli(capsys, "runs", "delete", IDS[1][:5], IDS[1][:6], "--yes", "--db", str(db))  # one run, twice
    assert code == 0 and out.split() == ["deleted", IDS[1]] and _left(db) == set()


def test_a_terminal_is_asked_before_deleting_several(tmp_path, capsys, monkeypatch):
    db = _db(tmp_path)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    code, _, err = cli(capsys, "runs", "delete", IDS[0], IDS[2], "--db", str(db))
    assert code == 2 and "nothing deleted" in err and _left(db) == set(IDS)
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code, _, _ = cli(capsys, "runs", "delete", IDS[0], IDS[2], "--db", str(db))
    assert code == 0 and _left(db) == {IDS[1], IDS[3]}


def _ids():
    prefixes = st.sampled_from(IDS).flatmap(lambda i: st.integers(0, len(i)).map(lambda n: i[:n]))
    noisy = st.tuples(st.sampled_from(IDS), st.text(max_size=3)).map(lambda t: t[0] + t[1])
    wild = st.sampled_from(["", " ", "%", "_", "%%%%", "____", "abcd%", "abcd_", "*", "'", "' OR 1=1 --", "ABCD00000001", "\\"])
    return st.one_of(prefixes, noisy, wild, st.text(max_size=14))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return _db(tmp_path_factory.mktemp("pristine")).parent


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(given_id=_ids(), command=st.sampled_from(["show", "delete", "export", "compare"]), yes=st.booleans())
def test_fuzzed_ids_never_delete_more_than_the_one_run_named_in_full(pristine, given_id, command, yes, capsys):
    with tempfile.TemporaryDirectory() as folder:
        db = Path(shutil.copytree(pristine, Path(folder) / "copy")) / "runs.db"
        args = ["runs", command, given_id] + ([given_id] if command == "compare" else [])
        args += ["--db", str(db)] + (["--yes"] if yes and command == "delete" else [])
        code = main(args)
        out, err = capsys.readouterr()
        assert code in (0, 2), err
        if code == 2:
            assert err.startswith("error: ") and err.count("\n") == 1
        expected = set(IDS)
        if command == "delete" and code == 0:
            (deleted,) = set(IDS) - _left(db)
            # Without --yes only the id in full deletes; with it, a unique prefix of 4+ characters too.
            assert deleted == given_id or (yes and len(given_id) >= 4 and deleted.startswith(given_id))
            expected.discard(deleted)
        assert _left(db) == expected
        assert {p.name for p in (db.parent / "artifacts").iterdir()} == expected


# --- case 14: bad output paths ---------------------------------------------------------

def test_bad_output_paths_exit_2_naming_the_path(tmp_path, capsys):
    db = _db(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cases = [
        (["runs", "list", "--db", str(blocker / "runs.db")], str(blocker)),
        (["runs", "export", IDS[0], "-o", str(tmp_path), "--db", str(db)], f"{tmp_path}: is a folder"),
        (["runs", "export", IDS[0], "-o", str(blocker / "out.csv"), "--db", str(db)], "is a file, not a folder"),
        (["export-model", IDS[0], str(blocker), "--db", str(db)], f"{blocker}: is a file"),
    ]
    for args, expected in cases:
        code, _, err = cli(capsys, *args)
        assert code == 2 and err.count("\n") == 1 and expected in err, (args, err)
        assert ".tmp" not in err
    assert blocker.read_text() == "x"


# --- case 10: method parameters that change what the data must hold --------------------

REPO = Path(__file__).resolve().parents[2]


def test_train_query_is_checked_against_class_sizes(capsys):
    quickstart = str(REPO / "examples" / "quickstart.toml")
    code, out, err = cli(capsys, "validate", quickstart, "--set", "dataset.path=bundled:intents",
                         "--set", "method.params.train_query=39", "--set", "task.k_shot=5")
    assert code == 2 and "has 40 rows; method.params.train_query = 39 with 5-shot needs 44" in err and err.count("\n") == 1
    assert "ERROR meta-train class" in out
