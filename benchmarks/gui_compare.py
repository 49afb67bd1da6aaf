"""Compare page: 20 runs with 10,000 points per metric (2 metrics) and 200 test episodes each.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_compare.py
    QT_QPA_PLATFORM=offscreen python benchmarks/gui_compare.py --maml   # 20 MAML runs, their 20 metrics each

``--maml``: each run logs what MAML logs (tests/gui/metric_runs.py): train loss, accuracy and
learning rate at each of 10,000 steps, validation, inner-loop and per-inner-step metrics
every 50 steps, the final test values; the page charts its default picks, then every metric.

"cold" is a Compare right after the page is created (scipy still importing on its thread,
first queries); "settled" a new page after its imports finished, as in an app open for a
few seconds; "warm" a second comparison. Reports the time from ``set_runs`` to the page painted with every curve, and the longest
UI stall measured by a 10 ms timer meanwhile (loading and statistics run on a worker thread,
curves are added in batches). The UI thread waits in a ``QEventLoop``, as in the app; an
earlier version of this script polled with ``processEvents()`` + ``sleep(1 ms)``, which kept
taking the GIL from the loading thread and doubled its time.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def fill(db: Path, runs: int, points: int) -> list[str]:
    import numpy as np

    from engine.config import RunConfig
    from engine.store import Store

    rng = np.random.default_rng(0)
    ids = []
    with Store(db) as store:
        for r in range(runs):
            config = RunConfig().with_values({"name": f"run-{r:02d}", "method.params.lr": 1e-5 * (r + 1)}).to_dict()
            run_id = store.create_run(config, status="finished")
            steps = np.arange(points)
            loss = 2.0 * np.exp(-steps / (2000 + 100 * r)) + rng.normal(0, 0.05, points)
            acc = 0.9 - 0.5 * np.exp(-steps / 3000) + rng.normal(0, 0.02, points)
            for name, values in (("train_loss", loss), ("val_accuracy", acc)):
                store.add_metrics(run_id, [(name, int(s), float(v), float(s) * 0.05, 0.0) for s, v in zip(steps, values)])
            eps = np.clip(0.6 + 0.005 * r + rng.normal(0, 0.08, 200), 0, 1)
            store.add_episodes(run_id, [{"episode": i, "accuracy": float(a), "key": f"k{i}"} for i, a in enumerate(eps)])
            store.finish_run(run_id, "finished", final_metrics={"test_accuracy": float(eps.mean())})
            store.update_run(run_id, episodes_key="same")
            ids.append(run_id)
    return ids


def fill_maml(db: Path, runs: int, steps: int) -> list[str]:
    from engine.store import Store
    from tests.gui.metric_runs import MAML_METRICS, add_method_run, metric_rows

    ids = []
    with Store(db) as store:
        for r in range(runs):
            run_id = add_method_run(store, f"maml-{r:02d}", "maml", steps=1, seed=r)  # (its rows replaced below)
            store.conn.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            store.add_metrics(run_id, metric_rows(MAML_METRICS, steps, eval_every=50, seed=r))
            ids.append(run_id)
    return ids


def main() -> None:
    import argparse

    from _gui_probe import StallProbe, wait_for_paint
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from gui.pages.compare import ComparePage

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--maml", action="store_true", help="20 MAML runs with their 20 metrics each")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    from gui.main_thread_gc import collect_on_gui_thread

    collector = collect_on_gui_thread()  # noqa: F841 - garbage collected as in the app (gui.app.main)
    db = Path(tempfile.mkdtemp()) / "runs.db"
    from PySide6.QtCore import QSettings

    # Settings of its own: the page remembers metric picks (this script picks every metric).
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(db.parent / "settings"))
    t = time.perf_counter()
    ids = fill_maml(db, 20, 10_000) if args.maml else fill(db, 20, 10_000)
    print(f"filled 20 runs ({'MAML, 20 metrics' if args.maml else '2 metrics'}, 10,000 steps) in {time.perf_counter() - t:.1f} s")
    def new_page() -> ComparePage:
        page = ComparePage(db)
        page.resize(1400, 850)
        page.show()
        app.processEvents()
        return page

    page = new_page()
    import gc

    gc.freeze()  # as the app freezes what start-up built (gui.app.freeze_startup_objects): the fill's rows too
    for attempt in ("cold", "settled", "warm"):
        if attempt == "settled":  # a new page, first Compare in an app open for a few seconds
            page.close()
            page = new_page()
            page.imports.join()
        marks = {}
        page.loaded.connect(lambda: marks.setdefault("first", time.perf_counter()))
        probe = StallProbe()
        probe.start()
        t0 = time.perf_counter()
        page.set_runs(ids)
        loop = QEventLoop()
        page.loaded.connect(loop.quit)
        loop.exec()
        first = wait_for_paint(page.plots.grid.view.viewport(), time.perf_counter()) - t0
        drawn = sum(len(c.values) for per in page.comparison.curves.values() for c in per.values())
        loop = QEventLoop()
        page.details_loaded.connect(loop.quit)
        loop.exec()
        full = wait_for_paint(page.plots.grid.view.viewport(), time.perf_counter()) - t0
        stalls = probe.stop()
        page.loaded.disconnect()
        page.details_loaded.disconnect()
        n_points = sum(len(c.values) for per in page.comparison.curves.values() for c in per.values())
        print(f"{attempt}: first paint ({drawn:,} overview points) {first * 1000:.0f} ms; all {n_points:,} points "
              f"drawn {full * 1000:.0f} ms; UI stalls over both: worst {stalls['worst_ms']:.0f} ms, p99 {stalls['p99_ms']:.0f} ms")
    loop = QEventLoop()
    page.curves_drawn.connect(loop.quit)
    probe = StallProbe()
    probe.start()
    s = time.perf_counter()
    page.smoothing.setValue(0.9)
    loop.exec()
    wait_for_paint(page.plots.grid.view.viewport(), time.perf_counter())
    stalls = probe.stop()
    curves = sum(len(p.listDataItems()) for p in page.plot_items.values())
    print(f"smoothing on ({curves} curves, smoothed and raw): {(time.perf_counter() - s) * 1000:.0f} ms, "
          f"worst UI stall {stalls['worst_ms']:.0f} ms")
    if args.maml:  # every metric charted: 18 plots of 20 runs
        loop = QEventLoop()
        page.curves_drawn.connect(loop.quit)
        page.smoothing.setValue(0.0)
        loop.exec()
        loop = QEventLoop()
        page.curves_drawn.connect(loop.quit)
        probe = StallProbe()
        probe.start()
        s = time.perf_counter()
        page.plots.picker.set_picked(page.plots.picker.names)
        loop.exec()
        wait_for_paint(page.plots.grid.view.viewport(), time.perf_counter())
        stalls = probe.stop()
        print(f"every metric picked ({len(page.plot_items)} plots): {(time.perf_counter() - s) * 1000:.0f} ms, "
              f"worst UI stall {stalls['worst_ms']:.0f} ms, p99 {stalls['p99_ms']:.0f} ms")


if __name__ == "__main__":
    main()
