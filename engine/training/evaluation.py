"""Scoring a method on episodes (episodic) or rows (supervised), with the task's metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from engine.data import Episode, EpisodeSampler
from engine.methods._base import Method


class EvaluationStopped(Exception):
    """A stop asked for while episodes were being scored; ``results`` holds those scored so far."""

    def __init__(self, results: list[dict[str, Any]]):
        super().__init__(f"stopped after {len(results)} scored episodes")
        self.results = results


def evaluate_episodes(
    method: Method,
    sampler: EpisodeSampler,
    count: int,
    *,
    on_episode: Callable[[int, int], None] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    scored: Sequence[dict[str, Any]] = (),
) -> tuple[list[Episode], list[dict[str, Any]]]:
    """Per-episode metrics for episodes 0..count-1 of ``sampler``.

    ``scored`` are results kept from an earlier, stopped attempt: those episodes are not
    scored again. ``should_stop`` is asked before each episode (a MAML episode can take
    seconds); when it says so, ``EvaluationStopped`` carries what was scored.
    """
    episodes = list(sampler.episodes(count))
    kept = {r["episode"]: r for r in scored}
    todo = [ep for ep in episodes if ep.index not in kept]
    results = [kept[ep.index] for ep in episodes if ep.index in kept]
    if on_episode:
        on_episode(len(results), count)  # the phase's clock starts before the encoding below, not after it
    if not todo:
        return episodes, _in_order(results)
    rows = sorted({r for ep in todo for r in (*ep.support, *ep.query)})
    method.begin_eval(rows)
    try:
        for episode in todo:
            if should_stop is not None and should_stop():
                raise EvaluationStopped(_in_order(results))
            logits = method.predict(episode)
            _, targets = method.targets(episode)
            metrics = method.task.episode_metrics(method.batcher, episode, logits, targets.to(logits.device))
            result = {"episode": episode.index, "key": episode.key, "n_query": len(episode.query), **metrics}
            results.append(result)
            if on_result:
                on_result(result)
            if on_episode:
                on_episode(len(results), count)
    finally:
        method.end_eval()
    return episodes, _in_order(results)


def _in_order(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(results, key=lambda r: r["episode"])


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
