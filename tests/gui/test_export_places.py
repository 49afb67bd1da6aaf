"""Exports say what they wrote and their dialogs start where the last export went (issue 27, case 18f)."""

from __future__ import annotations

from pathlib import Path

from tests.gui.store_fill import fill


def _window(qtbot, tmp_path):
    from gui.main_window import MainWindow

    db = tmp_path / "runs.db"
    ids = fill(db)
    win = MainWindow(db_path=db, restore=False)
    win.confirm_quit = lambda running: True
    qtbot.addWidget(win)
    win.show()
    return win, ids


def test_a_run_export_names_the_file_in_the_status_bar_and_the_next_dialog_starts_beside_it(qtbot, tmp_path):
    win, ids = _window(qtbot, tmp_path)
    page = win.runs_page
    win.show_page(2)
    qtbot.waitUntil(lambda: page.model.rowCount() == 4, timeout=5000)
    starts: list[str] = []
    target = tmp_path / "exports" / "deep"
    target.mkdir(parents=True)

    def pick(_title, start, _filters):
        starts.append(start)
        return str(target / Path(start).name)

    page.ask_save_path = pick
    page.select_ids([ids["a"]])
    page.export_selected("csv")
    written = target / f"proto-a-{ids['a']}.csv"
    assert written.exists()
    assert Path(starts[0]).parent == Path.home()  # nothing exported yet: the home folder
    assert str(written) in win.statusBar().currentMessage()
    assert win.statusBar().currentMessage().startswith("Exported run")
    assert str(written) in page.message.text()
    page.export_selected("toml")
    assert Path(starts[1]).parent == target  # the folder of the last export
    assert str(target / f"proto-a-{ids['a']}.toml") in win.statusBar().currentMessage()
    from gui.export_places import export_folder

    assert export_folder() == target  # the folder dialogs (TensorBoard, a model export) start there too


def test_a_chart_export_from_the_monitor_says_so_and_is_remembered(qtbot, tmp_path, monkeypatch):
    from gui.pages import monitor

    win, ids = _window(qtbot, tmp_path)
    win.open_run(ids["a"])
    qtbot.waitUntil(lambda: win.monitor_page.session is not None, timeout=5000)
    starts: list[str] = []
    target = tmp_path / "charts"
    target.mkdir()

    def dialog(_parent, _title, start, _filters):
        starts.append(start)
        return str(target / Path(start).name), ""

    monkeypatch.setattr(monitor.QFileDialog, "getSaveFileName", dialog)
    win.monitor_page._export_dialog("png")
    written = target / "proto-a.png"
    assert written.exists() and written.stat().st_size > 0
    assert win.statusBar().currentMessage() == f"Exported the charts to {written}"
    win.monitor_page._export_dialog("svg")
    assert Path(starts[1]).parent == target
