"""The trained method's predicted class for every query of every meta-test episode.

The store keeps per-episode scores, not per-query answers, so they are computed here the
way the run's meta-test computed them (one ``begin_eval`` over every test row, then
``predict`` per episode), and kept beside the run's weights: the next inspection of the
same weights reads them back instead of adapting to every episode again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.fileio import atomic_write_text

CACHE_FILE = "inspect/test_predictions.json"

Progress = Callable[[int, int], None]


def predict_episodes(method: Any, episodes: Sequence[Any], progress: Progress | None = None) -> list[list[int]]:
    """Predicted episode labels for each episode's queries."""
    rows = sorted({r for ep in episodes for r in (*ep.support, *ep.query)})
    out = []
    method.begin_eval(rows)
    try:
        for done, episode in enumerate(episodes, start=1):
            out.append([int(i) for i in method.predict(episode).argmax(1).tolist()])
            if progress:
                progress(done, len(episodes))
    finally:
        method.end_eval()
    return out


def _weights_stamp(weights_dir: Path) -> str:
    stat = (weights_dir / "model.safetensors").stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def cached_predictions(run_dir: Path, weights_dir: Path, count: int) -> list[list[int]] | None:
    path = run_dir / CACHE_FILE
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if cached.get("weights") != _weights_stamp(weights_dir) or len(cached.get("predicted", [])) != count:
        return None
    return cached["predicted"]


def save_predictions(run_dir: Path, weights_dir: Path, predicted: list[list[int]]) -> None:
    path = run_dir / CACHE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"weights": _weights_stamp(weights_dir), "predicted": predicted}))
