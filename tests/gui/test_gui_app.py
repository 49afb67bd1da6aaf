"""Start-up: no torch in the GUI, plain messages instead of Qt's plugin errors, python -m gui."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gui.app import display_problem, missing_libraries, package_for, xcb_problem

REPO = Path(__file__).resolve().parents[2]


def test_gui_imports_no_torch_or_transformers():
    code = (
        "import sys, gui.app, gui.main_window, gui.pages.monitor, gui.pages.new_experiment;"
        "bad = [m for m in ('torch', 'transformers', 'peft', 'optuna', 'engine.methods', 'engine.models', 'engine.training')"
        " if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_package_names_for_missing_libraries():
    assert package_for("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert package_for("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert package_for("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert package_for("libEGL.so.1") == "libegl1"
    ldd = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibxcb-cursor.so.0 => not found\n"
        "\tlibQt6Gui.so.6 => /x/libQt6Gui.so.6 (0x7f)\n"
        "\tlibxcb-icccm.so.4 => not found\n"
    )
    assert missing_libraries(ldd) == ["libxcb-cursor.so.0", "libxcb-icccm.so.4"]


def test_no_display_says_how_to_run_headless():
    message = display_problem({}, platform="linux")
    assert message is not None and "make demo" in message and "metalab-engine" in message
    assert display_problem({"DISPLAY": ":0"}, platform="linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, platform="linux") is None
    assert display_problem({}, platform="darwin") is None


def test_xcb_check_only_when_xcb_is_used():
    assert xcb_problem({"QT_QPA_PLATFORM": "offscreen"}, platform="linux") is None
    assert xcb_problem({"WAYLAND_DISPLAY": "w"}, platform="linux") is None
    assert xcb_problem({"DISPLAY": ":0"}, platform="win32") is None


def test_metalab_without_display_exits_with_a_message():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = subprocess.run([sys.executable, "-m", "gui"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "needs a display" in out.stderr and "make demo" in out.stderr
    assert "Traceback" not in out.stderr


def test_python_m_gui_opens_the_window(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", METALAB_DB=str(tmp_path / "db.sqlite"))
    out = subprocess.run(
        [sys.executable, "-m", "gui", "--quit-after-shown"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("shown ")
    assert (tmp_path / "db.sqlite").exists()


def test_window_title_and_shortcuts(window):
    assert window.windowTitle().startswith("MetaLab")
    assert window.new_action.shortcut().toString() == "Ctrl+N"
    assert window.open_action.shortcut().toString() == "Ctrl+O"
    assert window.save_action.shortcut().toString() == "Ctrl+S"
    assert window.quit_action.shortcut().toString() == "Ctrl+Q"
    assert window.launch_action.shortcut().toString() == "Ctrl+Return"
    assert str(window.db_path) in window.db_label.text()


def test_settings_remember_geometry_and_last_config(qtbot, tmp_path, fake_cmd, window):
    from gui.main_window import MainWindow
    from gui.settings import app_settings

    window.new_page.name.setText("remembered")
    window.close()
    assert app_settings().value("window/geometry") == window.saveGeometry()
    again = MainWindow(db_path=tmp_path / "runs.db", engine_command=fake_cmd)
    qtbot.addWidget(again)
    assert again.new_page.name.text() == "remembered"
    assert again.new_page.dataset_panel.path() == window.new_page.dataset_panel.path()
    again.info.shutdown()


def test_devices_from_the_engine_show_up(qtbot, window):
    qtbot.waitUntil(lambda: "CPU (2 cores)" in window.devices_label.text(), timeout=10_000)
    labels = [window.new_page.model_panel.device.itemText(i) for i in range(window.new_page.model_panel.device.count())]
    assert labels[0].startswith("auto") and "CPU (2 cores)" in labels


def test_model_info_from_the_engine(qtbot, window):
    panel = window.new_page.model_panel
    qtbot.waitUntil(lambda: "parameters" in panel.details.text(), timeout=10_000)
    assert "22.7M parameters" in panel.details.text() and "to train" in panel.details.text()
    panel.set_model_name("missing/model")
    qtbot.waitUntil(lambda: "unavailable" in panel.details.text(), timeout=10_000)
    assert "model not found" in panel.details.text()
