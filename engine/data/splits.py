"""Splitting a dataset by seed: classes (episodic) or rows, stratified (supervised).

Both are pure functions of the data and the seed, so every run with the same
``task.split_seed`` sees the same split.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ClassSplit:
    """Disjoint class lists for meta-train, meta-val and meta-test."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def classes(self, split: str) -> tuple[str, ...]:
        return getattr(self, split)


def split_classes(labels: list[str], *, test_fraction: float, val_fraction: float, seed: int) -> ClassSplit:
    """Held-out classes for meta-test (``test_fraction`` of all), then meta-val from the rest."""
    classes = sorted(set(labels))
    order = np.random.default_rng([seed, 7001]).permutation(len(classes))
    shuffled = [classes[i] for i in order]
    n_test = max(1, round(test_fraction * len(classes))) if len(classes) > 1 else 0
    rest = shuffled[n_test:]
    n_val = round(val_fraction * len(rest)) if val_fraction > 0 else 0
    return ClassSplit(
        train=tuple(sorted(rest[n_val:])), val=tuple(sorted(rest[:n_val])), test=tuple(sorted(shuffled[:n_test]))
    )


@dataclass(frozen=True)
class RowSplit:
    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]


def split_rows(labels: list[str], *, test_fraction: float, val_fraction: float, seed: int) -> RowSplit:
    """Row indices split per class, so each class keeps its share in every split."""
    by_class: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_class[label].append(index)
    rng = np.random.default_rng([seed, 7002])
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for label in sorted(by_class):
        rows = by_class[label]
        rows = [rows[i] for i in rng.permutation(len(rows))]
        n_test = round(test_fraction * len(rows))
        n_val = round(val_fraction * (len(rows) - n_test))
        test += rows[:n_test]
        val += rows[n_test : n_test + n_val]
        train += rows[n_test + n_val :]
    return RowSplit(tuple(sorted(train)), tuple(sorted(val)), tuple(sorted(test)))
