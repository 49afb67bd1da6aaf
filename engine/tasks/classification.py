"""Sentence classification: a label per text, a pooled vector per text (today's behaviour).

Episodes are N classes with K support and Q query texts each, on classes held out by
seed (``engine.data.episodes``); supervised mode splits rows per class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.data import (
    EpisodeSampler,
    TextDataset,
    check_task,
    load_dataset,
    split_classes,
    split_rows,
)
from engine.data.checks import no_val_rows_warning, val_fallback_warning
from engine.tasks._base import Batcher, Metric, Task
from engine.tasks._data import TaskData

if TYPE_CHECKING:
    import torch

    from engine.config import RunConfig, TaskConfig
    from engine.data import Check, Episode
    from engine.models.encoder import TextEncoder


class TextBatcher(Batcher):
    dataset: TextDataset

    def __init__(self, encoder: TextEncoder, dataset: TextDataset):
        super().__init__(encoder, dataset)
        self._ids: dict[int, list[int]] = {}

    def __call__(self, rows: Sequence[int]) -> dict[str, torch.Tensor]:
        missing = [r for r in rows if r not in self._ids]
        if missing:
            self._ids.update(zip(missing, self.encoder.tokenize([self.dataset.texts[r] for r in missing])))
        return self.encoder.collate([self._ids[r] for r in rows])

    def item_counts(self, rows: Sequence[int]) -> list[int]:
        return [1] * len(rows)


class ClassificationTask(Task):
    name = "classification"
    title = "Text classification"
    output = "pooled"
    metrics = (
        Metric("accuracy", True, "Accuracy"),
        Metric("loss", False, "Loss"),
        Metric("macro_f1", True, "Macro F1"),
        Metric("precision", True, "Macro precision"),
        Metric("recall", True, "Macro recall"),
    )
    headline = "accuracy"
    curve_metrics = ("accuracy", "macro_f1")

    def load_dataset(self, config: RunConfig) -> TextDataset:
        return load_dataset(config.dataset.path, config.dataset.text_column, config.dataset.label_column, config.dataset.split)

    def check(self, dataset: TextDataset, task: TaskConfig, *, train_query: int | None = None) -> list[Check]:
        return check_task(dataset, task, train_query=train_query)

    def dataset_summary(self, dataset: TextDataset) -> str:
        return f"{len(dataset)} rows, {len(set(dataset.labels))} classes"

    def head_labels(self, dataset: TextDataset) -> list[str]:
        return sorted(set(dataset.labels))

    def build_data(self, config: RunConfig, dataset: TextDataset, *, train_query: int | None) -> TaskData:
        task = config.task
        if task.mode == "supervised":
            rows = split_rows(dataset.labels, test_fraction=task.meta_test_fraction, val_fraction=task.meta_val_fraction, seed=task.split_seed)
            return TaskData(
                self, dataset, "supervised", 0, 0, 0,
                train_rows=list(rows.train),
                label_names=self.head_labels(dataset),
                val_rows=list(rows.val) or list(rows.train[: max(1, len(rows.train) // 10)]),
                test_rows=list(rows.test),
                val_warning=None if rows.val else no_val_rows_warning("row", "val_accuracy"),
            )
        split = split_classes(dataset.labels, test_fraction=task.meta_test_fraction, val_fraction=task.meta_val_fraction, seed=task.split_seed)
        common = dict(n_way=task.n_way, k_shot=task.k_shot)
        train_sampler = EpisodeSampler(dataset.labels, split.train, query=train_query or task.query, seed=config.train.seed, stream="train", **common)
        val_classes = split.val if len(split.val) >= task.n_way else split.train  # too few: meta-train's, and say so
        val_warning = None if len(split.val) >= task.n_way else val_fallback_warning(len(split.val), "class", task.n_way, "val_accuracy")
        val_sampler = EpisodeSampler(dataset.labels, val_classes, query=task.query, seed=task.split_seed, stream="val", **common)
        test_sampler = EpisodeSampler(dataset.labels, split.test, query=task.query, seed=task.split_seed, stream="test", **common)
        train_set = set(split.train)
        return TaskData(
            self, dataset, "episodic", task.n_way, task.k_shot, task.query,
            train_rows=[i for i, label in enumerate(dataset.labels) if label in train_set],
            label_names=list(split.train),
            train_sampler=train_sampler,
            val_sampler=val_sampler,
            test_sampler=test_sampler,
            val_warning=val_warning,
        )

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        from engine.tasks._torch import cross_entropy

        return cross_entropy(logits, targets)

    # --- torch side ---------------------------------------------------------------------
    def batcher(self, encoder: TextEncoder, dataset: TextDataset) -> TextBatcher:
        return TextBatcher(encoder, dataset)

    def n_classes(self, n_way: int) -> int:
        return n_way

    def episode_targets(self, batcher: Batcher, episode: Episode) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        device = batcher.encoder.device
        return torch.tensor(episode.support_labels, device=device), torch.tensor(episode.query_labels, device=device)

    def row_targets(self, batcher: Batcher, rows: Sequence[int], label_names: Sequence[str]) -> torch.Tensor:
        import torch

        index = {name: i for i, name in enumerate(label_names)}
        labels = batcher.dataset.labels
        return torch.tensor([index.get(labels[r], -100) for r in rows], device=batcher.encoder.device)

    def episode_metrics(self, batcher: Batcher, episode: Episode, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        return classification_metrics(logits, targets, len(episode.classes))

    def rows_metrics(
        self, batcher: Batcher, rows: Sequence[int], label_names: Sequence[str], logits: torch.Tensor, targets: torch.Tensor
    ) -> dict[str, float]:
        return classification_metrics(logits, targets, len(label_names))


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, n_classes: int) -> dict[str, float]:
    """accuracy, loss (cross-entropy), macro F1, macro precision and macro recall."""
    import torch
    import torch.nn.functional as F

    logits = logits.detach().float()
    labels = labels.to(logits.device)
    predicted = logits.argmax(1)
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.float64)
    confusion.index_put_((labels.cpu(), predicted.cpu()), torch.ones(len(labels), dtype=torch.float64), accumulate=True)
    true_pos = confusion.diag()
    predicted_count = confusion.sum(0)
    actual_count = confusion.sum(1)
    precision = torch.where(predicted_count > 0, true_pos / predicted_count.clamp(min=1), torch.zeros_like(true_pos))
    recall = torch.where(actual_count > 0, true_pos / actual_count.clamp(min=1), torch.zeros_like(true_pos))
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall).clamp(min=1e-12), torch.zeros_like(true_pos))
    present = actual_count > 0
    return {
        "accuracy": float((predicted == labels).float().mean()),
        "loss": float(F.cross_entropy(logits, labels)),
        "macro_f1": float(f1[present].mean()),
        "precision": float(precision[present].mean()),
        "recall": float(recall[present].mean()),
    }


