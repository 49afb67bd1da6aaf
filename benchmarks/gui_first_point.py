"""Time from Launch to the first point on the plot, real engine, bundled model, CPU (goal: under 10 s).

    python benchmarks/gui_first_point.py

Opens the window on a temporary database, sets the New experiment page to the bundled
dataset and model on the CPU (defaults otherwise), presses Launch and waits for the first
metric on the Monitor page's plot; then stops the run. Needs ``engine/cli.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    os.environ["QT_QPA_PLATFORM"] = args.platform
    import engine

    if not (Path(engine.__file__).parent / "cli.py").exists():
        raise SystemExit("engine/cli.py is not in this tree: nothing to measure")
    tmp = Path(tempfile.mkdtemp(prefix="metalab-first-point-"))
    os.environ["METALAB_DB"] = str(tmp / "runs.db")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    from engine.config import RunConfig
    from gui.main_window import MainWindow

    window = MainWindow(db_path=tmp / "runs.db", restore=False)
    window.confirm_quit = lambda running: True
    window.resize(1280, 820)
    window.show()
    window.new_page.set_config(RunConfig().with_values({"train.device": "cpu", "name": "first-point"}))
    end = time.time() + 60
    while window.new_page.dataset_panel.is_busy() and time.time() < end:
        app.processEvents()
    problem = window.new_page.validate()
    if problem:
        raise SystemExit(f"cannot launch: {problem}")
    marks: dict[str, float] = {}
    started = time.perf_counter()
    window.new_page.request_launch()
    session = window.monitor_page.session
    session.info_changed.connect(lambda: marks.setdefault("run_started", time.perf_counter() - started))
    window.monitor_page.plot.redrawn.connect(
        lambda: marks.setdefault("first_point", time.perf_counter() - started)
        if window.monitor_page.plot.point_count()
        else None
    )
    deadline = time.time() + args.timeout
    while "first_point" not in marks and not session.is_over and time.time() < deadline:
        app.processEvents()
        time.sleep(0.002)
    window.stop_current()
    while window.queue.jobs and time.time() < deadline + 60:
        app.processEvents()
        time.sleep(0.01)
    window.close()
    print(json.dumps({k: round(v, 2) for k, v in marks.items()} | {"status": session.status, "load_average_1min": round(os.getloadavg()[0], 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
