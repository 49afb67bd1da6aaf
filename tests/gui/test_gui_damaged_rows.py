"""Issue 27 case 6: the GUI starts on a database with rows another program damaged, and its
Runs page lists every run, the damaged one marked as damaged."""

from __future__ import annotations

import pytest

from tests.damaged_rows import DAMAGE, DAMAGED, SOUND, damaged_database


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_the_main_window_and_runs_page_open_on_a_damaged_database(qtbot, tmp_path, fake_cmd, kind):
    from gui.main_window import MainWindow
    from gui.models.runs_model import KEYS

    db = damaged_database(tmp_path / "runs.db", kind)
    win = MainWindow(db_path=db, engine_command=fake_cmd, stop_timeout=3.0, restore=False)  # mark_stale_runs at start
    win.confirm_quit = lambda running: True
    qtbot.addWidget(win)
    win.show()
    page = win.runs_page
    win.show_page(win.stack.indexOf(page))
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=15000)
    assert "cannot read" not in page.message.text()
    runs = {page.model.run(row)["id"]: row for row in range(2)}
    assert set(runs) == {SOUND, DAMAGED}
    status = KEYS.index("status")
    sound = page.model.index(runs[SOUND], status)
    assert page.model.data(sound) == "finished"
    if not kind.startswith("episode"):  # an episode's score is Compare's to say
        damaged = page.model.index(runs[DAMAGED], status)
        assert page.model.data(damaged) == "damaged"
        from PySide6.QtCore import Qt

        assert DAMAGE[kind][2] in page.model.data(damaged, Qt.ItemDataRole.ToolTipRole)
