"""What the GUI shows of a run's progress (issue 27, case 17): the engine's share by time
over every phase on the Runs page, its whole-run ETA in the Monitor, a resumed run listed
once and timed over all its parts."""


import pytest

from gui.models.runs_model import duration_seconds, progress_fraction
from gui.pages.monitor import MonitorPage
from gui.run_session import RunSession


def test_the_runs_page_share_follows_the_engine_not_the_last_step():
    # training over, meta-test running: the last step is the total, and the run is not done
    running = {"status": "running", "last_step": 99, "total_steps": 100, "progress": 0.62, "phase": "test"}
    assert progress_fraction(running) == pytest.approx(0.62)
    assert progress_fraction({**running, "progress": None}) == pytest.approx(1.0)  # an engine from before: steps
    assert progress_fraction({**running, "progress": 1.0}) < 1.0  # 100 % only once it is finished
    assert progress_fraction({**running, "status": "finished"}) == 1.0


def test_a_resumed_runs_duration_counts_the_time_before_the_resume():
    run = {"status": "finished", "started_at": "2026-12-07T10:00:00.000Z", "finished_at": "2026-12-07T10:01:00.000Z",
           "earlier_seconds": 300.0}
    assert duration_seconds(run) == pytest.approx(360.0)


def test_the_monitor_shows_the_whole_runs_eta_and_lists_a_resumed_run_once(qtbot):
    page = MonitorPage()
    qtbot.addWidget(page)
    first = RunSession("r1", "maml run")
    page.add_session(first)
    first.set_status("running")
    for done, now in ((0, 0.0), (10, 5.0)):
        first.set_progress({"phase": "val", "done": done, "total": 30, "unit": "episodes", "run_eta_seconds": 3000.0})
        page.rates["r1"].update(first.progress, now=now)
    page._show_progress(first.progress)
    text = page.progress_text.text()
    assert "ETA (whole run) 50 min" in text, text  # not this validation's 10 s
    assert "2.0 episodes/s" in text

    resumed = RunSession("r1", "maml run")
    page.add_session(resumed)
    assert page.picker.count() == 1 and page.sessions == [resumed] and page.session is resumed


def test_a_run_stopped_in_a_validation_shows_the_step_training_reached(qtbot):
    page = MonitorPage()
    qtbot.addWidget(page)
    session = RunSession("r3", "stopped run")
    page.add_session(session)
    session.set_status("running")
    session.set_progress({"phase": "train", "done": 5, "total": 10})
    session.set_progress({"phase": "val", "done": 37, "total": 400})
    session.set_status("interrupted", "stopped by the user")
    page._show_progress(session.progress)
    assert page.progress.text().startswith("interrupted at step 5 / 10")  # not the validation's 37 / 400
