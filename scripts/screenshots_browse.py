"""Screenshots of the Runs, Compare, Studies and Try-a-model pages into docs/screenshots/.

    Xvfb :91 -screen 0 1400x900x24 &  DISPLAY=:91 python scripts/screenshots_browse.py

The database is filled through the store API (as the GUI tests do), with a study made with
Optuna in a journal file beside it, and one real short protonet run of the bundled model
(``metalab-engine run``, ~30 s on CPU) whose saved weights the Try-a-model page predicts with.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from _screens import OUT, ROOT, SIZE, settle, wait  # noqa: E402,F401  (the scripts' shared helpers)



def main() -> None:
    import os

    os.environ["METALAB_DATA"] = tempfile.mkdtemp()
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow
    from tests.gui.metric_runs import add_method_run
    from tests.gui.store_fill import add_run, base_config
    from tests.gui.test_gui_studies import make_study

    app = QApplication.instance() or QApplication([])
    db = Path(tempfile.mkdtemp()) / "runs.db"
    make_study(db)
    import random

    from engine.store import Store

    import math
    import subprocess

    # a real run, for Try a model: 10 training episodes, 20 test episodes
    subprocess.run([sys.executable, "-m", "engine", "run", str(ROOT / "examples" / "quickstart.toml"), "--db", str(db),
                    "--set", "name=\"protonet-demo\"", "--set", "train.episodes=10", "--set", "train.eval_every=5",
                    "--set", "task.test_episodes=20", "--set", "train.eval_untrained=false"], check=True, cwd=ROOT)
    rng = random.Random(1)
    ids = []
    with Store(db) as store:
        for name, method, lr, shift, rate in (("protonet-lr1e-4", "protonet", 1e-4, 0.0, 60.0),
                                              ("protonet-lr3e-4", "protonet", 3e-4, 0.04, 30.0),
                                              ("finetune-baseline", "finetune", 1e-4, -0.05, 110.0),
                                              ("protonet-1shot", "protonet", 1e-4, -0.12, 60.0)):
            accs = [min(1, max(0, 0.7 + shift + rng.gauss(0, 0.06))) for _ in range(60)]
            config = base_config(name, method=method, lr=lr, k_shot=1 if "1shot" in name else 5, tags=["paper"])
            run_id = add_run(store, config, accuracies=accs, steps=300)
            # curves that differ the way real ones do: the faster learning rate falls sooner and ends higher
            store.delete_metrics_after(run_id, -1)
            store.add_metrics(run_id, [("train_loss", s, 0.25 + 1.4 * math.exp(-s / rate) + rng.gauss(0, 0.06), s * 1.7, 1e9 + s)
                                       for s in range(300)])
            store.add_metrics(run_id, [("val_accuracy", s, 0.72 + shift - 0.3 * math.exp(-s / rate) + rng.gauss(0, 0.012), s * 1.7,
                                        1e9 + s) for s in range(0, 300, 10)])
            store.add_metrics(run_id, [("test_accuracy", 300, sum(accs) / len(accs), 510.0, 1e9 + 300)])  # the final star
            ids.append(run_id)
        ids.append(add_method_run(store, "maml-5-inner-steps", "maml", steps=300, seed=7))  # its 20 metrics
    win = MainWindow(db_path=db, restore=False)
    win.resize(1400, 860)
    win.show()
    OUT.mkdir(parents=True, exist_ok=True)

    win.show_page(2)
    wait(app, lambda: win.runs_page.model.rowCount() >= 8)
    win.runs_page.select_ids(ids[:3])
    app.processEvents()
    win.grab().save(str(OUT / "runs.png"))

    loaded = []
    win.compare_page.loaded.connect(lambda: loaded.append(1))
    win.compare_page.stats_shown.connect(lambda: loaded.append(2))
    win.compare_runs([ids[0], ids[1], ids[-1]])  # two protonets and a MAML
    wait(app, lambda: set(loaded) == {1, 2})  # the curves, then the statistics
    drawn = []
    win.compare_page.curves_drawn.connect(lambda: drawn.append(1))
    win.compare_page.smoothing.setValue(0.6)
    wait(app, lambda: bool(drawn))
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
    page = win.try_page
    page.refresh()
    wait(app, lambda: page.run_combo.findText("protonet-demo", flags=Qt.MatchFlag.MatchContains) >= 0)
    page.run_combo.setCurrentIndex(page.run_combo.findText("protonet-demo", flags=Qt.MatchFlag.MatchContains))
    page.predict()
    wait(app, lambda: page.results.rowCount() > 0 or "annot" in page.message.text(), timeout=120)
    app.processEvents()
    win.grab().save(str(OUT / "try_model.png"))
    win.close()
    print("\n".join(sorted(str(p) for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
