"""`make run` installs, or names, the system libraries Qt's window needs (issue 27, case 12)."""

from __future__ import annotations

from pathlib import Path

from gui.system_libs import QT_XCB_LIBRARIES, install_command, known_libraries, missing_packages

REPO = Path(__file__).resolve().parents[2]


def _ldconfig(sonames: list[str]) -> str:
    lines = [f"{len(sonames)} libs found in cache `/etc/ld.so.cache'"]
    lines += [f"\t{name} (libc6,x86-64) => /lib/x86_64-linux-gnu/{name}" for name in sonames]
    return "\n".join(lines) + "\n"


def test_a_fresh_machine_lacking_icccm_and_keysyms_is_told_exactly_those():
    present = [s for s in QT_XCB_LIBRARIES if s not in ("libxcb-icccm.so.4", "libxcb-keysyms.so.1")]
    output = _ldconfig(["libc.so.6", "libxcb-icccm.so", *present])  # a dev symlink is not the runtime library
    assert "libxcb-icccm.so" in known_libraries(output) and "libxcb-icccm.so.4" not in known_libraries(output)
    assert missing_packages(output) == ["libxcb-icccm4", "libxcb-keysyms1"]


def test_a_bare_machine_gets_every_package_qt_needs_and_a_complete_one_none():
    packages = missing_packages(_ldconfig(["libc.so.6"]))
    for expected in ("libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0", "libxkbcommon-x11-0", "libxcb-image0",
                     "libxcb-render-util0", "libxcb-shape0", "libxcb-xinerama0"):
        assert expected in packages
    assert missing_packages(_ldconfig(list(QT_XCB_LIBRARIES))) == []


def test_installs_as_root_or_with_passwordless_sudo_and_otherwise_only_says_how():
    assert install_command(["libxcb-icccm4"], uid=0, sudo_works=False) == ["apt-get", "install", "-y", "-qq", "libxcb-icccm4"]
    with_sudo = install_command(["libxcb-icccm4"], uid=1000, sudo_works=True)
    assert with_sudo[:2] == ["sudo", "-n"] and with_sudo[-5:] == ["apt-get", "install", "-y", "-qq", "libxcb-icccm4"]
    assert install_command(["libxcb-icccm4"], uid=1000, sudo_works=False) is None


def test_make_run_does_the_system_set_up_and_make_test_does_not():
    makefile = (REPO / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    test = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "gui.system_libs --install" in run
    assert "system_libs" not in test and "QT_QPA_PLATFORM=offscreen" in test
