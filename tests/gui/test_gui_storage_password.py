"""The Studies page keeps a storage password secret (issue 27, case 7): the field is masked,
the status line, tooltip and About show the redacted URL, and the engine calls and study
workers it starts get the URL in their environment, never in their argv."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtWidgets import QLineEdit

from gui.pages.studies import StudiesPage
from gui.widgets.help_dialogs import about_text

SECRET = "se/cretpw"
URL = f"postgresql://user:{SECRET}@db.example/optuna"
RECORDER = """
import json, os, sys
with open(os.environ["RECORD_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps({"argv": sys.argv, "storage": os.environ.get("METALAB_STUDY_STORAGE")}) + "\\n")
print(json.dumps([{"name": "s", "sampler": "tpe", "n_trials": 4, "counts": {"complete": 1}, "best_value": 0.5,
                   "metric": "val_accuracy", "direction": "maximize"}] if "list" in sys.argv else None))
sys.exit(0 if "list" in sys.argv or "worker" in sys.argv else 2)
"""


def test_the_storage_password_is_masked_redacted_and_kept_out_of_argv(qtbot, tmp_path: Path, monkeypatch) -> None:
    script = tmp_path / "engine.py"
    script.write_text(RECORDER, encoding="utf-8")
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("RECORD_LOG", str(log))
    page = StudiesPage(tmp_path / "runs.db", command=[sys.executable, str(script)])
    qtbot.addWidget(page)
    page.show()
    page.storage.setText(URL)
    assert page.storage.echoMode() == QLineEdit.EchoMode.PasswordEchoOnEdit
    assert SECRET not in page.storage.toolTip() and "user:***@db.example" in page.storage.toolTip()

    page.refresh()
    qtbot.waitUntil(lambda: "1 study in" in page.message.text(), timeout=30_000)
    assert page.message.text() == "1 study in postgresql://user:***@db.example/optuna"
    worker = page.start_worker(["study", "worker", "--study", "s", "--db", str(tmp_path / "runs.db")], "started")
    qtbot.waitUntil(lambda: page.running_workers() == 0, timeout=30_000)
    assert worker.exitCode() == 0

    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert {c["argv"][1] for c in calls} >= {"study"} and any("worker" in c["argv"] for c in calls)
    for call in calls:
        assert not any(SECRET in part for part in call["argv"]), call["argv"]  # /proc/PID/cmdline is public
        assert call["storage"] == URL
    assert SECRET not in page.message.text()
    assert SECRET not in about_text(tmp_path / "runs.db", page.storage_url())

    page.storage.setText("journal:/tmp/studies.journal")  # nothing secret: shown as typed
    assert page.storage.echoMode() == QLineEdit.EchoMode.Normal
