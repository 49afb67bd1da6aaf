"""Python's cyclic garbage collector runs only on the GUI thread.

Left automatic, a collection can start in whichever thread happens to allocate, such as a
background job loading a dataset (``gui/background.py``). If the garbage holds Qt widgets
(a closed dialog's menu), their destructors then run off the GUI thread and deadlock
against it. pyqtgraph's collector disables automatic collection and collects on a timer.
"""

from __future__ import annotations

from pyqtgraph.util.garbage_collector import GarbageCollector

INTERVAL_S = 1.0


def collect_on_gui_thread() -> GarbageCollector:
    """Start collecting on the GUI thread; keep the returned object for the app's lifetime."""
    return GarbageCollector(interval=INTERVAL_S)
