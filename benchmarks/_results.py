"""Per-episode result files of the accuracy benchmarks, and their table cells (torch-free)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from engine.stats import mean_ci, paired_difference


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def save(path: Path, results: dict) -> None:
    """Written whole or not at all, so an interrupted benchmark resumes from what is saved."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    tmp.replace(path)


def fmt_ci(values: list[float]) -> str:
    mean, half = mean_ci(values)
    return f"{mean:.3f} ± {half:.3f}"


def fmt_diff(ref: list[float] | None, values: list[float]) -> str:
    if ref is None or len(ref) != len(values):
        return "—"
    d = paired_difference(ref, values)
    p = d["p_value"]
    p_text = "—" if math.isnan(p) else (f"{p:.1e}" if p < 0.001 else f"{p:.3f}")
    return f"{d['mean_diff']:+.3f} ± {d['ci95']:.3f} (p {p_text})"
