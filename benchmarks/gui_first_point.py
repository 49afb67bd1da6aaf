"""Time from Launch to the first point on the plot, real engine, bundled model, CPU (goal: 5 s).

    python benchmarks/gui_first_point.py --engine cold    # a new engine process at Launch
    python benchmarks/gui_first_point.py --engine warm    # Launch takes the warm engine (serve)

With ``--engine warm`` Launch is pressed once the warm engine has said ``ready`` (its
warm-up time is reported apart as ``warm_ready``, from the window's creation), as when a
user spends those seconds setting up the run.

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
    parser.add_argument("--engine", choices=("cold", "warm"), default="warm")
    args = parser.parse_args()
    os.environ["QT_QPA_PLATFORM"] = args.platform
    import engine

    package = Path(engine.__file__).parent
    if not ((package / "cli.py").exists() or (package / "cli").is_dir()):
        raise SystemExit("engine.cli is not in this tree: nothing to measure")
    tmp = Path(tempfile.mkdtemp(prefix="metalab-first-point-"))
    os.environ["METALAB_DB"] = str(tmp / "runs.db")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    from engine.config import RunConfig
    from gui.main_window import MainWindow

    created = time.perf_counter()
    window = MainWindow(db_path=tmp / "runs.db", restore=False, warm_engine=args.engine == "warm")
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
    if args.engine == "warm":
        deadline = time.time() + args.timeout
        while window.warm.process is None and time.time() < deadline:
            app.processEvents()
        ready: list[float] = []
        window.warm.process.log_changed.connect(
            lambda rows: ready.append(time.perf_counter()) if any(r[2] == "ready" for r in rows) else None
        )
        while not ready and window.warm.process is not None and time.time() < deadline:
            app.processEvents()
            time.sleep(0.01)
        if not ready:
            raise SystemExit("the warm engine never said ready")
        marks["warm_ready"] = ready[0] - created
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
