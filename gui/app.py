"""``metalab``: opens the desktop app.

Before Qt starts, two checks turn Qt's cryptic failures into one plain sentence: no
display at all (say how to run headless instead), and, on Linux with X11, system
libraries missing for Qt's xcb window plugin (say which package to install).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HEADLESS_HINT = (
    "To train without a window use the engine: `make demo`, or "
    "`metalab-engine run examples/quickstart.toml` (see `metalab-engine --help`). "
    "To use the GUI over SSH, forward X (ssh -X) or run it under Xvfb (`xvfb-run metalab`)."
)
# Debian/Ubuntu package names where the rule in ``package_for`` does not give them.
PACKAGES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libxkbcommon.so.0": "libxkbcommon0",
}


def package_for(soname: str) -> str:
    """The Debian/Ubuntu package that ships a library: libxcb-cursor.so.0 -> libxcb-cursor0."""
    if soname in PACKAGES:
        return PACKAGES[soname]
    match = re.match(r"^(lib[\w+.-]*?)\.so\.(\d+)", soname)
    if not match:
        return soname
    name, version = match.group(1).lower(), match.group(2)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def missing_libraries(ldd_output: str) -> list[str]:
    """Sonames ``ldd`` reports as 'not found'."""
    found = []
    for line in ldd_output.splitlines():
        if "not found" in line:
            name = line.split("=>")[0].strip()
            if name and name not in found:
                found.append(name)
    return found


def display_problem(env: dict[str, str], platform: str = sys.platform) -> str | None:
    """A message when there is no display to open a window on, else None."""
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa and qpa.split(":")[0] not in ("xcb", "wayland"):
        return None  # offscreen, vnc, eglfs...: the user chose
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return "MetaLab needs a display, and none was found (DISPLAY and WAYLAND_DISPLAY are not set). " + HEADLESS_HINT


def xcb_problem(env: dict[str, str], platform: str = sys.platform) -> str | None:
    """A message naming the packages to install when Qt's xcb plugin cannot load, else None."""
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0]
    uses_xcb = qpa == "xcb" or (not qpa and env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"))
    if not uses_xcb:
        return None
    plugin = _xcb_plugin()
    if plugin is None:
        return None
    try:
        output = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    missing = missing_libraries(output)
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(package_for(m) for m in missing))
    return (
        f"Qt's window plugin (xcb) cannot start: missing system libraries {', '.join(missing)}. "
        f"Install them with: sudo apt-get install {packages}"
    )


def _xcb_plugin() -> Path | None:
    try:
        import PySide6
    except ImportError:
        return None
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.exists() else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="metalab", description="MetaLab: a desktop experiment manager for meta-learning.")
    parser.add_argument("--db", help="run database (default: METALAB_DB or the user data folder)")
    parser.add_argument("--page", choices=["new", "monitor", "runs", "studies"], default="new", help="page to open on")
    parser.add_argument("--quit-after-shown", action="store_true", help=argparse.SUPPRESS)  # startup benchmark
    return parser.parse_args(argv)


FREEZE_POLL_MS = 100


def freeze_startup_objects() -> None:
    """Everything built at start-up lives as long as the app: out of the cyclic collector's
    sight, or each full collection walks it all (up to ~180 ms of frozen UI while an engine
    streams events, measured). New garbage is still collected. Once per process: the
    frozen objects are never examined again (tests building many windows do not call it).

    The freeze waits for the start-up imports (``gui.startup_imports``): scipy alone leaves
    ~36,000 objects that a collection would otherwise walk (23 ms of CPU each time, measured)."""
    import gc

    from PySide6.QtCore import QTimer

    from gui import startup_imports

    if not startup_imports.running():
        gc.freeze()
        return
    global _freeze_timer
    _freeze_timer = QTimer()
    _freeze_timer.setInterval(FREEZE_POLL_MS)

    def freeze_when_imported() -> None:
        if not startup_imports.running():
            _freeze_timer.stop()
            gc.freeze()

    _freeze_timer.timeout.connect(freeze_when_imported)
    _freeze_timer.start()


_freeze_timer = None  # the poll above, kept alive until it fires


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = dict(os.environ)
    problem = display_problem(env) or xcb_problem(env)
    if problem:
        print(f"metalab: {problem}", file=sys.stderr)
        return 1

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("MetaLab")
    app.setOrganizationName("MetaLab")
    app.setDesktopFileName("metalab")

    from gui.main_window import MainWindow

    from gui.main_thread_gc import collect_on_gui_thread

    collector = collect_on_gui_thread()  # noqa: F841 - lives as long as the app
    window = MainWindow(db_path=args.db)
    window.show_page(["new", "monitor", "runs", "studies"].index(args.page))
    window.show()
    QTimer.singleShot(0, freeze_startup_objects)
    if args.quit_after_shown:

        def report() -> None:
            print(f"shown {time.time():.6f}", flush=True)
            window.close()
            app.quit()

        QTimer.singleShot(0, report)
    return app.exec()
