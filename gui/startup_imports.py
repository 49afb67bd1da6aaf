"""Libraries the app needs soon but not at once, imported on a thread of their own at start.

scipy.stats (Compare's paired statistics) and scipy.signal (smoothing) take ~1.4 s to
import here; on the UI thread that would be the first Compare's or the first touch of
Smoothing's wait. The thread is started once per process; every caller gets the same one.

An import holds the GIL most of the time, so the UI thread shares it while it runs. UI work
that must not (a Compare's first paint) ``hold``s the imports: they stop after the module at
hand (a fraction of a second at most: dependencies come first, one at a time) until
``release``.
"""

from __future__ import annotations

import importlib
import threading

# Dependencies first: each step is short, and the thread can stop between two of them.
MODULES = ("scipy._lib._array_api", "scipy.special", "scipy.linalg", "scipy.optimize", "scipy.interpolate",
           "scipy.spatial", "scipy.ndimage", "scipy.stats", "scipy.signal")

_thread: threading.Thread | None = None
_go = threading.Event()  # cleared while held
_go.set()
_holds = 0


_import_module = importlib.import_module


def _import() -> None:
    for name in MODULES:
        _go.wait()
        _import_module(name)


def start() -> threading.Thread:
    """The import thread, started on the first call."""
    global _thread
    if _thread is None:
        _thread = threading.Thread(target=_import, name="startup-imports", daemon=True)
        _thread.start()
    return _thread


def running() -> bool:
    return _thread is not None and _thread.is_alive()


def hold() -> None:
    """Pause the imports after the module at hand (GUI thread; pair with ``release``)."""
    global _holds
    _holds += 1
    _go.clear()


def release() -> None:
    global _holds
    _holds = max(0, _holds - 1)
    if _holds == 0:
        _go.set()
