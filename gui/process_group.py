"""Engines run in a session and process group of their own; signals go to the whole group.

A group of its own means a terminal's SIGHUP, a Ctrl+C in the GUI's terminal or the GUI
dying does not reach the engine (days of training survive a closed window), and stopping
an engine also stops what it started (data-loader workers). The group id is the engine's
pid (``setsid``). A pid whose group is not its own (an engine started by something else)
is signalled alone: never signal a group we did not create.
"""

from __future__ import annotations

import os
import signal
from typing import Any

SIGTERM = signal.SIGTERM
SIGKILL = getattr(signal, "SIGKILL", signal.SIGTERM)


def start_in_own_session(process: Any) -> None:
    """Makes a ``QProcess`` start its program with ``setsid`` (POSIX; a no-op elsewhere)."""
    if os.name != "posix" or not hasattr(process, "setUnixProcessParameters"):
        return
    from PySide6.QtCore import QProcess

    process.setUnixProcessParameters(QProcess.UnixProcessFlag.CreateNewSession)


def owns_group(pid: int) -> bool:
    """True when ``pid`` leads its own process group (so the group can be signalled)."""
    if os.name != "posix" or pid <= 0:
        return False
    try:
        return os.getpgid(pid) == pid
    except (ProcessLookupError, PermissionError):
        return False


def signal_group(pid: int, sig: int) -> bool:
    """Sends ``sig`` to ``pid``'s group when it leads one, else to ``pid`` alone; False when gone."""
    if pid <= 0:
        return False
    try:
        if owns_group(pid):
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def end_group(group_id: int) -> None:
    """Kills what is left of a group whose leader has exited (no-op when nothing is left)."""
    if os.name != "posix" or group_id <= 0:
        return
    try:
        os.killpg(group_id, SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(group_id: int) -> bool:
    """True while any process of the group is left."""
    if os.name != "posix" or group_id <= 0:
        return False
    try:
        os.killpg(group_id, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True
