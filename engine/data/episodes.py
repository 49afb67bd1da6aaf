"""N-way K-shot episodes as seeded index lists.

Episode ``i`` of a stream depends only on (the split's classes and rows, the stream's seed,
N, K, Q, i): meta-test episodes are therefore identical across runs on the same data and
split seed, whatever the method, the training seed or the number of episodes asked for.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

# Distinct seed streams, so meta-train, meta-val and meta-test never share draws.
STREAM_SALT = {"train": 11, "val": 22, "test": 33}


@dataclass(frozen=True)
class Episode:
    index: int
    classes: tuple[str, ...]  # episode label i is classes[i]
    support: tuple[int, ...]  # dataset row indices, grouped by class, k_shot each
    support_labels: tuple[int, ...]
    query: tuple[int, ...]
    query_labels: tuple[int, ...]

    @property
    def key(self) -> str:
        """Fingerprint of the rows in this episode (with the dataset fingerprint, it pairs runs)."""
        text = f"{self.classes}|{self.support}|{self.query}"
        return hashlib.sha1(text.encode()).hexdigest()[:16]


class EpisodeSampler:
    """Draws episodes from the rows of ``classes`` in ``labels``."""

    def __init__(
        self,
        labels: list[str],
        classes: tuple[str, ...] | list[str],
        *,
        n_way: int,
        k_shot: int,
        query: int,
        seed: int,
        stream: str,
        rows: list[int] | None = None,
    ):
        self.n_way, self.k_shot, self.query = n_way, k_shot, query
        self.seed = seed
        self.salt = STREAM_SALT[stream]
        wanted = set(classes)
        by_class: dict[str, list[int]] = defaultdict(list)
        for index in rows if rows is not None else range(len(labels)):
            if labels[index] in wanted:
                by_class[labels[index]].append(index)
        self.classes = sorted(by_class)
        self.rows_by_class = {c: by_class[c] for c in self.classes}
        if len(self.classes) < n_way:
            raise ValueError(f"{len(self.classes)} classes available, {n_way}-way needs {n_way}")
        short = [c for c in self.classes if len(self.rows_by_class[c]) < k_shot + query]
        if short:
            raise ValueError(f"class '{short[0]}' has {len(self.rows_by_class[short[0]])} rows, needs {k_shot + query}")

    def episode(self, index: int) -> Episode:
        rng = np.random.default_rng([self.seed, self.salt, self.n_way, self.k_shot, self.query, index])
        picked = rng.choice(len(self.classes), size=self.n_way, replace=False)
        classes = tuple(self.classes[i] for i in picked)
        support: list[int] = []
        query: list[int] = []
        support_labels: list[int] = []
        query_labels: list[int] = []
        for label, name in enumerate(classes):
            pool = self.rows_by_class[name]
            chosen = rng.choice(len(pool), size=self.k_shot + self.query, replace=False)
            rows = [pool[i] for i in chosen]
            support += rows[: self.k_shot]
            query += rows[self.k_shot :]
            support_labels += [label] * self.k_shot
            query_labels += [label] * self.query
        return Episode(index, classes, tuple(support), tuple(support_labels), tuple(query), tuple(query_labels))

    def episodes(self, count: int, start: int = 0) -> Iterator[Episode]:
        for index in range(start, start + count):
            yield self.episode(index)


def episodes_key(dataset_fingerprint: str, episodes: list[Episode]) -> str:
    """One fingerprint for a whole list of episodes: equal keys mean paired runs."""
    digest = hashlib.sha1(dataset_fingerprint.encode())
    for ep in episodes:
        digest.update(ep.key.encode())
    return digest.hexdigest()[:16]
