"""Speed and ETA of a run, measured per phase from its progress events.

The engine's own ``rate`` is episodes since the run started: it counts model loading and
the untrained evaluation, and in the meta-test phase it divides test episodes by the whole
run's time ("ETA 1 h 16 min" with five minutes left). Here each phase (train, test, ...)
has its own clock: the rate is the episodes done over the last ``WINDOW`` seconds of that
phase, as the events arrive, and the ETA is what is left of the phase at that rate.
Qt-free.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

WINDOW = 60.0  # seconds of events the rate is measured over (a moving window: it follows slow-downs)


class PhaseRate:
    def __init__(self) -> None:
        self.phase: str | None = None
        self.done = 0
        self.total = 0
        # phase -> its samples: training keeps its clock across the validations in between
        self._clocks: dict[str, deque[tuple[float, int]]] = {}

    @property
    def _samples(self) -> deque[tuple[float, int]]:
        return self._clocks.setdefault(self.phase or "train", deque())

    def update(self, event: dict[str, Any], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        phase = str(event.get("phase") or "train")
        done, total = int(event.get("done") or 0), int(event.get("total") or 0)
        self.phase = phase
        samples = self._samples
        if samples and done < samples[-1][1]:  # the phase again from the start (a resumed run, the next validation)
            samples.clear()
        self.done, self.total = done, total
        samples.append((now, done))
        while len(samples) > 2 and now - samples[1][0] > WINDOW:
            samples.popleft()

    def rate(self) -> float | None:
        """Episodes a second in this phase; None until two events of it arrived."""
        samples = self._samples
        if len(samples) < 2:
            return None
        (t0, d0), (t1, d1) = samples[0], samples[-1]
        if t1 <= t0 or d1 <= d0:
            return None
        return (d1 - d0) / (t1 - t0)

    def eta(self) -> float | None:
        rate = self.rate()
        if rate is None or not self.total:
            return None
        return max(self.total - self.done, 0) / rate


# How the progress bar names each phase of the events wire (docs/EVENTS.md).
PHASE_TITLES = {"train": "train", "val": "validation", "test": "meta-test", "untrained": "untrained baseline",
                "reference": "frozen reference"}


def format_rate(rate: float | None, unit: str = "episodes") -> str:
    """3.2 episodes/s, or 12 s/episode when slower than one a second (never "0.0 episodes/s")."""
    if rate is None or rate <= 0:
        return ""
    if rate >= 1:
        return f"{rate:.1f} {unit}/s"
    seconds = 1 / rate
    one = unit.removesuffix("s") if unit.endswith("s") else unit
    return f"{seconds:.0f} s/{one}" if seconds >= 10 else f"{seconds:.1f} s/{one}"
