"""Issue 27 case 9 (Qt rich text) and the property test's GUI part: with runs whose names,
tags, dataset labels and metric names are hostile text, every page of the main window is
visited (Runs, Compare, Monitor, Studies, Try a model, Inspect) and every QLabel is read.
No label renders the user's text as markup: it is either plain text, or rich text in which
the user's part is escaped (no ``<img>``, ``<script>`` or styled ``<b>`` of theirs)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QLabel

from engine.store import Store
from tests.gui.store_fill import add_run, base_config
from tests.hostile_text import USER_TAGS, hostile_strings

NAMES = hostile_strings(24, seed=9)
RICH = "<b style='color:red'>BEST RUN 99.9%</b><img src='/etc/passwd'>"  # the example


def renders_markup(label: QLabel) -> bool:
    fmt = label.textFormat()
    if fmt == Qt.TextFormat.PlainText:
        return False
    if fmt == Qt.TextFormat.AutoText:
        return GuiQt.mightBeRichText(label.text())
    return True


def hostile_markup_in(text: str) -> list[str]:
    """The users' tags that reach ``text`` unescaped (MetaLab's own rich text never uses them)."""
    return [tag for tag in USER_TAGS if tag in text]


def check_labels(win, where: str) -> None:
    bad = [(where, label.objectName() or type(label.parent()).__name__, label.text()[:120])
           for label in win.findChildren(QLabel)
           if renders_markup(label) and hostile_markup_in(label.text())]
    assert not bad, bad


def test_no_label_of_any_page_renders_a_users_text_as_markup(qtbot, tmp_path, fake_cmd):
    from gui.main_window import PAGES, MainWindow

    db = tmp_path / "runs.db"
    with Store(db) as store:
        ids = []
        for i in range(8):  # every string is some run's name, tag, dataset label and metric name
            name = NAMES[i] + NAMES[i + 8] + NAMES[i + 16] if i else RICH  # the Compare title starts with markup
            config = base_config(name, tags=[NAMES[(i + 11) % 24]], dataset=NAMES[(i + 12) % 24] + ".csv")
            run_id = add_run(store, config, accuracies=[0.6, 0.7, 0.65, 0.75])
            store.add_metrics(run_id, [(NAMES[(i + 13) % 24], 1, 0.5, 1.0, 1e9)])
            ids.append(run_id)
    win = MainWindow(db_path=db, engine_command=fake_cmd, stop_timeout=3.0, restore=False)
    win.confirm_quit = lambda running: True
    qtbot.addWidget(win)
    win.show()
    for index, page in enumerate(PAGES):
        win.show_page(index)
        qtbot.wait(200)
        check_labels(win, page)
    runs = win.runs_page
    qtbot.waitUntil(lambda: runs.model.rowCount() == len(ids), timeout=15_000)
    runs.select_ids(ids[:4])
    qtbot.wait(100)
    check_labels(win, "Runs, four selected")
    with qtbot.waitSignals([win.compare_page.loaded, win.compare_page.stats_shown], timeout=30_000):
        win.compare_runs(ids[:4])
    check_labels(win, "Compare")
    win.open_run(ids[0])
    qtbot.wait(300)
    check_labels(win, "Monitor")
    win.try_page.refresh()
    win.inspect_page.refresh()
    qtbot.wait(300)
    check_labels(win, "Try a model and Inspect")


def test_the_delete_question_and_the_notes_dialog_show_a_runs_name_as_plain_text(qtbot, tmp_path):
    """The Runs page's own dialogs name the run: QMessageBox and QInputDialog default to AutoText,
    which would render a name such as RICH as a red bold line with an image."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog, QInputDialog, QMessageBox

    from gui.pages.runs import RunsPage

    page = RunsPage(tmp_path / "runs.db")
    qtbot.addWidget(page)
    seen: list[tuple[str, list]] = []

    def look_and_close() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QDialog):
            QTimer.singleShot(20, look_and_close)
            return
        labels = [(label.textFormat(), label.text()) for label in dialog.findChildren(QLabel) if RICH in label.text()]
        seen.append((type(dialog).__name__, labels))
        dialog.reject()

    QTimer.singleShot(20, look_and_close)
    assert page.confirm("Delete runs", f"Delete 1 run ({RICH})?") is False  # rejected: not deleted
    QTimer.singleShot(20, look_and_close)
    assert page.ask_notes("Notes", f"Notes on {RICH}:", "") is None
    assert [name for name, _ in seen] == [QMessageBox.__name__, QInputDialog.__name__]
    for name, labels in seen:
        assert labels, f"{name} shows no label with the run's name"
        assert all(fmt == Qt.TextFormat.PlainText and text.count(RICH) == 1 for fmt, text in labels), (name, labels)


def test_an_error_naming_a_users_text_is_shown_as_plain_text(qtbot, tmp_path, fake_cmd):
    """``Cannot open the run``: the store's error quotes the id it was given, here markup."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from gui.main_window import MainWindow

    win = MainWindow(db_path=tmp_path / "runs.db", engine_command=fake_cmd, stop_timeout=3.0, restore=False)
    win.confirm_quit = lambda running: True
    qtbot.addWidget(win)
    seen = []

    def look_and_close() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, look_and_close)
            return
        seen.append((box.windowTitle(), box.textFormat(), box.text()))
        box.reject()

    QTimer.singleShot(20, look_and_close)
    win.open_run(RICH)
    assert len(seen) == 1, seen
    title, fmt, text = seen[0]
    assert title == "Cannot open the run" and RICH in text and fmt == Qt.TextFormat.PlainText
