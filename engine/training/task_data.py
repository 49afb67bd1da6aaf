"""The data side of a run: the dataset, its split and the episode samplers, built once."""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import RunConfig
from engine.data import (
    EpisodeSampler,
    TextDataset,
    check_task,
    first_problem,
    load_dataset,
    split_classes,
    split_rows,
)
from engine.errors import DatasetError


@dataclass
class TaskData:
    dataset: TextDataset
    mode: str
    n_way: int
    k_shot: int
    query: int
    train_rows: list[int]
    label_names: list[str]  # the classes a supervised head predicts (train classes in episodic mode)
    train_sampler: EpisodeSampler | None = None
    val_sampler: EpisodeSampler | None = None
    test_sampler: EpisodeSampler | None = None
    val_rows: list[int] | None = None  # supervised
    test_rows: list[int] | None = None  # supervised

    def label_index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.label_names)}


def build_task_data(config: RunConfig, *, train_query: int | None = None) -> TaskData:
    dataset = load_dataset(config.dataset.path, config.dataset.text_column, config.dataset.label_column)
    problem = first_problem(check_task(dataset, config.task))
    if problem:
        raise DatasetError(problem, source=dataset.source)
    task = config.task
    if task.mode == "supervised":
        rows = split_rows(dataset.labels, test_fraction=task.meta_test_fraction, val_fraction=task.meta_val_fraction, seed=task.split_seed)
        return TaskData(
            dataset, "supervised", 0, 0, 0,
            train_rows=list(rows.train),
            label_names=sorted(set(dataset.labels)),
            val_rows=list(rows.val) or list(rows.train[: max(1, len(rows.train) // 10)]),
            test_rows=list(rows.test),
        )
    split = split_classes(dataset.labels, test_fraction=task.meta_test_fraction, val_fraction=task.meta_val_fraction, seed=task.split_seed)
    common = dict(n_way=task.n_way, k_shot=task.k_shot)
    train_sampler = EpisodeSampler(dataset.labels, split.train, query=train_query or task.query, seed=config.train.seed, stream="train", **common)
    val_classes = split.val if len(split.val) >= task.n_way else split.train
    val_sampler = EpisodeSampler(dataset.labels, val_classes, query=task.query, seed=task.split_seed, stream="val", **common)
    test_sampler = EpisodeSampler(dataset.labels, split.test, query=task.query, seed=task.split_seed, stream="test", **common)
    train_set = set(split.train)
    return TaskData(
        dataset, "episodic", task.n_way, task.k_shot, task.query,
        train_rows=[i for i, label in enumerate(dataset.labels) if label in train_set],
        label_names=list(split.train),
        train_sampler=train_sampler,
        val_sampler=val_sampler,
        test_sampler=test_sampler,
    )
