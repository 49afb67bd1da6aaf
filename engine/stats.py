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
    if arr.size < 2:
        return mean, 0.0
    from scipy import stats

    sem = float(arr.std(ddof=1) / math.sqrt(arr.size))
    return mean, float(sem * stats.t.ppf(0.5 + confidence / 2, arr.size - 1))


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """b - a per episode: mean difference, its CI, and a paired t-test p-value."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired samples must have the same length")
    diff = y - x
    mean, half = mean_ci(diff.tolist(), confidence)
    p_value = math.nan
    if diff.size >= 2:
        from scipy import stats

        if np.allclose(diff, diff[0]):
            p_value = 1.0 if diff[0] == 0 else 0.0
        else:
            p_value = float(stats.ttest_rel(y, x).pvalue)
    return {"paired": True, "n": int(diff.size), "mean_diff": mean, "ci95": half, "p_value": p_value}


def unpaired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """Welch's t-test when the runs were not scored on the same episodes."""
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    mean = float(y.mean() - x.mean()) if x.size and y.size else math.nan
    half = math.nan
    p_value = math.nan
    if x.size >= 2 and y.size >= 2:
        vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
        se = math.sqrt(vx + vy)
        if se > 0:
            dof = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
            half = float(se * stats.t.ppf(0.5 + confidence / 2, dof))
            p_value = float(stats.ttest_ind(y, x, equal_var=False).pvalue)
        else:
            half, p_value = 0.0, (1.0 if mean == 0 else 0.0)
    return {"paired": False, "n_ref": int(x.size), "n": int(y.size), "mean_diff": mean, "ci95": half, "p_value": p_value}
