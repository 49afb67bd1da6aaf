"""One meta-test episode of a finished run, seen before and after training.

``inspect_run`` answers with plain JSON-ready data: the episode's examples, a 2-D map of
their embeddings from the base model (before) and from the run's trained model (after)
with each query's prediction, the episode's confusion matrix, and one aggregated over all
meta-test episodes by class. docs/CLI.md (``inspect``) describes the fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.inspection._confusion import confusion
from engine.inspection._loading import InspectedRun, open_run
from engine.inspection._predictions import Progress, cached_predictions, predict_episodes, save_predictions
from engine.inspection._projection import project, resolve_projection, silhouette
from engine.paths import artifacts_dir
from engine.store import Store

TEXT_CHARS = 200  # texts in the answer are cut here: the map's tooltips need no more


def inspect_run(
    db_path: Path,
    run_id: str,
    *,
    episode: int = 0,
    projection: str = "auto",
    device: str = "cpu",
    progress: Progress | None = None,
) -> dict[str, Any]:
    projection = resolve_projection(projection)
    run = open_run(db_path, run_id, device=device)
    chosen = run.episode(episode)
    examples = [
        {"row": r, "text": run.data.dataset.texts[r][:TEXT_CHARS], "label": chosen.classes[y], "role": role}
        for role, rows, labels in (("support", chosen.support, chosen.support_labels), ("query", chosen.query, chosen.query_labels))
        for r, y in zip(rows, labels, strict=True)
    ]
    # One model in memory at a time: the trained one answers every test episode, then the base one.
    trained = run.method(trained=True)
    all_predicted = _test_predictions(db_path, run, trained, progress)
    views = {"after": _view(trained, chosen, examples, all_predicted[episode], projection, run.config.train.seed)}
    del trained
    base = run.method(trained=False)
    before = predict_episodes(base, [chosen])[0]
    views = {"before": _view(base, chosen, examples, before, projection, run.config.train.seed), **views}
    del base
    episodes = list(run.data.test_sampler.episodes(run.test_episodes))
    pairs = [
        (ep.classes[y], ep.classes[p])
        for ep, predicted in zip(episodes, all_predicted, strict=True)
        for y, p in zip(ep.query_labels, predicted, strict=True)
    ]
    return {
        "run_id": run.run["id"],
        "name": run.run["name"],
        "method": run.config.method.name,
        "episode": episode,
        "test_episodes": run.test_episodes,
        "classes": list(chosen.classes),
        "projection": projection,
        "examples": examples,
        "views": views,
        "stored_accuracy": _stored_accuracy(db_path, run.run["id"], episode),
        "confusion": {
            "episode": confusion(
                [(chosen.classes[y], chosen.classes[p]) for y, p in zip(chosen.query_labels, all_predicted[episode], strict=True)],
                chosen.classes,
            ),
            "all": confusion(pairs, run.data.test_sampler.classes) | {"episodes": len(episodes)},
        },
    }


def _test_predictions(db_path: Path, run: InspectedRun, trained: Any, progress: Progress | None) -> list[list[int]]:
    run_dir = artifacts_dir(db_path) / run.run["id"]
    cached = cached_predictions(run_dir, run.weights_dir, run.test_episodes)
    if cached is not None:
        return cached
    episodes = list(run.data.test_sampler.episodes(run.test_episodes))
    predicted = predict_episodes(trained, episodes, progress)
    save_predictions(run_dir, run.weights_dir, predicted)
    return predicted


def _view(method: Any, episode: Any, examples: list[dict[str, Any]], predicted: Sequence[int], projection: str, seed: int) -> dict[str, Any]:
    """Map coordinates (support rows first, then queries, as in ``examples``) and each query's answer."""
    import torch

    rows = [*episode.support, *episode.query]
    with torch.no_grad():
        embeddings = method.embed(rows).float().cpu().numpy()
    labels = [*episode.support_labels, *episode.query_labels]
    xy = project(embeddings, projection, seed=seed)
    answers: list[str | None] = [None] * len(episode.support) + [episode.classes[p] for p in predicted]
    wrong = [answer is not None and answer != ex["label"] for answer, ex in zip(answers, examples, strict=True)]
    n_query = len(episode.query)
    return {
        "xy": [[round(float(x), 4), round(float(y), 4)] for x, y in xy],
        "predicted": answers,
        "wrong": wrong,
        "accuracy": (n_query - sum(wrong)) / n_query if n_query else None,
        "silhouette": silhouette(embeddings, labels),
    }


def _stored_accuracy(db_path: Path, run_id: str, episode: int) -> float | None:
    """The accuracy the run's own meta-test recorded for this episode (a check on the recomputation)."""
    with Store(db_path, readonly=True) as store:
        for row in store.episodes(run_id, split="test"):
            if row["episode"] == episode:
                return row["accuracy"]
    return None
