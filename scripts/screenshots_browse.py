"""Screenshots of the Runs, Compare, Studies and Try-a-model pages into docs/screenshots/.

    Xvfb :91 -screen 0 1400x900x24 &  DISPLAY=:91 python scripts/screenshots_browse.py

The database is filled through the store API (as the GUI tests do), with a study made with
Optuna in a journal file beside it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"


def wait(app, cond, timeout=60.0):
    end = time.time() + timeout
    while not cond() and time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    import os

    os.environ["METALAB_DATA"] = tempfile.mkdtemp()
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow
    from tests.gui.store_fill import add_run, base_config
    from tests.gui.test_gui_studies import make_study

    app = QApplication.instance() or QApplication([])
    db = Path(tempfile.mkdtemp()) / "runs.db"
    make_study(db)
    import random

    from engine.store import Store

    rng = random.Random(1)
    ids = []
    with Store(db) as store:
        for name, method, lr, shift in (("protonet-lr1e-4", "protonet", 1e-4, 0.0), ("protonet-lr3e-4", "protonet", 3e-4, 0.04),
                                        ("finetune-baseline", "finetune", 1e-4, -0.05), ("protonet-1shot", "protonet", 1e-4, -0.12)):
            accs = [min(1, max(0, 0.7 + shift + rng.gauss(0, 0.06))) for _ in range(60)]
            config = base_config(name, method=method, lr=lr, k_shot=1 if "1shot" in name else 5, tags=["paper"])
            ids.append(add_run(store, config, accuracies=accs, steps=300))
    win = MainWindow(db_path=db, restore=False)
    win.resize(1400, 860)
    win.show()
    OUT.mkdir(parents=True, exist_ok=True)

    win.show_page(2)
    wait(app, lambda: win.runs_page.model.rowCount() >= 8)
    win.runs_page.select_ids(ids[:3])
    app.processEvents()
    win.grab().save(str(OUT / "runs.png"))

    win.compare_runs(ids[:3])
    wait(app, lambda: win.compare_page.comparison is not None)
    win.compare_page.smoothing.setValue(0.6)
    for tab, name in ((0, "compare_curves"), (1, "compare_statistics"), (2, "compare_config_diff")):
        win.compare_page.tabs.setCurrentIndex(tab)
        app.processEvents()
        time.sleep(0.2)
        app.processEvents()
        win.grab().save(str(OUT / f"{name}.png"))

    win.show_page(4)
    wait(app, lambda: win.studies_page.details is not None)
    for tab, name in ((0, "studies_trials"), (1, "studies_history")):
        win.studies_page.tabs.setCurrentIndex(tab)
        app.processEvents()
        time.sleep(0.2)
        app.processEvents()
        win.grab().save(str(OUT / f"{name}.png"))
    win.show_page(5)
    app.processEvents()
    win.grab().save(str(OUT / "try_model.png"))
    win.close()
    print("\n".join(sorted(str(p) for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
