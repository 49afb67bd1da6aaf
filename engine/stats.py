"""Statistics for results and comparisons: means with 95% confidence intervals and paired
tests on identical episodes. Torch-free: the GUI's Compare page and the CLI share it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """(mean, half-width of the t-interval); the half-width is 0 for fewer than two values."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan
    mean = float(arr.mean())
    if arr.size < 2 or np.all(arr == arr[0]):  # no spread: scipy's interval would be nan
        return mean, 0.0
    from scipy import stats

    return mean, _half_width(stats.ttest_1samp(arr, 0.0), confidence)


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """b - a per episode: mean difference, its CI and the p-value of scipy's paired t-test (``ttest_rel``)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired samples must have the same length")
    diff = y - x
    mean, half, p_value = (float(diff.mean()) if diff.size else math.nan), (0.0 if diff.size == 1 else math.nan), math.nan
    if diff.size >= 2:
        if np.all(diff == diff[0]):  # every episode moved alike: certain, and scipy divides by zero
            half, p_value = 0.0, (1.0 if diff[0] == 0 else 0.0)
        else:
            from scipy import stats

            result = stats.ttest_rel(y, x)
            half, p_value = _half_width(result, confidence), float(result.pvalue)
    return {"paired": True, "n": int(diff.size), "mean_diff": mean, "ci95": half, "p_value": p_value}


def unpaired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """Welch's t-test (scipy's ``ttest_ind(equal_var=False)``) when the runs were not scored on the same episodes."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    mean = float(y.mean() - x.mean()) if x.size and y.size else math.nan
    half = math.nan
    p_value = math.nan
    if x.size >= 2 and y.size >= 2:
        if x.var() == 0 and y.var() == 0:
            half, p_value = 0.0, (1.0 if mean == 0 else 0.0)
        else:
            from scipy import stats

            result = stats.ttest_ind(y, x, equal_var=False)
            half, p_value = _half_width(result, confidence), float(result.pvalue)
    return {"paired": False, "n_ref": int(x.size), "n": int(y.size), "mean_diff": mean, "ci95": half, "p_value": p_value}


def _half_width(result: Any, confidence: float) -> float:
    interval = result.confidence_interval(confidence_level=confidence)
    return float(interval.high - interval.low) / 2
