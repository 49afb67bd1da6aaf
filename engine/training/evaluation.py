"""Scoring a method on episodes (episodic) or rows (supervised)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from engine.data import Episode, EpisodeSampler
from engine.methods._base import Method
from engine.stats import mean_ci
from engine.training.metrics import classification_metrics

METRIC_NAMES = ("accuracy", "loss", "macro_f1", "precision", "recall")


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
            labels = torch.tensor(episode.query_labels, device=logits.device)
            metrics = classification_metrics(logits, labels, len(episode.classes))
            results.append({"episode": episode.index, "key": episode.key, "n_query": len(episode.query), **metrics})
            if on_episode:
                on_episode(done, count)
    finally:
        method.end_eval()
    return episodes, results


def evaluate_rows(method: Method, rows: Sequence[int], labels: Sequence[int], n_classes: int, *, batch: int = 256) -> dict[str, float]:
    """Supervised: one set of metrics over ``rows``."""
    method.begin_eval(rows)
    try:
        logits = torch.cat([method.predict_rows(rows[i : i + batch]) for i in range(0, len(rows), batch)])
    finally:
        method.end_eval()
    return classification_metrics(logits, torch.tensor(list(labels), device=logits.device), n_classes)


def summarize(results: list[dict[str, Any]], prefix: str) -> dict[str, float]:
    """``{prefix}_accuracy`` with ``{prefix}_accuracy_ci95`` and the other means."""
    out: dict[str, float] = {}
    for name in METRIC_NAMES:
        mean, half = mean_ci([r[name] for r in results])
        out[f"{prefix}_{name}"] = mean
        if name == "accuracy":
            out[f"{prefix}_{name}_ci95"] = half
    return out
