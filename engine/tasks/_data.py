"""The data side of a run: the dataset, its split and the episode samplers, built once by
the run's task type (``Task.build_data``). Torch-free: it is data, and methods read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.data import EpisodeSampler
    from engine.tasks._base import Task


@dataclass
class TaskData:
    task: Task
    dataset: Any  # the task type's dataset (a TextDataset for classification)
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
    val_warning: str | None = None  # validation falls back to training data: the run's log and the Monitor say so

    def label_index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.label_names)}

    @property
    def n_classes(self) -> int:
        """Outputs of an episode's classifier (the task decides: N, or N + 1 with ``O``)."""
        return self.task.n_classes(self.n_way)


def requested_train_query(config: Any) -> int | None:
    """Queries per class a method draws in training episodes (``method.params.train_query``;
    0 or absent: ``task.query``). Torch-free, for ``validate`` and the GUI's live check."""
    value = config.method.params.get("train_query")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
