"""Confusion matrices with per-class accuracy, from (true, predicted) class names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def confusion(pairs: Iterable[tuple[str, str]], classes: Sequence[str]) -> dict[str, Any]:
    """``matrix[i][j]``: queries of ``classes[i]`` predicted as ``classes[j]``.

    ``per_class_accuracy`` is the recall of each class (its row's diagonal share); a class
    with no queries gets None."""
    index = {name: i for i, name in enumerate(classes)}
    matrix = [[0] * len(classes) for _ in classes]
    for true, predicted in pairs:
        matrix[index[true]][index[predicted]] += 1
    per_class = {}
    for name, row in zip(classes, matrix, strict=True):
        total = sum(row)
        per_class[name] = row[index[name]] / total if total else None
    total = sum(map(sum, matrix))
    correct = sum(matrix[i][i] for i in range(len(classes)))
    return {
        "classes": list(classes),
        "matrix": matrix,
        "per_class_accuracy": per_class,
        "accuracy": correct / total if total else None,
        "queries": total,
    }
