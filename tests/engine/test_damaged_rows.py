"""Issue 27 case 6: rows another program edited are listed as damaged, one row at a time."""

from __future__ import annotations

import json

import pytest

from engine.store import Store
from tests.conftest import run_cli
from tests.damaged_rows import DAMAGE, DAMAGED, SOUND, damaged_database

KINDS = list(DAMAGE)
OLD = "2000-01-01T00:00:00.000Z"


def _ok(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_row_is_listed_as_damaged_and_hides_no_other(tmp_path, kind):
    db = damaged_database(tmp_path / "runs.db", kind)
    note = DAMAGE[kind][2]
    with Store(db) as store:
        store.mark_stale_runs()  # what every command and the GUI's start do first
        runs = {run["id"]: run for run in store.list_runs()}
        assert set(runs) == {SOUND, DAMAGED}
        assert runs[SOUND]["damaged"] == []
    listed = json.loads(_ok(run_cli("runs", "list", "--json", "--db", str(db))))
    by_id = {row["id"]: row for row in listed}
    assert set(by_id) == {SOUND, DAMAGED}
    assert by_id[SOUND]["damaged"] == [] and by_id[SOUND]["headline"] == 0.5
    table = _ok(run_cli("runs", "list", "--db", str(db)))
    sound_line = next(line for line in table.splitlines() if line.startswith(SOUND))
    assert "damaged" not in sound_line and "50.00%" in sound_line
    shown = _ok(run_cli("runs", "show", DAMAGED, "--db", str(db)))
    compared = json.loads(_ok(run_cli("runs", "compare", SOUND, DAMAGED, "--json", "--db", str(db))))
    _ok(run_cli("runs", "compare", SOUND, DAMAGED, "--db", str(db)))
    damaged_of = {run["id"]: run["damaged"] for run in compared["runs"]}
    assert damaged_of[SOUND] == []
    if kind.startswith("episode"):  # the run's row is sound; one of its episodes is not
        assert any(note in text for text in damaged_of[DAMAGED])
        return
    assert note in by_id[DAMAGED]["damaged"]
    assert note in damaged_of[DAMAGED]
    damaged_line = next(line for line in table.splitlines() if line.startswith(DAMAGED))
    assert " damaged " in damaged_line and f"(damaged: {note}" in damaged_line
    assert f"damaged: {note}" in shown


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_run_can_be_deleted(tmp_path, kind):
    db = damaged_database(tmp_path / "runs.db", kind)
    if DAMAGE[kind][1] == "running":  # its engine gone: silent for long, on a host that cannot be asked
        with Store(db) as store:
            store.conn.execute("UPDATE runs SET host = 'another-host', started_at = ?,"
                               " heartbeat_at = CASE WHEN heartbeat_at = 'yesterday' THEN heartbeat_at ELSE ? END"
                               " WHERE id = ?", (OLD, OLD, DAMAGED))
    result = run_cli("runs", "delete", DAMAGED, "--yes", "--db", str(db))
    assert _ok(result).strip() == f"deleted {DAMAGED}"
    listed = json.loads(_ok(run_cli("runs", "list", "--json", "--db", str(db))))
    assert [row["id"] for row in listed] == [SOUND]


def test_a_damaged_pid_or_heartbeat_never_stops_the_stale_check(tmp_path):
    """mark_stale_runs reads every running row; a damaged one is judged by what is readable."""
    db = damaged_database(tmp_path / "runs.db", "pid is text")
    with Store(db) as store:
        store.conn.execute("UPDATE runs SET heartbeat_at = 'not a date', started_at = ? WHERE id = ?",
                           (OLD, DAMAGED))
        assert store.mark_stale_runs() == [DAMAGED]  # no pid to ask, an old start: its engine is gone
        assert store.get_run(DAMAGED)["status"] == "interrupted"
