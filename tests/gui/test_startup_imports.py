"""scipy is imported on a thread at start, once, and pauses while the UI holds it."""

from __future__ import annotations

import threading

from gui import startup_imports


def test_the_startup_imports_run_once():
    first = startup_imports.start()
    assert startup_imports.start() is first
    first.join(timeout=60)
    assert not startup_imports.running()


def test_held_imports_stop_between_modules_until_released(monkeypatch):
    imported: list[str] = []
    one_in = threading.Event()

    def fake_import(name: str) -> None:
        imported.append(name)
        one_in.set()

    monkeypatch.setattr(startup_imports, "_thread", None)
    monkeypatch.setattr(startup_imports, "MODULES", ("a", "b", "c"))
    monkeypatch.setattr(startup_imports, "_import_module", fake_import)
    startup_imports.hold()
    try:
        thread = startup_imports.start()
        thread.join(timeout=0.5)
        assert imported == [] and thread.is_alive()  # held before the first module
        startup_imports.hold()  # two holders: both must let go
        startup_imports.release()
        thread.join(timeout=0.5)
        assert imported == [] and thread.is_alive()
    finally:
        startup_imports.release()
    thread.join(timeout=30)
    assert imported == ["a", "b", "c"] and not thread.is_alive()
