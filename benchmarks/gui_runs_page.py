"""Runs page on a database with 10,000 runs: time to first paint, and scrolling.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_runs_page.py [--runs 10000]

The database is filled with sqlite-utils in one transaction (the runs look like real
finished runs: config JSON, final metrics, tags). First paint = from creating the page to
the table painted with rows (the rows load on a worker thread). Scrolling: 200 page-down
steps with a repaint each; reports the slowest and mean step, and the UI stall probe.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def fill(db: Path, n: int) -> None:
    import random

    from engine.config import RunConfig
    from engine.store import Store

    rng = random.Random(0)
    base = RunConfig().to_dict()
    with Store(db) as store:
        rows = []
        for i in range(n):
            config = dict(base, name=f"run-{i:05d}")
            acc = rng.uniform(0.3, 0.9)
            rows.append({
                "id": f"{i:012x}", "name": config["name"], "status": rng.choice(["finished"] * 8 + ["failed", "interrupted"]),
                "method": rng.choice(["protonet", "finetune", "maml"]), "model": "bundled:all-MiniLM-L6-v2",
                "dataset": rng.choice(["bundled:intents", "data/a.csv", "data/b.csv"]), "task_mode": "episodic",
                "n_way": 5, "k_shot": rng.choice([1, 5]), "config": json.dumps(config), "tags": json.dumps([rng.choice(["a", "b", "c"])]),
                "notes": "", "created_at": f"2026-11-{1 + i % 20:02d}T10:{i % 60:02d}:00.000Z",
                "started_at": "2026-11-01T10:00:00.000Z", "finished_at": "2026-11-01T10:03:00.000Z",
                "final_metrics": json.dumps({"test_accuracy": acc, "test_accuracy_ci95": 0.01, "test_macro_f1": acc - 0.02}),
            })
        with store.conn:
            store.db["runs"].insert_all(rows, batch_size=2000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    from _gui_probe import StallProbe, wait_for_paint
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from gui.pages.runs import RunsPage

    app = QApplication.instance() or QApplication([])
    folder = Path(tempfile.mkdtemp())
    db = folder / "runs.db"
    t = time.perf_counter()
    fill(db, args.runs)
    print(f"filled {args.runs} runs in {time.perf_counter() - t:.1f} s")

    probe = StallProbe()
    probe.start()
    t0 = time.perf_counter()
    page = RunsPage(db)
    page.resize(1400, 850)
    page.show()
    loop = QEventLoop()
    page.runs_changed.connect(loop.quit)
    page.refresh()
    loop.exec()  # as the app waits: in the event loop, not polling (polling slowed the loading thread)
    first_paint = wait_for_paint(page.table.viewport(), time.perf_counter()) - t0
    load_stalls = probe.stop()

    probe = StallProbe()
    probe.start()
    bar = page.table.verticalScrollBar()
    steps = []
    for i in range(200):
        s = time.perf_counter()
        bar.setValue(int(bar.maximum() * i / 199))
        page.table.viewport().repaint()
        app.processEvents()
        steps.append(time.perf_counter() - s)
    probe.stop()
    page.table.sortByColumn(6, page.table.horizontalHeader().sortIndicatorOrder())
    s = time.perf_counter()
    page.search.setText("run-01")
    app.processEvents()
    filter_ms = (time.perf_counter() - s) * 1000
    print(f"first paint with {page.model.rowCount()} rows: {first_paint * 1000:.0f} ms "
          f"(UI stall while loading: worst {load_stalls['worst_ms']:.0f} ms)")
    print(f"scrolling: 200 jumps across the table, mean {sum(steps) / len(steps) * 1000:.1f} ms, "
          f"worst {max(steps) * 1000:.1f} ms per jump")
    print(f"text filter over {args.runs} rows: {filter_ms:.0f} ms ({page.proxy.rowCount()} shown)")


if __name__ == "__main__":
    main()
