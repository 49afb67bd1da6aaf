"""Frozen-encoder references on a config's meta-test episodes: how much room training has.

Before any training, the encoder as loaded is scored on the very episodes a run of the same
config is tested on (the test sampler is a pure function of data, split seed, N, K and Q):

- nearest class mean (NCM): each query goes to the class whose mean support embedding is
  closest in cosine similarity, as a protonet scores before it has learned anything;
- logistic regression (scikit-learn) fitted per episode on the L2-normalised support
  embeddings.

A meta-trained method that does not beat these has learned nothing the encoder did not know.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.config import RunConfig
from engine.data import Episode, episodes_key
from engine.errors import ConfigError
from engine.stats import mean_ci
from engine.tasks import TaskData

REFERENCES = ("ncm", "logreg")
LOGREG_C = 1.0  # scikit-learn's default strength; on unit-length embeddings it fits 1-5 shots without tuning
EMBED_BATCH = 128


@dataclass
class Baseline:
    """Per-episode accuracies of each frozen reference, in episode order."""

    episodes_key: str
    accuracies: dict[str, list[float]]
    n_way: int
    k_shot: int
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """``{reference: {"accuracy", "ci95"}}`` plus the episode count and key (the CLI's JSON)."""
        out: dict[str, Any] = {"episodes": len(self.accuracies["ncm"]), "episodes_key": self.episodes_key,
                               "n_way": self.n_way, "k_shot": self.k_shot, "seconds": round(self.seconds, 2)}
        for name, values in self.accuracies.items():
            mean, half = mean_ci(values)
            out[name] = {"accuracy": mean, "ci95": half}
        return out


def embed_rows(
    encoder: Any, texts: Sequence[str], rows: Sequence[int], *, on_batch: Callable[[int, int], None] | None = None
) -> dict[int, torch.Tensor]:
    """Unit-length embeddings of ``rows``, batched by length (less padding).

    ``on_batch(done, total)`` after each batch (progress, and a stop that raises)."""
    order = sorted(set(rows), key=lambda r: len(texts[r]))
    out: dict[int, torch.Tensor] = {}
    encoder.eval()
    with torch.no_grad():
        for start in range(0, len(order), EMBED_BATCH):
            chunk = order[start : start + EMBED_BATCH]
            vectors = encoder.encode_batch(encoder.collate(encoder.tokenize([texts[r] for r in chunk])))
            vectors = torch.nn.functional.normalize(vectors.float(), dim=-1).cpu()
            out.update(zip(chunk, vectors))
            if on_batch is not None:
                on_batch(len(out), len(order))
    return out


def ncm_accuracy(support: torch.Tensor, support_labels: Sequence[int], query: torch.Tensor, query_labels: Sequence[int], n_way: int) -> float:
    """Share of queries nearest (cosine) to their own class's mean support embedding."""
    labels = torch.as_tensor(list(support_labels))
    means = torch.stack([support[labels == c].mean(0) for c in range(n_way)])
    predicted = (query @ torch.nn.functional.normalize(means, dim=-1).T).argmax(1)
    return float((predicted == torch.as_tensor(list(query_labels))).float().mean())


def logreg_accuracy(support: torch.Tensor, support_labels: Sequence[int], query: torch.Tensor, query_labels: Sequence[int]) -> float:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=LOGREG_C, max_iter=1000)
    model.fit(support.numpy(), np.asarray(support_labels))
    return float((model.predict(query.numpy()) == np.asarray(query_labels)).mean())


def score_episodes(embeddings: dict[int, torch.Tensor], episodes: Sequence[Episode], n_way: int) -> dict[str, list[float]]:
    """Per-episode accuracy of every reference, from precomputed unit-length embeddings."""
    scores: dict[str, list[float]] = {name: [] for name in REFERENCES}
    for ep in episodes:
        support = torch.stack([embeddings[r] for r in ep.support])
        query = torch.stack([embeddings[r] for r in ep.query])
        scores["ncm"].append(ncm_accuracy(support, ep.support_labels, query, ep.query_labels, n_way))
        scores["logreg"].append(logreg_accuracy(support, ep.support_labels, query, ep.query_labels))
    return scores


def applies(data: TaskData) -> bool:
    """Whether the references mean something here: episodes of texts with one label each."""
    return data.mode == "episodic" and data.task.output == "pooled" and data.test_sampler is not None


def score_test_episodes(
    encoder: Any, data: TaskData, count: int, *, on_batch: Callable[[int, int], None] | None = None
) -> Baseline:
    """Every reference on the first ``count`` meta-test episodes of ``data``, with ``encoder`` as it is."""
    import time

    assert data.test_sampler is not None
    started = time.monotonic()
    test = list(data.test_sampler.episodes(count))
    embeddings = embed_rows(encoder, data.dataset.texts, [r for ep in test for r in (*ep.support, *ep.query)], on_batch=on_batch)
    scores = score_episodes(embeddings, test, data.n_way)
    return Baseline(episodes_key(data.dataset.fingerprint(), test), scores, data.n_way, data.k_shot, time.monotonic() - started)


def final_metrics(baseline: Baseline) -> dict[str, float]:
    """``baseline_{reference}_accuracy`` and its ``_ci95``: a run's reference in its final metrics."""
    out = {}
    for name, values in baseline.accuracies.items():
        mean, half = mean_ci(values)
        out[f"baseline_{name}_accuracy"], out[f"baseline_{name}_accuracy_ci95"] = mean, half
    return out


def frozen_baseline(
    config: RunConfig,
    *,
    encoder: Any = None,
    episodes: int | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Baseline:
    """NCM and logistic regression of the frozen encoder on ``config``'s meta-test episodes.

    ``encoder`` (a loaded ``TextEncoder``) skips loading the model; ``episodes`` overrides
    ``task.test_episodes``. Raises ``UserError`` subclasses for bad data, model or mode.
    """
    import time

    from engine.tasks import build_task_data

    if config.task.mode != "episodic":
        raise ConfigError("baseline needs task.mode = 'episodic' (it scores meta-test episodes)")
    if config.task.type != "classification":
        raise ConfigError(f"baseline scores text classification, not task.type = '{config.task.type}'")
    if episodes is not None and episodes < 1:
        raise ConfigError(f"episodes must be at least 1, got {episodes}")
    started = time.monotonic()
    stage = on_stage or (lambda _text: None)
    stage("loading data")
    data = build_task_data(config)
    if encoder is None:
        from engine.models.encoder import load_encoder
        from engine.training.devices import resolve_device

        device = resolve_device(config.train.device)
        stage("loading model")
        encoder = load_encoder(
            config.model.name, max_length=config.model.max_length, allow_pickle=config.model.allow_pickle,
            trust_remote_code=config.model.trust_remote_code,
        ).to(device)
    stage("embedding and scoring")
    result = score_test_episodes(encoder, data, episodes or config.task.test_episodes)
    result.seconds = time.monotonic() - started
    return result
