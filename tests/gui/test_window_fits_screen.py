"""The first window fits the screen it opens on (issue 27, case 13)."""

from PySide6.QtCore import QRect, QSize

from gui.window_size import fitting_geometry, fitting_size


def test_the_first_window_fits_a_1366x768_laptop():
    laptop = QRect(0, 0, 1366, 728)  # 768 less a 40-pixel panel
    size = fitting_size(laptop)
    assert size.height() + 40 <= 728 and size.width() <= 1366  # title bar included: the bottom row is on screen
    assert fitting_size(QRect(0, 0, 2560, 1400)) == QSize(1280, 820)  # a big screen gets the size we like


def test_a_geometry_saved_on_a_bigger_screen_is_moved_onto_this_one():
    placed = fitting_geometry(QRect(1500, 900, 1280, 1000), QRect(0, 0, 1366, 728))
    assert QRect(0, 0, 1366, 728).contains(placed.topLeft()) and placed.bottom() + 40 <= 728 + 8


def test_the_window_opens_within_the_available_geometry(qtbot, tmp_path, monkeypatch):
    from gui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "_available_geometry", lambda self: QRect(0, 0, 1366, 728))
    window = MainWindow(db_path=tmp_path / "runs.db", restore=False)
    qtbot.addWidget(window)
    assert window.height() + 40 <= 728 and window.width() <= 1366
    assert window.minimumSizeHint().height() <= window.height()  # nothing forces it taller again
