"""`make run`'s system set-up: the libraries Qt's xcb window plugin needs (issue 27, case 12).

PySide6's wheels bundle Qt but not these X11/xcb libraries, and a fresh Debian or Ubuntu
machine lacks several (``libxcb-icccm4``, ``libxcb-keysyms1``, ``libxcb-cursor0``...), so the
window would not open. Before the app starts, ``make run`` runs ``python3 -m gui.system_libs
--install``: the missing ones are found in ``ldconfig -p`` and installed with apt-get where
the machine allows (root, or sudo without a password, as ``.ci/run`` installs PostgreSQL);
otherwise one line gives the command. ``make test`` runs offscreen and needs none of them.

Standard library only: it runs with the system Python, before the virtual environment exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

# soname -> the Debian/Ubuntu package that ships it: what Qt 6's libqxcb.so loads.
QT_XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
}


def known_libraries(ldconfig_output: str) -> set[str]:
    """Sonames in ``ldconfig -p`` output (lines like ``\\tlibxcb.so.1 (libc6,x86-64) => /usr/lib/...``)."""
    names = set()
    for line in ldconfig_output.splitlines():
        if " => " in line:  # the header line ("586 libs found in cache ...") has none
            names.add(line.strip().split(" ", 1)[0])
    return names


def missing_packages(ldconfig_output: str) -> list[str]:
    """The packages to install for the libraries ``ldconfig -p`` does not list, in a stable order."""
    known = known_libraries(ldconfig_output)
    return list(dict.fromkeys(pkg for soname, pkg in QT_XCB_LIBRARIES.items() if soname not in known))


def install_command(packages: list[str], *, uid: int, sudo_works: bool) -> list[str] | None:
    """apt-get as root, through ``sudo -n`` where that needs no password, else None."""
    base = ["apt-get", "install", "-y", "-qq", *packages]
    if uid == 0:
        return base
    if sudo_works:
        return ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", *base]  # sudo drops the environment
    return None


def _ldconfig_output() -> str | None:
    for ldconfig in ("ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"):
        try:
            return subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
    return None


def _sudo_works() -> bool:
    if shutil.which("sudo") is None:
        return False
    try:
        return subprocess.run(["sudo", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m gui.system_libs", description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="install the missing ones where the machine allows")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        return 0
    output = _ldconfig_output()
    if not output:
        return 0  # no ldconfig: not a glibc system we know; the app's own check still speaks
    packages = missing_packages(output)
    if not packages:
        return 0
    hint = f"MetaLab's window needs system libraries: sudo apt-get install {' '.join(packages)}"
    if not args.install or shutil.which("apt-get") is None:
        print(hint, file=sys.stderr)
        return 0
    command = install_command(packages, uid=os.getuid(), sudo_works=os.getuid() != 0 and _sudo_works())
    if command is None:
        print(hint, file=sys.stderr)
        return 0
    print(f"installing the system libraries Qt's window needs: {' '.join(packages)}", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    prefix = command[: command.index("apt-get")]
    subprocess.run([*prefix, "apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL)
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL).returncode == 0
    left = missing_packages(_ldconfig_output() or "") if done else packages
    if left:
        print(f"could not install them all; {hint}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
