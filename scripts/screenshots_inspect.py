"""Screenshots of the views computed by the real engine: Inspect (embedding maps and
confusion matrices) for a MAML run and a protonet run, and Try a model with word
attributions, into docs/screenshots/.

    xvfb-run -a -s "-screen 0 1400x900x24" python scripts/screenshots_inspect.py
    python scripts/screenshots_inspect.py --db RUNS.db   # use the finished runs already there

Without ``--db`` it first trains two short runs on the bundled data and model (the
engine, on CPU: a few minutes on two cores): protonet and MAML at their defaults.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHORT_RUN = ["--set", "train.episodes=10", "--set", "train.eval_every=5", "--set", "task.test_episodes=10",
             "--set", "train.eval_untrained=false", "--set", "task.k_shot=5"]


def train(db: Path, folder: Path) -> None:
    """Two short runs on the bundled intents data and MiniLM: protonet and MAML at their defaults."""
    for method in ("protonet", "maml"):
        config = folder / f"{method}.toml"
        config.write_text(
            f'name = "{method}-demo"\n[dataset]\npath = "bundled:intents"\n[task]\nmode = "episodic"\nn_way = 5\nk_shot = 5\n'
            f'query = 15\nmeta_test_fraction = 0.5\n[model]\nname = "bundled:all-MiniLM-L6-v2"\nmax_length = 64\n'
            f'[method]\nname = "{method}"\n[train]\ndevice = "cpu"\nseed = 0\n'
        )
        subprocess.run([sys.executable, "-m", "engine", "run", str(config), "--db", str(db), *SHORT_RUN], cwd=REPO, check=True)


def wait(app, condition, timeout: float = 900.0) -> None:  # noqa: ANN001
    end = time.time() + timeout
    while not condition():
        if time.time() > end:
            raise SystemExit("timed out waiting for the engine")
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--size", default="1400x900")
    parser.add_argument("--db", help="a database with finished protonet and MAML runs (default: train two)")
    parser.add_argument("--episode", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="metalab-inspect-shots-"))
    db = Path(args.db) if args.db else tmp / "runs.db"
    if not args.db:
        train(db, tmp)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    app.setApplicationName("MetaLab")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    from engine.store import Store
    from gui.main_window import MainWindow

    with Store(db, readonly=True) as store:
        runs = {r["method"]: r["id"] for r in reversed(store.list_runs(status="finished", config=False))}
    window = MainWindow(db_path=db, restore=False, warm_engine=False)
    window.confirm_quit = lambda running: True
    window.resize(width, height)
    window.show()
    saved = []
    for method in ("maml", "protonet"):
        if method not in runs:
            print(f"no finished {method} run in {db}: skipped", file=sys.stderr)
            continue
        page = window.inspect_page
        page.result = None
        window.inspect_run(runs[method], args.episode)
        wait(app, lambda p=page, m=method: p.result is not None and p.result["run_id"] == runs[m])
        wait(app, lambda: True, 1)
        path = out / f"inspect_{method}.png"
        window.grab().save(str(path))
        saved.append(path)

    # Try a model with the words that drove each prediction.
    try_page = window.try_page
    window.show_page(5)
    wait(app, lambda: try_page.run_combo.count() > 0, 30)
    try_page.run_combo.setCurrentIndex(max(0, try_page.run_combo.findData(runs.get("protonet"))))
    shown = []
    try_page.prediction_shown.connect(lambda: shown.append(True))
    try_page.predict()
    wait(app, lambda: bool(shown) or "Cannot" in try_page.message.text())
    path = out / "try_model_explain.png"
    window.grab().save(str(path))
    saved.append(path)
    window.close()
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
