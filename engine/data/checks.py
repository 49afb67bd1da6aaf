"""Does a dataset fit a task? Human-readable checks, shared by the runner and the GUI's
live validation ("9 classes held out for meta-test; 5-way needs 5 — ok")."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.data.loaders import TextDataset
from engine.data.entity_episodes import EntityEpisodeSampler, rows_without, split_sentences, split_types
from engine.data.splits import split_classes, split_rows
from engine.data.tagged import TaggedDataset

if TYPE_CHECKING:
    from engine.config import TaskConfig


@dataclass(frozen=True)
class Check:
    ok: bool
    message: str
    warning: bool = False  # runs, but the user should know (shown as WARN / ⚠)


def no_val_rows_warning(kind: str, metric: str) -> str:
    """Supervised: no held-out validation rows, so validation reuses training rows."""
    return (f"no {kind}s held out for validation (task.meta_val_fraction): validation scores the first tenth of the "
            f"training {kind}s, so {metric} measures fit, not generalisation; raise task.meta_val_fraction")


def val_fallback_warning(found: int, kind: str, n_way: int, metric: str) -> str:
    """Why a validation score would mislead: too few held-out meta-val classes (or types)."""
    return (
        f"only {plural(found, kind)} for meta-validation, fewer than {n_way}-way needs: validation scores "
        f"meta-train {kind}s on training data, so {metric} measures fit, not transfer (a study on it optimises "
        "the wrong thing); lower task.n_way or task.meta_test_fraction, or raise task.meta_val_fraction"
    )


def plural(count: int, word: str) -> str:
    """``1 class``, ``3 classes``, ``1 row``, ``2 studies``: counts people read."""
    if count == 1:
        return f"{count:,} {word}"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return f"{count:,} {word[:-1]}ies"
    return f"{count:,} {word}es" if word.endswith(("s", "x", "ch", "sh")) else f"{count:,} {word}s"


def check_task(dataset: TextDataset, task: TaskConfig, *, train_query: int | None = None) -> list[Check]:
    """``train_query``: queries per class in training episodes, when the method draws a
    number other than ``task.query`` (``method.params.train_query``)."""
    counts = Counter(dataset.labels)
    checks = [Check(len(counts) >= 2, f"{plural(len(dataset), 'row')} in {plural(len(counts), 'class')}" + ("" if len(counts) >= 2 else "; at least 2 classes are needed"))]
    if len(counts) < 2:
        return checks
    if task.mode == "supervised":
        rows = split_rows(dataset.labels, test_fraction=task.meta_test_fraction, val_fraction=task.meta_val_fraction, seed=task.split_seed)
        ok = len(rows.train) > 0 and len(rows.test) > 0
        checks.append(Check(ok, f"{len(rows.train)} train, {len(rows.val)} val, {plural(len(rows.test), 'test row')}" + ("" if ok else " — train and test must not be empty")))
        return checks
    split = split_classes(dataset.labels, test_fraction=task.meta_test_fraction, val_fraction=task.meta_val_fraction, seed=task.split_seed)
    need_rows = task.k_shot + task.query
    for name, classes, role in (
        ("meta-test", split.test, "held out for meta-test"),
        ("meta-train", split.train, "for meta-training"),
        ("meta-val", split.val, "for meta-validation"),
    ):
        if name == "meta-val" and len(classes) < task.n_way:
            checks.append(Check(True, val_fallback_warning(len(classes), "class", task.n_way, "val_accuracy"), warning=True))
            continue
        enough = len(classes) >= task.n_way
        verdict = "ok" if enough else "too few"
        checks.append(Check(enough, f"{plural(len(classes), 'class')} {role}; {task.n_way}-way needs {task.n_way} — {verdict}"))
    shots = f"{task.k_shot}-shot + {task.query} queries needs {need_rows}"
    for label, count in sorted(counts.items(), key=lambda kv: (kv[1], kv[0])):
        if count < need_rows:
            checks.append(Check(False, f"class '{label}' has {plural(count, 'row')}, {shots}"))
            break
    else:
        checks.append(Check(True, f"every class has at least {plural(min(counts.values()), 'row')}; {shots} — ok"))
    if train_query and train_query > task.query:
        need_train = task.k_shot + train_query
        short = sorted((counts[c], c) for c in split.train if counts[c] < need_train)
        if short:
            count, label = short[0]
            checks.append(Check(
                False,
                f"meta-train class '{label}' has {plural(count, 'row')}; method.params.train_query = {train_query} "
                f"with {task.k_shot}-shot needs {need_train}",
            ))
    return checks


def first_problem(checks: list[Check]) -> str | None:
    return next((c.message for c in checks if not c.ok), None)


def check_tagged_task(dataset: TaggedDataset, task: TaskConfig) -> list[Check]:
    """The same checks for token classification: entity types instead of classes, and a trial
    draw of the first meta-train and meta-test episodes (greedy sampling can fail on sparse types)."""
    counts = dataset.mention_counts()
    mentions = sum(counts.values())
    enough_types = len(counts) >= 2
    checks = [Check(enough_types, f"{plural(len(dataset), 'sentence')}, {plural(mentions, 'mention')} of {plural(len(counts), 'entity type')}" + ("" if enough_types else "; at least 2 types are needed"))]
    if not enough_types:
        return checks
    if task.mode == "supervised":
        rows = split_sentences(len(dataset), test_fraction=task.meta_test_fraction, val_fraction=task.meta_val_fraction, seed=task.split_seed)
        ok = len(rows.train) > 0 and len(rows.test) > 0
        checks.append(Check(ok, f"{len(rows.train)} train, {len(rows.val)} val, {plural(len(rows.test), 'test sentence')}" + ("" if ok else " — train and test must not be empty")))
        return checks
    split = split_types(dataset.tags, test_fraction=task.meta_test_fraction, val_fraction=task.meta_val_fraction, seed=task.split_seed)
    for name, types, role in (("meta-test", split.test, "held out for meta-test"), ("meta-train", split.train, "for meta-training")):
        enough = len(types) >= task.n_way
        checks.append(Check(enough, f"{plural(len(types), 'entity type')} {role}; {task.n_way}-way needs {task.n_way} — {'ok' if enough else 'too few'}"))
        if not enough:
            continue
        rows = None if name == "meta-test" else rows_without(dataset.tags, split.test)
        stream = "test" if name == "meta-test" else "train"
        try:
            EntityEpisodeSampler(dataset.tags, types, n_way=task.n_way, k_shot=task.k_shot, query=task.query, seed=task.split_seed, stream=stream, rows=rows).episode(0)
        except ValueError as exc:
            checks.append(Check(False, f"{name}: {exc}"))
    if len(split.val) < task.n_way:
        checks.append(Check(True, val_fallback_warning(len(split.val), "entity type", task.n_way, "val_f1"), warning=True))
    return checks
