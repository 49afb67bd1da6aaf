"""The one smoothing of the app: a debiased exponential moving average, as TensorBoard's.

``Ema`` updates incrementally as a live series grows (the Monitor); ``smooth`` is the same
filter over a whole array (Compare). NaNs carry the last finite value over the gap.
"""

from __future__ import annotations

import math

import numpy as np


class Ema:
    """Incremental debiased EMA of one growing series."""

    def __init__(self, weight: float):
        self.weight = weight
        self.done = 0
        self.state = 0.0
        self.last = math.nan
        self.out = np.empty(0)

    def update(self, values: np.ndarray) -> np.ndarray:
        n = len(values)
        if n < self.done:  # series replaced: start again
            self.__init__(self.weight)  # type: ignore[misc]
        if n > self.done:
            new = np.array(values[self.done : n], dtype=np.float64)
            finite = np.isfinite(new)
            if not finite.all():  # carry the last finite value over gaps
                index = np.maximum.accumulate(np.where(finite, np.arange(len(new)), -1))
                lead = self.last if math.isfinite(self.last) else 0.0
                new = np.where(index >= 0, new[np.maximum(index, 0)], lead)
            a = self.weight
            from scipy.signal import lfilter  # only when smoothing is on

            raw, zf = lfilter([1.0 - a], [1.0, -a], new, zi=[a * self.state])
            self.state = float(zf[0]) / a if a else float(raw[-1])
            index = np.arange(self.done + 1, n + 1, dtype=np.float64)
            smoothed = raw / (1.0 - a**index) if a else raw
            self.out = np.concatenate([self.out, smoothed]) if self.done else smoothed
            self.done = n
            self.last = float(new[-1])
        return self.out


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """The EMA of a whole series (``values`` itself when the weight is 0)."""
    if weight <= 0 or len(values) == 0:
        return values
    return Ema(weight).update(np.asarray(values, dtype=np.float64))
