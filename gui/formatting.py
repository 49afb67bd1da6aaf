"""How the GUI writes durations (and other small values) for people."""

from __future__ import annotations

import math
from typing import Any

from engine.data.checks import plural  # noqa: F401  (one pluraliser for the engine's checks and the GUI)


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def headline_text(final: dict[str, Any], *, with_ci: bool = False) -> str:
    """'test F1 0.280 ± 0.016', 'test perplexity 812.4': a run's headline meta-test figure
    (the task's: accuracy, entity F1, perplexity; '' before there is one)."""
    key = final.get("headline_metric") or ("test_f1" if "test_f1" in final else "test_accuracy")
    value = final.get(key)
    if not isinstance(value, (int, float)):
        return ""
    digits = 1 if final.get("headline_direction") == "minimize" else 3  # a perplexity, or a share
    text = f"{key.replace('_', ' ').replace(' f1', ' F1')} {value:.{digits}f}"
    ci = final.get(f"{key}_ci95")
    return text + (f" ± {ci:.{digits}f}" if with_ci and isinstance(ci, (int, float)) else "")
