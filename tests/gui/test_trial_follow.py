"""A study trial opened from the Studies page follows its run to the end (issue 27, case 14)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from engine.config import RunConfig
from engine.store import Store

pytestmark = pytest.mark.skipif(os.name != "posix", reason="a live pid stands for the study worker")


def test_a_running_trial_opened_from_the_studies_page_follows_the_store_until_it_finishes(qtbot, tmp_path):
    from gui.main_window import MainWindow

    db = tmp_path / "runs.db"
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    try:
        config = RunConfig().with_values({"name": "trial-7", "train.episodes": 40, "train.device": "cpu"})
        win = MainWindow(db_path=db, restore=False)  # open before the trial starts: nothing to re-attach to
        win.confirm_quit = lambda running: True
        qtbot.addWidget(win)
        win.show()
        assert win.monitor_page.sessions == []
        with Store(db) as store:
            run_id = store.create_run(config.to_dict(), status="queued", study="s", trial_number=7)
            store.start_run(run_id, device="cpu", versions={}, pid=worker.pid, host=socket.gethostname())
            store.add_metrics(run_id, [("train_loss", step, 1.0 / step, 0.1 * step, time.time()) for step in range(1, 6)])
        win.studies_page.open_requested.emit(run_id)  # what a double-click on the trial does
        session = win.monitor_page.session
        assert session is not None and session.run_id == run_id and session.status == "running"
        qtbot.waitUntil(lambda: session.points_received >= 5, timeout=10_000)

        def the_worker_goes_on() -> None:  # the study worker, another process, writing the store
            with Store(db) as store:
                for step in range(6, 41):
                    store.add_metrics(run_id, [("train_loss", step, 1.0 / step, 0.1 * step, time.time())])
                    time.sleep(0.02)
                store.finish_run(run_id, "finished", final_metrics={"test_accuracy": 0.8})

        writer = threading.Thread(target=the_worker_goes_on)
        writer.start()
        qtbot.waitUntil(lambda: session.status == "finished", timeout=20_000)
        writer.join()
        assert list(session.series["train_loss"].steps) == list(range(1, 41))  # every step once, in order
        assert session.final_metrics.get("test_accuracy") == 0.8
        assert win.monitor_page.progress.format().startswith("finished")  # not "preparing the first episode…"
    finally:
        worker.kill()
        worker.wait()
