"""The Runs page exports runs to TensorBoard and imports them back (through the engine's CLI),
and a study's run leads to its trial on the Studies page."""

from __future__ import annotations

import sys

import pytest

from gui.pages.runs import RunsPage
from gui.pages.studies import StudiesPage
from tests.gui.store_fill import fill
from tests.gui.test_gui_studies import make_study

ENGINE = [sys.executable, "-m", "engine"]


@pytest.fixture
def page(qtbot, tmp_path):
    db = tmp_path / "runs.db"
    ids = fill(db)
    page = RunsPage(db, command=ENGINE)
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    qtbot.waitUntil(lambda: page.model.rowCount() == 4, timeout=5000)
    page.ids = ids
    return page


def test_export_to_tensorboard_and_import_back(qtbot, page, tmp_path):
    pytest.importorskip("tensorboard")
    page.select_ids([page.ids["a"], page.ids["b"]])
    page.ask_folder = lambda title: str(tmp_path / "tb")
    with qtbot.waitSignal(page.exchange.finished, timeout=180_000) as done:
        page.export_selected_to_tensorboard()
    assert done.args[0], done.args[1]
    assert page.message.text() == f"Exported 2 runs to TensorBoard in {tmp_path / 'tb'}"
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == sorted([page.ids["a"], page.ids["b"]])

    page.ask_folder = lambda title: str(tmp_path / "tb")
    with qtbot.waitSignal(page.exchange.finished, timeout=180_000) as done:
        page.import_tensorboard()
    assert done.args == [True, "Imported 2 runs"]
    qtbot.waitUntil(lambda: page.model.rowCount() == 6, timeout=10_000)
    assert sum(r["status"] == "imported" for r in page.model.runs()) == 2


def test_a_failed_import_says_why_in_one_line(qtbot, page, tmp_path):
    (tmp_path / "empty").mkdir()
    page.ask_folder = lambda title: str(tmp_path / "empty")
    with qtbot.waitSignal(page.exchange.finished, timeout=180_000):
        page.import_tensorboard()
    assert page.message.text().startswith("Failed: ") and "no TensorBoard event files" in page.message.text()


def test_a_study_run_opens_its_trial(qtbot, tmp_path):
    db = tmp_path / "runs.db"
    run_ids = make_study(db)
    studies = StudiesPage(db, command=ENGINE)
    qtbot.addWidget(studies)
    studies.show()
    with qtbot.waitSignal(studies.study_shown, timeout=60_000):
        studies.show_trial("lr-search", 2)
    assert studies.selected_trial()["number"] == 2 and studies.open_button.isEnabled()
    with qtbot.waitSignal(studies.open_requested) as opened:
        studies.open_button.click()
    assert opened.args[0] == run_ids[2]


def test_importing_a_folder_again_asks_first(qtbot, page, tmp_path):
    """#27.5: a second import of the same TensorBoard folder is asked about: No keeps one copy
    (said on the message line), Yes imports a second copy."""
    pytest.importorskip("tensorboard")
    page.select_ids([page.ids["a"]])
    page.ask_folder = lambda title: str(tmp_path / "tb")
    with qtbot.waitSignal(page.exchange.finished, timeout=180_000):
        page.export_selected_to_tensorboard()
    outcomes = []
    page.exchange.finished.connect(lambda ok, text: outcomes.append((ok, text)))
    page.import_tensorboard()
    qtbot.waitUntil(lambda: len(outcomes) == 1, timeout=180_000)
    assert outcomes[0] == (True, "Imported 1 run")
    asked = []
    page.confirm = lambda title, text: asked.append(text) or False
    page.import_tensorboard()
    qtbot.waitUntil(lambda: len(outcomes) == 2, timeout=180_000)
    assert len(asked) == 1 and "already imported as run" in asked[0]
    assert page.message.text() == "Not imported: already imported before"
    page.confirm = lambda title, text: True
    page.import_tensorboard()
    qtbot.waitUntil(lambda: len(outcomes) == 4, timeout=360_000)  # refused, asked, then imported again
    assert outcomes[3] == (True, "Imported 1 run") and page.exchange.args[-1] == "--again"
    qtbot.waitUntil(lambda: sum(r["status"] == "imported" for r in page.model.runs()) == 2, timeout=10_000)
