"""Colours for charts, decided by names and ids alone, so a run or a series looks the same
in the live, stored and resumed views and in every export (never by arrival order)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from gui.metric_kinds import role_of

# 20 distinguishable colours: Tableau 10 (its eight strongest first, then grey and olive), then
# its lighter half.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
           "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#9edae5", "#c7c7c7", "#dbdb8d"]
STRONG = 8  # the first eight of PALETTE: a run's own colour is one of these
_ROLES = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c", "untrained test": "#7f7f7f",
          "before": "#d62728", "after": "#2ca02c"}
# inner-loop steps: a light-to-dark ramp, so step order reads at a glance
_STEPS = ["#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"]


def series_color(name: str) -> str:
    """A metric's colour in the Monitor: by its role in its plot (train, val, before, step 2, ...)."""
    role = role_of(name)
    if role in _ROLES:
        return _ROLES[role]
    if role.startswith("step "):
        step = int(role.split()[1])
        return _STEPS[min(step, len(_STEPS) - 1)]
    return PALETTE[zlib.crc32(name.encode()) % 10]


def run_colors(run_ids: Iterable[str]) -> dict[str, str]:
    """One colour per run, from its id: a run keeps its colour from one comparison to the
    next where it can; two runs of one comparison never share one. The eight strongest
    colours go first (the next free one on a clash), then the others in order."""
    taken: set[int] = set()
    out: dict[str, str] = {}
    for run_id in run_ids:
        start = zlib.crc32(run_id.encode()) % STRONG
        candidates = [(start + i) % STRONG for i in range(STRONG)] + list(range(STRONG, len(PALETTE)))
        # (with 20 runs every colour is used once)
        index = next((c for c in candidates if c not in taken), start)
        taken.add(index)
        out[run_id] = PALETTE[index]
    return out
