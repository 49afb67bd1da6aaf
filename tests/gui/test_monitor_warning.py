"""A run's warnings stay in sight above the Monitor's curves (issue 27, case 15): the
validation fallback on training data is not only a line that scrolls away in the log."""

import time

from PySide6.QtCore import Qt

from gui.pages.monitor import MonitorPage
from gui.run_session import RunSession

FALLBACK = ("only 3 entity types for meta-validation, fewer than 5-way needs: validation scores meta-train "
            "entity types on training data, so val_f1 measures fit, not transfer <b>bold?</b>")


def test_the_monitor_shows_a_runs_warnings_as_plain_text(qtbot):
    page = MonitorPage()
    qtbot.addWidget(page)
    page.show()
    quiet = RunSession("r1", "quiet run")
    quiet.log.append_rows([(time.time(), "info", "model loaded")])
    page.add_session(quiet)
    assert not page.warning_line.isVisible()

    warned = RunSession("r2", "ner run")
    page.add_session(warned)
    warned.log.append_rows([(time.time(), "info", "model loaded"), (time.time(), "warning", FALLBACK)])
    assert page.warning_line.isVisible()  # as the line arrives, not only when the run is picked
    assert page.warning_line.text() == f"⚠ {FALLBACK}"
    assert page.warning_line.textFormat() == Qt.TextFormat.PlainText  # a label's markup is not rendered
    warned.log.append_rows([(time.time(), "warning", "the run database is locked by another program")])
    assert page.warning_line.text() == f"⚠ {FALLBACK}  (+1 more in the log)"  # the first stays: it says what the run measures

    page.show_session(quiet)
    assert not page.warning_line.isVisible()
    page.show_session(warned)
    assert page.warning_line.isVisible()
