"""Render screenshots of the main pages into docs/screenshots/ (used by the README).

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/screenshots.py

Runs the real window on a temporary database. Runs are played by the fake engine
(tests/gui/fake_engine.py, same events and store writes as the real one) so the pictures
are quick and reproducible; the dataset is the bundled one when present.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAKE_ENGINE = REPO / "tests" / "gui" / "fake_engine.py"
sys.path.insert(0, str(REPO))


def demo_dataset(folder: Path) -> str:
    from engine.data import bundled_datasets

    if "intents" in bundled_datasets():
        return "bundled:intents"
    path = folder / "intents.csv"
    topics = ["refund", "billing", "password_reset", "delivery", "cancel_order", "address_change", "gift_card",
              "warranty", "invoice", "opening_hours", "store_locator", "loyalty_points", "damaged_item", "exchange",
              "subscription", "payment_failed", "promo_code", "track_order", "size_guide", "account_delete",
              "newsletter", "contact_agent", "price_match", "out_of_stock"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for t, topic in enumerate(topics):
            for i in range(30 + (t * 7) % 15):
                writer.writerow([f"I need help with {topic.replace('_', ' ')} (case {i})", topic])
    return str(path)


def launch(window) -> None:  # noqa: ANN001
    problem = window.new_page.validate()
    if problem:
        raise SystemExit(f"cannot launch: {problem}")
    window.new_page.request_launch()


def settle(app, seconds: float) -> None:  # noqa: ANN001
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def wait(app, condition, timeout: float = 30.0) -> None:  # noqa: ANN001
    end = time.time() + timeout
    while not condition():
        if time.time() > end:
            raise SystemExit("timed out waiting for the window")
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--size", default="1400x900")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x"))

    tmp = Path(tempfile.mkdtemp(prefix="metalab-shots-"))
    os.environ["METALAB_DB"] = str(tmp / "runs.db")
    os.environ["FAKE_ENGINE_MODE"] = "ok"
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    app.setApplicationName("MetaLab")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    from engine.config import RunConfig
    from gui.main_window import MainWindow

    window = MainWindow(db_path=tmp / "runs.db", engine_command=[sys.executable, str(FAKE_ENGINE)], restore=False)
    window.confirm_quit = lambda running: True
    window.resize(width, height)
    window.show()
    dataset = demo_dataset(tmp)
    values = {"dataset.path": dataset, "name": "protonet-minilm", "tags": ["demo"], "train.device": "cpu",
              "train.episodes": 300}
    if not dataset.startswith("bundled:"):
        values["task.meta_val_fraction"] = 0.4  # 24 classes: keep 5 for meta-validation
    config = RunConfig().with_values(values)
    page = window.new_page
    page.set_config(config)
    wait(app, lambda: not page.dataset_panel.is_busy())
    wait(app, lambda: "parameters" in page.model_panel.details.text() or "unavailable" in page.model_panel.details.text())
    page.validate()
    settle(app, 0.5)
    window.grab().save(str(out / "new_experiment.png"))

    # A finished run, a failed one and a live one for the Monitor and Runs pages.
    os.environ.update(FAKE_STEPS="300", FAKE_STEP_SECONDS="0.01")
    launch(window)
    wait(app, lambda: not window.queue.jobs)
    os.environ["FAKE_ENGINE_MODE"] = "crash"
    page.name.setText("maml-too-big")
    launch(window)
    wait(app, lambda: not window.queue.jobs)
    os.environ.update(FAKE_ENGINE_MODE="slow", FAKE_STEPS="600", FAKE_STEP_SECONDS="0.02")
    page.name.setText("protonet-long")
    launch(window)
    session = window.monitor_page.session
    wait(app, lambda: session.progress.get("done", 0) >= 200)
    window.monitor_page.smoothing.setValue(60)
    window.monitor_page.plot.show_readout(150.0)
    settle(app, 0.5)
    window.grab().save(str(out / "monitor.png"))
    window.stop_current()
    wait(app, lambda: not window.queue.jobs)

    # A MAML run: its 20 metrics, the default picks charted (loss, accuracy, inner loop before/after).
    os.environ.update(FAKE_ENGINE_MODE="slow", FAKE_STEPS="400", FAKE_STEP_SECONDS="0.02", FAKE_METRICS="maml")
    maml = config.to_dict()
    maml["name"], maml["method"] = "maml-inner-loop", {"name": "maml", "params": {}}
    page.set_config(RunConfig.from_dict(maml))
    wait(app, lambda: not page.dataset_panel.is_busy())
    page.validate()
    launch(window)
    session = window.monitor_page.session
    wait(app, lambda: session.progress.get("done", 0) >= 250)
    window.monitor_page.smoothing.setValue(0)
    settle(app, 0.5)
    window.monitor_page.plot.show_readout(200.0, "inner_query_accuracy")
    settle(app, 0.3)
    window.grab().save(str(out / "monitor_maml.png"))
    window.stop_current()
    wait(app, lambda: not window.queue.jobs)
    os.environ["FAKE_METRICS"] = "basic"

    window.show_page(2)
    settle(app, 0.5)  # (runs.png comes from screenshots_browse.py, over a fuller database)
    window.open_run(window.runs_page.model.run(1)["id"])  # the failed run, from the store
    settle(app, 0.5)
    window.grab().save(str(out / "monitor_failed.png"))
    window.close()
    for name in ("new_experiment", "monitor", "monitor_maml", "monitor_failed"):
        print(out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
