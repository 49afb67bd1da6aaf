"""Few-shot NER episodes following Few-NERD's protocol, as seeded sentence-index lists.

Entity *types* are split by seed into meta-train / meta-val / meta-test (``split_types``).
An N-way K-shot episode picks N types, then adds sentences greedily in a seeded order: a
sentence joins the support if it mentions a type that still has fewer than K mentions and
would push no type past 2K; it stops when every type has K. The query is drawn the same way
with ``query`` in place of K, from the sentences left. In an episode's tags every other type
becomes ``O``.

Episode ``i`` depends only on (the tags, the types, the rows, the seed, the stream, N, K,
query, i), so meta-test episodes are the same across runs on the same data and split seed.
Training streams should draw from ``rows_without(tags, split.test)``: then held-out types
are never seen in training, not even as ``O``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from engine.data.episodes import STREAM_SALT
from engine.data.spans import OUTSIDE, spans, split_tag
from engine.data.splits import ClassSplit, RowSplit, split_classes, split_rows

# Type picks tried per episode before giving up: a pick can fail when its rarest type has too
# few sentences that fit under the 2K bound.
ATTEMPTS = 20


@dataclass(frozen=True)
class EntityEpisode:
    index: int
    classes: tuple[str, ...]  # the episode's N entity types (named as Episode's classes)
    support: tuple[int, ...]  # sentence indices
    support_tags: tuple[tuple[str, ...], ...]  # their tags, other types turned to O
    query: tuple[int, ...]
    query_tags: tuple[tuple[str, ...], ...]

    @property
    def key(self) -> str:
        """Fingerprint of the sentences and types (with the dataset fingerprint, it pairs runs)."""
        text = f"{self.classes}|{self.support}|{self.query}"
        return hashlib.sha1(text.encode()).hexdigest()[:16]


def split_types(tags: Sequence[Sequence[str]], *, test_fraction: float, val_fraction: float, seed: int) -> ClassSplit:
    """Held-out entity types for meta-test, then meta-val from the rest (as ``split_classes`` for labels)."""
    types = sorted({span.type for sentence in tags for span in spans(sentence)})
    return split_classes(types, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed)


def split_sentences(count: int, *, test_fraction: float, val_fraction: float, seed: int) -> RowSplit:
    """Supervised mode: sentence indices split into train / val / test by seed."""
    return split_rows([""] * count, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed)


def rows_without(tags: Sequence[Sequence[str]], types: Sequence[str]) -> list[int]:
    """Sentences that mention none of ``types``."""
    banned = set(types)
    return [i for i, sentence in enumerate(tags) if not any(span.type in banned for span in spans(sentence))]


def keep_types(tags: Sequence[str], types: Sequence[str]) -> tuple[str, ...]:
    """The tags with every type outside ``types`` turned to O."""
    wanted = set(types)
    return tuple(tag if split_tag(tag)[1] in wanted else OUTSIDE for tag in tags)


class EntityEpisodeSampler:
    """Draws N-way K-shot NER episodes from the sentences in ``rows`` (all when None);
    ``classes`` are the entity types it can pick (those mentioned in its sentences)."""

    def __init__(
        self,
        tags: Sequence[Sequence[str]],
        types: Sequence[str],
        *,
        n_way: int,
        k_shot: int,
        query: int,
        seed: int,
        stream: str,
        rows: Sequence[int] | None = None,
    ):
        self.tags = tags
        self.n_way, self.k_shot, self.query = n_way, k_shot, query
        self.seed = seed
        self.salt = STREAM_SALT[stream]
        wanted = set(types)
        self.mentions: dict[int, Counter[str]] = {}
        for index in rows if rows is not None else range(len(tags)):
            counts = Counter(span.type for span in spans(tags[index]) if span.type in wanted)
            if counts:
                self.mentions[index] = counts
        self.classes = sorted({t for counts in self.mentions.values() for t in counts})
        if len(self.classes) < n_way:
            raise ValueError(f"{len(self.classes)} entity types available, {n_way}-way needs {n_way}")

    def episode(self, index: int) -> EntityEpisode:
        for attempt in range(ATTEMPTS):
            rng = np.random.default_rng([self.seed, self.salt, self.n_way, self.k_shot, self.query, index, attempt])
            picked = rng.choice(len(self.classes), size=self.n_way, replace=False)
            types = tuple(self.classes[i] for i in picked)
            candidates = [s for s, counts in self.mentions.items() if any(t in counts for t in types)]
            order = [candidates[i] for i in rng.permutation(len(candidates))]
            support = self._greedy(order, types, self.k_shot, taken=set())
            if support is None:
                continue
            query = self._greedy(order, types, self.query, taken=set(support))
            if query is None:
                continue
            return EntityEpisode(
                index,
                types,
                tuple(support),
                tuple(keep_types(self.tags[s], types) for s in support),
                tuple(query),
                tuple(keep_types(self.tags[s], types) for s in query),
            )
        raise ValueError(
            f"cannot draw episode {index}: no {self.n_way} types with enough sentences for "
            f"{self.k_shot}-shot support and {self.query} query mentions each (within {ATTEMPTS} tries)"
        )

    def _greedy(self, order: list[int], types: tuple[str, ...], shots: int, taken: set[int]) -> list[int] | None:
        """Few-NERD's greedy pass: every type reaches ``shots`` mentions, none passes 2 x ``shots``."""
        have = dict.fromkeys(types, 0)
        chosen: list[int] = []
        for sentence in order:
            if sentence in taken:
                continue
            counts = {t: n for t, n in self.mentions[sentence].items() if t in have}
            if any(have[t] + n > 2 * shots for t, n in counts.items()):
                continue
            if not any(have[t] < shots for t in counts):
                continue
            chosen.append(sentence)
            for t, n in counts.items():
                have[t] += n
            if all(n >= shots for n in have.values()):
                return chosen
        return None

    def episodes(self, count: int, start: int = 0) -> Iterator[EntityEpisode]:
        for index in range(start, start + count):
            yield self.episode(index)
