"""What differs between task types, in one small base: ``Task``.

A task type owns everything a method must not hard-code:

* **data**: the row schema a dataset must have (``load_dataset``), whether it fits the
  task's settings (``check``), the split and the episode samplers (``build_data``);
* **batches**: how rows become model inputs (``batcher``) and what the model outputs for
  them. A batch is a dict of tensors passed to ``TextEncoder.forward``; its keys choose the
  output (no ``positions``: one pooled vector per row; ``positions``: one vector per word);
  either way the method sees a flat ``[items, hidden]`` matrix with one target per item;
* **targets**: an episode's support and query targets (``episode_targets``) in the
  episode's label space of ``n_classes(episode)`` classes, and the same for plain rows
  (``row_targets``, supervised mode); ``IGNORE`` marks an item the loss and scores skip;
* **loss and metrics**: ``loss`` (cross-entropy over items), ``episode_metrics`` and
  ``rows_metrics``; ``metrics`` names them, says which direction is better, and
  ``headline`` is the one studies, Compare and paired gains use.

Methods call these and never look at a row's text or label themselves, so a new task
type is one new module here plus its tests (docs/TASKS.md).

This module and ``_data`` are torch-free (the GUI, the config and Compare read a task's
names and metrics); each task type's module is imported by name when a run needs it, and
its torch helpers come from ``engine.tasks._torch``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch

    from engine.config import RunConfig, TaskConfig
    from engine.data import Check, Episode
    from engine.models.encoder import TextEncoder
    from engine.tasks._data import TaskData

IGNORE = -100  # a target the loss and the scores skip (torch's cross-entropy default)


@dataclass(frozen=True)
class Metric:
    """One per-episode metric: stored as ``test_<name>`` (mean) after a run."""

    name: str
    higher_is_better: bool = True
    title: str = ""


class Batcher(ABC):
    """Turns dataset rows into model inputs, tokenizing each row once per run."""

    def __init__(self, encoder: TextEncoder, dataset: Any):
        self.encoder = encoder
        self.dataset = dataset

    @abstractmethod
    def __call__(self, rows: Sequence[int]) -> dict[str, torch.Tensor]:
        """A padded batch for ``rows`` on the encoder's device."""

    @abstractmethod
    def item_counts(self, rows: Sequence[int]) -> list[int]:
        """How many output vectors each row gives (1 for a pooled row, its kept words for tokens)."""


class Task(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    output: ClassVar[str]  # "pooled" (a vector per row) or "per_token" (a vector per word)
    metrics: ClassVar[tuple[Metric, ...]]
    headline: ClassVar[str]  # a name in ``metrics``
    curve_metrics: ClassVar[tuple[str, ...]]  # meta-test means also stored as curve points at the last step
    modes: ClassVar[tuple[str, ...]] = ("episodic", "supervised")
    # Whether every episode of the same N, K and Q gives the same number of items, so a
    # meta-batch can be stacked (MAML's vmap over tasks).
    fixed_size_episodes: ClassVar[bool] = True
    # The model a run loads: an encoder (``AutoModel``) or a decoder with its language-model
    # head (``AutoModelForCausalLM``).
    model_kind: ClassVar[str] = "encoder"
    # Whether items are scored by the model's own output layer (a causal LM's next-token
    # head, ``DecoderEncoder.output_weight``) instead of a head each episode builds from its
    # support set; features then stay as the model gives them (no L2 normalisation).
    model_head: ClassVar[bool] = False

    def head_labels(self, dataset: Any) -> list[str]:
        """The classes a supervised head predicts, in the order of its outputs (training and export read this)."""
        raise NotImplementedError(f"{self.name} has no supervised head")

    # --- names and metrics (torch-free) ---------------------------------------------------
    def metric(self, name: str) -> Metric:
        return next(m for m in self.metrics if m.name == name)

    @property
    def headline_metric(self) -> Metric:
        return self.metric(self.headline)

    def describe(self) -> dict[str, Any]:
        """A task type at a glance (torch-free): its metrics, headline and direction, for forms and plots."""
        head = self.headline_metric
        return {
            "name": self.name,
            "title": self.title,
            "output": self.output,
            "modes": list(self.modes),
            "metrics": [{"name": m.name, "title": m.title, "higher_is_better": m.higher_is_better} for m in self.metrics],
            "headline": head.name,
            "direction": "maximize" if head.higher_is_better else "minimize",
            "model_kind": self.model_kind,
        }

    def summarize(self, results: Sequence[dict[str, Any]], prefix: str) -> dict[str, float]:
        """``{prefix}_{metric}`` means over episodes, with ``{prefix}_{headline}_ci95``."""
        from engine.stats import mean_ci

        out: dict[str, float] = {}
        for metric in self.metrics:
            values = [r[metric.name] for r in results if r.get(metric.name) is not None]
            if not values:
                continue
            mean, half = mean_ci(values)
            out[f"{prefix}_{metric.name}"] = mean
            if metric.name == self.headline:
                out[f"{prefix}_{metric.name}_ci95"] = half
        return out

    # --- data (torch-free) ------------------------------------------------------------------
    @abstractmethod
    def load_dataset(self, config: RunConfig) -> Any:
        """The dataset named by ``config.dataset``, or a DatasetError naming file and problem."""

    @abstractmethod
    def check(self, dataset: Any, task: TaskConfig, *, train_query: int | None = None) -> list[Check]:
        """Human-readable checks that the dataset fits the task's settings; ``train_query``:
        queries per class the method draws in training episodes, when not ``task.query``."""

    @abstractmethod
    def build_data(self, config: RunConfig, dataset: Any, *, train_query: int | None) -> TaskData:
        """Splits and samplers; ``train_query`` overrides the queries per class of training episodes."""

    @abstractmethod
    def dataset_summary(self, dataset: Any) -> str:
        """One line for the run's log: rows and classes (or entity types)."""

    # --- the torch side ----------------------------------------------------------------------
    @abstractmethod
    def batcher(self, encoder: TextEncoder, dataset: Any) -> Batcher: ...

    @abstractmethod
    def n_classes(self, n_way: int) -> int:
        """Outputs of an episode's classifier for an N-way task (N, or N + 1 with ``O``)."""

    @abstractmethod
    def episode_targets(self, batcher: Batcher, episode: Episode) -> tuple[torch.Tensor, torch.Tensor]:
        """(support targets, query targets), one per item, in the episode's label space."""

    @abstractmethod
    def row_targets(self, batcher: Batcher, rows: Sequence[int], label_names: Sequence[str]) -> torch.Tensor:
        """Targets of ``rows`` over ``label_names`` (a supervised head's classes); IGNORE for others."""

    @abstractmethod
    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The training loss of items' logits against their targets (IGNORE skipped)."""

    @abstractmethod
    def episode_metrics(self, batcher: Batcher, episode: Episode, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """Every metric in ``metrics`` for the query items of one episode."""

    @abstractmethod
    def rows_metrics(
        self, batcher: Batcher, rows: Sequence[int], label_names: Sequence[str], logits: torch.Tensor, targets: torch.Tensor
    ) -> dict[str, float]:
        """Every metric in ``metrics`` over ``rows`` (supervised mode)."""

