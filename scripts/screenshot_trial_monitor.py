"""Screenshot of issue 27 case 14: a running study trial, opened as from the Studies page, followed
live in the Monitor from the store while another process (the study worker) writes it.

Run under a 1366x768 X server (Xvfb + openbox):
    Xvfb :99 -screen 0 1366x768x24 & DISPLAY=:99 openbox &
    DISPLAY=:99 .venv/bin/python scripts/screenshot_trial_monitor.py
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from engine.config import RunConfig
from engine.store import Store

HERE = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
STEPS = 120


def wait(app: QApplication, until, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if until():
            return True
        time.sleep(0.02)
    return False


def main() -> int:
    app = QApplication(sys.argv)
    from gui.main_window import MainWindow

    db = Path(tempfile.mkdtemp()) / "runs.db"
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:
        window = MainWindow(db_path=db, restore=False)
        window.confirm_quit = lambda running: True
        window.show()
        wait(app, lambda: False, 1)
        config = RunConfig().with_values({"name": "study lr-sweep, trial 7", "train.episodes": STEPS, "train.device": "cpu"})
        with Store(db) as store:
            run_id = store.create_run(config.to_dict(), status="queued", study="lr-sweep", trial_number=7)
            store.start_run(run_id, device="cpu", versions={}, pid=worker.pid, host=socket.gethostname())

        def write() -> None:
            with Store(db) as store:
                for step in range(1, STEPS + 1):
                    loss = 1.6 * math.exp(-step / 40) + 0.2 + 0.05 * math.sin(step)
                    rows = [("train_loss", step, loss, 0.1 * step, time.time())]
                    if step % 20 == 0:
                        rows.append(("val_accuracy", step, 0.5 + 0.3 * (1 - math.exp(-step / 50)), 0.1 * step, time.time()))
                    store.add_metrics(run_id, rows)
                    time.sleep(0.05)
                store.finish_run(run_id, "finished", final_metrics={"test_accuracy": 0.78, "test_accuracy_ci95": 0.02})

        window.studies_page.open_requested.emit(run_id)  # a double-click on the running trial
        session = window.monitor_page.session
        threading.Thread(target=write, daemon=True).start()
        wait(app, lambda: "train_loss" in session.series and session.series["train_loss"].size >= 70, 60)
        wait(app, lambda: False, 1)
        window.grab().save(str(HERE / "issue27-study-trial-live-monitor.png"))
        ok = wait(app, lambda: session.status == "finished", 60)
        wait(app, lambda: False, 1)
        window.grab().save(str(HERE / "issue27-study-trial-finished-monitor.png"))
        print(f"points {session.points_received}, status {session.status}")
        return 0 if ok else 1
    finally:
        worker.kill()
        worker.wait()


if __name__ == "__main__":
    sys.exit(main())
