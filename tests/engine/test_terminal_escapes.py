"""Names, tags and labels from users' files reach the terminal as text (issue 27, case 8):
no escape sequence, no forged row; the JSON output keeps them exact."""

import json

import pytest

from engine.cli._terminal import SafeStream, escape
from engine.store import Store
from tests.conftest import run_cli
from tests.gui.store_fill import add_run, base_config

TITLE = "\x1b]0;pwned\x07"  # sets the terminal's title
CLEAR = "\x1b[2J"  # clears the screen
CLIPBOARD = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # writes the clipboard
C1 = "\x9b31m"  # CSI as one C1 character
FORGED = "ok\nfakeid000000  finished   protonet    acc  99.99%  2026-01-01T00:00:00  BEST"
HOSTILE = TITLE + CLEAR + CLIPBOARD + C1 + FORGED
RAW = ("\x1b", "\x07", "\x9b")


def test_escape_shows_every_control_character():
    assert escape("a\x1b[2Jb\nc\x9b\x7f") == "a\\x1b[2Jb\\nc\\x9b\\x7f"
    written = []
    SafeStream(type("S", (), {"write": lambda self, t: written.append(t)})()).write("row\t1\x1b]0;x\x07\n")
    assert written == ["row\t1\\x1b]0;x\\x07\n"]  # the layout's tab and newline stay


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "runs.db"
    with Store(path) as store:
        ids = [add_run(store, base_config(HOSTILE, tags=[CLEAR + "tag"], dataset=TITLE + "data.csv"),
                       accuracies=[0.6, 0.7, 0.65, 0.75]) for _ in range(2)]
        store.update_run(ids[0], error=CLIPBOARD + "boom\nsecond line")
    return path, ids


def test_runs_list_show_and_compare_print_no_control_character(db):
    path, ids = db
    listed = run_cli("runs", "list", "--db", str(path))
    assert listed.returncode == 0, listed.stderr
    assert not any(c in listed.stdout for c in RAW)
    assert len(listed.stdout.strip().splitlines()) == 1 + len(ids)  # the newline in a name forges no row
    shown = run_cli("runs", "show", ids[0], "--db", str(path))
    assert shown.returncode == 0 and not any(c in shown.stdout for c in RAW)
    assert "\\x1b]0;pwned\\x07" in shown.stdout and "boom\\nsecond line" in shown.stdout
    compared = run_cli("runs", "compare", *ids, "--db", str(path))
    assert compared.returncode == 0, compared.stderr
    assert not any(c in compared.stdout for c in RAW)


def test_json_keeps_the_names_exact_and_errors_are_escaped(db):
    path, ids = db
    rows = json.loads(run_cli("runs", "list", "--db", str(path), "--json").stdout)
    assert {r["name"] for r in rows} == {HOSTILE}
    missing = run_cli("runs", "show", CLEAR + "nope", "--db", str(path))
    assert missing.returncode == 2 and not any(c in missing.stderr for c in RAW)
    assert missing.stderr.count("\n") == 1  # one line


def test_the_delete_question_on_a_terminal_shows_names_escaped(db):
    """``runs delete A B`` asks on a terminal: ``input()`` writes its prompt straight to the tty."""
    import os
    import pty
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    path, ids = db
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "engine", "runs", "delete", *ids, "--db", str(path)], cwd=REPO,
                            stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 120
    while b"[y/N]" not in seen and time.monotonic() < deadline and proc.poll() is None:
        try:
            seen += os.read(leader, 4096)
        except OSError:
            break
    os.write(leader, b"n\n")
    proc.wait(timeout=60)
    try:
        while chunk := os.read(leader, 4096):
            seen += chunk
    except OSError:
        pass
    os.close(leader)
    text = seen.decode("utf-8", "replace")
    assert "[y/N]" in text and "\\x1b]0;pwned\\x07" in text, text
    assert not any(c in text for c in RAW), text
    assert proc.returncode == 2 and "nothing deleted" in text
    with Store(path) as store:
        assert len(store.list_runs()) == len(ids)
