"""Scoring a method on episodes (episodic) or rows (supervised), with the task's metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from engine.data import Episode, EpisodeSampler
from engine.methods._base import Method


def evaluate_episodes(
    method: Method,
    sampler: EpisodeSampler,
    count: int,
    *,
    on_episode: Callable[[int, int], None] | None = None,
) -> tuple[list[Episode], list[dict[str, Any]]]:
    """Per-episode metrics for episodes 0..count-1 of ``sampler``."""
    episodes = list(sampler.episodes(count))
    rows = sorted({r for ep in episodes for r in (*ep.support, *ep.query)})
    method.begin_eval(rows)
    results = []
    try:
        for done, episode in enumerate(episodes, start=1):
            logits = method.predict(episode)
            _, targets = method.targets(episode)
            metrics = method.task.episode_metrics(method.batcher, episode, logits, targets.to(logits.device))
            results.append({"episode": episode.index, "key": episode.key, "n_query": len(episode.query), **metrics})
            if on_episode:
                on_episode(done, count)
    finally:
        method.end_eval()
    return episodes, results


def evaluate_rows(method: Method, rows: Sequence[int], label_names: Sequence[str], *, batch: int = 256) -> dict[str, float]:
    """Supervised: one set of metrics over ``rows`` against a head over ``label_names``."""
    rows = list(rows)
    method.begin_eval(rows)
    try:
        logits = torch.cat([method.predict_rows(rows[i : i + batch]) for i in range(0, len(rows), batch)])
    finally:
        method.end_eval()
    targets = method.task.row_targets(method.batcher, rows, label_names).to(logits.device)
    return method.task.rows_metrics(method.batcher, rows, label_names, logits, targets)
