"""What the screenshot scripts share: where the repo and the pictures are, the window size,
and waiting on the event loop for a condition (a script has no qtbot)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
SIZE = (1024, 700)  # the smallest screen the app must fit
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def wait(app, cond, timeout: float = 240.0) -> None:  # noqa: ANN001
    """Until `cond()` holds or `timeout` seconds pass (generous: a slow machine only waits longer)."""
    end = time.time() + timeout
    while not cond() and time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def settle(app, seconds: float = 0.3) -> None:  # noqa: ANN001
    wait(app, lambda: False, seconds)
