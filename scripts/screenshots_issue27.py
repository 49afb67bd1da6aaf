"""Screenshots of issue 27's GUI cases, from the real app and the real engine.

Run under a 1366x768 X server (Xvfb + openbox):
    Xvfb :99 -screen 0 1366x768x24 & DISPLAY=:99 openbox &
    DISPLAY=:99 .venv/bin/python scripts/screenshots_issue27.py
It launches an NER run whose meta-val split is too small (its validation warning) and a
MAML run stopped during its validation, and saves the window after each.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from engine.config import RunConfig

HERE = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


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

    folder = Path(tempfile.mkdtemp())
    window = MainWindow(db_path=folder / "runs.db", restore=False)
    window.confirm_quit = lambda running: True
    window.show()
    wait(app, lambda: False, 2)
    monitor = window.monitor_page

    ner = RunConfig().with_values({
        "name": "NER 5-way 1-shot, meta-val share 0.3", "dataset.path": "bundled:entities",
        "task.type": "token_classification", "task.n_way": 5, "task.k_shot": 1, "task.query": 1,
        "task.meta_test_fraction": 0.5, "task.meta_val_fraction": 0.3, "task.val_episodes": 10,
        "task.test_episodes": 20, "train.episodes": 40, "train.eval_every": 20, "train.device": "cpu",
    })
    window.launch(ner)
    wait(app, lambda: monitor.session is not None and monitor.warning_line.isVisible()
         and "train_loss" in monitor.session.series and monitor.session.series["train_loss"].size >= 8, 300)
    monitor.plot.redraw()
    wait(app, lambda: False, 1)
    window.grab().save(str(HERE / "issue27-ner-validation-warning.png"))
    window.stop_run(monitor.session.run_id)
    wait(app, lambda: monitor.session.is_over, 60)

    slow_val = RunConfig().with_values({
        "name": "MAML, stopped during validation", "dataset.path": "bundled:banking_support",
        "method.name": "maml", "method.params.scope": "head", "task.val_episodes": 200, "task.test_episodes": 50,
        "train.episodes": 10, "train.eval_every": 5, "train.device": "cpu",
    })
    window.launch(slow_val)
    wait(app, lambda: monitor.session is not None and monitor.session.run_id != "" and
         (monitor.session.progress or {}).get("phase") == "val" and (monitor.session.progress or {}).get("done", 0) > 200, 300)  # in the inner-loop report: seconds an episode
    monitor.stop_button.click()
    stopped = time.monotonic()
    wait(app, lambda: monitor.session.is_over, 60)
    print(f"stopped during validation: {monitor.session.status} {time.monotonic() - stopped:.1f} s after Stop")
    wait(app, lambda: False, 1)
    window.grab().save(str(HERE / "issue27-stop-during-validation.png"))
    window.info.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
