"""Libraries the app needs soon but not at once, imported on a thread of their own at start.

scipy.stats (Compare's paired statistics, ~1.5 s to import here) and scipy.signal (smoothing,
~0.2 s) would otherwise be imported on the first Compare or the first touch of Smoothing.
The thread is started once per process; every caller gets the same thread.
"""

from __future__ import annotations

import threading

_thread: threading.Thread | None = None


def _import() -> None:
    import scipy.signal  # noqa: F401
    import scipy.stats  # noqa: F401


def start() -> threading.Thread:
    """The import thread, started on the first call."""
    global _thread
    if _thread is None:
        _thread = threading.Thread(target=_import, name="startup-imports", daemon=True)
        _thread.start()
    return _thread


def running() -> bool:
    return _thread is not None and _thread.is_alive()
