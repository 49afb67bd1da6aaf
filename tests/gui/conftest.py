"""GUI test fixtures: offscreen Qt, isolated settings and database, a fake engine, small datasets."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HERE = Path(__file__).resolve().parent
FAKE_ENGINE = HERE / "fake_engine.py"


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Settings, data folder and database in a temporary folder; the fake engine by default.

    Cyclic garbage is collected here, on the GUI thread, and never automatically during the
    test: as in the app (gui/main_thread_gc.py), a collection started by a background job
    would run a previous test's widget destructors off the GUI thread and deadlock."""
    import gc

    from PySide6.QtCore import QSettings

    root = tmp_path_factory.mktemp("gui-home")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(root / "settings"))
    monkeypatch.setenv("METALAB_DATA", str(root / "data"))
    monkeypatch.setenv("METALAB_DB", str(root / "data" / "metalab.db"))
    monkeypatch.setenv("FAKE_ENGINE_MODE", "ok")
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        from gui import startup_imports
        from gui.settings import app_settings

        app_settings().clear()
        while startup_imports._holds:  # a live run left on a closed Monitor: no hold outlives its test
            startup_imports.release()
        gc.enable()
        gc.collect()


@pytest.fixture
def fake_cmd() -> list[str]:
    return [sys.executable, str(FAKE_ENGINE)]


def write_intents(path: Path, *, classes: int = 32, per_class: int = 24, short_class: int | None = None) -> Path:
    """Synthetic requests: ``classes`` labels with ``per_class`` rows (one class shorter if asked)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    verbs = ["please", "can you", "I want to", "help me", "how do I"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for c in range(classes):
            rows = 12 if c == short_class else per_class
            for i in range(rows):
                writer.writerow([f"{verbs[i % len(verbs)]} do thing{c} now, request {i}", f"intent_{c:02d}"])
    return path


@pytest.fixture
def intents_csv(tmp_path) -> Path:
    return write_intents(tmp_path / "intents.csv")


@pytest.fixture
def window(qtbot, tmp_path, fake_cmd, intents_csv):
    """A main window on a temporary database that launches the fake engine, dataset loaded."""
    from engine.config import RunConfig
    from gui.main_window import MainWindow

    win = MainWindow(db_path=tmp_path / "runs.db", engine_command=fake_cmd, stop_timeout=3.0, restore=False)
    win.confirm_quit = lambda running: True
    qtbot.addWidget(win)
    win.show()
    config = RunConfig().with_values(
        {"dataset.path": str(intents_csv), "task.meta_val_fraction": 0.35, "train.episodes": 40, "train.device": "cpu", "name": "gui-test"}
    )
    win.new_page.set_config(config)
    qtbot.waitUntil(lambda: win.new_page.dataset_panel.dataset is not None, timeout=5000)
    win.new_page.validate()
    yield win
    win.queue.stop_all(wait_ms=3000)
    win.close()
