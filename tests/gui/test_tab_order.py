"""Tab on the New experiment page follows the screen (issue 27, case 18h)."""

from __future__ import annotations

from PySide6.QtCore import Qt


def _tab(qtbot, widget, backwards: bool = False):
    qtbot.keyClick(widget, Qt.Key.Key_Backtab if backwards else Qt.Key.Key_Tab)
    return widget.window().focusWidget()


def test_tab_runs_along_the_bottom_row_to_launch_and_never_back_into_the_method_form(qtbot, window):
    page = window.new_page
    window.activateWindow()
    qtbot.waitUntil(lambda: page.launch_button.isEnabled() and page.baseline_button.isEnabled(), timeout=10_000)
    page.baseline_button.setFocus()
    qtbot.waitUntil(lambda: page.baseline_button.hasFocus(), timeout=5000)
    seen = [page.baseline_button]
    for _ in range(3):
        seen.append(_tab(qtbot, seen[-1]))
    assert seen == [page.baseline_button, page.open_button, page.save_button, page.launch_button]
    after = _tab(qtbot, page.launch_button)
    assert after is not page.search_button and not page.settings_scroll.isAncestorOf(after)
    page.method.setFocus()
    qtbot.waitUntil(lambda: page.method.hasFocus(), timeout=5000)
    assert _tab(qtbot, page.method) is page.search_button  # Search sits beside Method
    page.method.setCurrentIndex(page.method.findData("reptile"))  # a rebuilt method form keeps its place
    qtbot.waitUntil(lambda: page.method_name() == "reptile", timeout=5000)
    page.launch_button.setFocus()
    qtbot.waitUntil(lambda: page.launch_button.hasFocus(), timeout=5000)
    after = _tab(qtbot, page.launch_button)
    assert not page.settings_scroll.isAncestorOf(after)
    assert _tab(qtbot, after, backwards=True) is page.launch_button
    assert _tab(qtbot, page.launch_button, backwards=True) is page.save_button
