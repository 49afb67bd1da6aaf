"""The method interface every training method implements.

Call order, driven by ``engine.training.runner``::

    method = Cls(encoder, params, data, device=..., seed=..., total_steps=...)
    method.setup()                      # optimizer, heads; once
    for step in 1..total_steps:
        metrics = method.train_step(step)   # one episode (or batch); returns scalars to log
        every eval_every: evaluation calls
            method.begin_eval(rows) ; method.predict(episode) per episode ; method.end_eval()
            and method.inner_loop_report(episode) for methods that adapt (optional)
    checkpoints: method.state_dict() / method.load_state_dict(state)

``predict`` returns logits over the episode's classes for its query *items*, after whatever
adaptation the method does on the support rows (prototypes, a fitted head, inner steps).
Hooks have no-op defaults; only ``train_step`` and ``predict`` are required.

What is learned belongs to the task (``self.task``, from ``engine.tasks``): the batch of
rows (``self.batch``), the targets of an episode (``self.targets``), the loss and the
metrics. An item is what the model outputs one vector for: a text (classification) or a
word (token classification); methods work on ``[items, hidden]`` matrices and never on texts.

Hyper-parameters are ``self.hp``, a frozen dataclass bound from the method's schema in
``engine.catalog`` (a default is written there only); ``fixed_params`` holds the values an
implementation uses for parameters its schema leaves out. A method declares the data it
needs (``train_query``) and the model it adapts (``adaptation``) as class methods, so the
runner and ``predict`` build both without running the method.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from engine.data import Episode
from engine.distributed import SINGLE, World
from engine.models.adaptation import Adaptation
from engine.models.encoder import TextEncoder
from engine.catalog import get as get_spec
from engine.tasks import TaskData


class Method(ABC):
    world: World = SINGLE  # set by the runner for a data-parallel run (engine.distributed)
    name: str = ""
    fixed_params: ClassVar[dict[str, Any]] = {}
    # False: the method learns nothing from meta-train episodes (in-context learning); the
    # runner then skips training whatever train.episodes says and goes to the meta-test.
    trains: ClassVar[bool] = True

    def __init__(
        self,
        encoder: TextEncoder,
        params: dict[str, Any],
        data: TaskData,
        *,
        device: torch.device,
        seed: int,
        total_steps: int,
    ):
        self.encoder = encoder
        self.hp = self.bind(params)
        self.data = data
        self.task = data.task
        self.batcher = self.task.batcher(encoder, data.dataset)
        self.device = device
        self.seed = seed
        self.total_steps = max(1, total_steps)
        self.generator = torch.Generator().manual_seed(seed)
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None

    # --- what a method declares ---------------------------------------------------------
    @classmethod
    def bind(cls, params: dict[str, Any]) -> Any:
        """The typed hyper-parameters of ``params`` (defaults from the schema)."""
        return get_spec(cls.name).bind(params, fixed=cls.fixed_params)

    @classmethod
    def train_query(cls, hp: Any) -> int | None:
        """Queries per class in training episodes (None: ``task.query``)."""
        return None

    @classmethod
    def adaptation(cls, hp: Any) -> Adaptation:
        """What of the model a task adapts (``engine.models.adaptation``); LoRA changes the model."""
        return Adaptation()

    @classmethod
    def check_fit(cls, config: Any, data: TaskData) -> list[str]:
        """Checks that need the method's settings, the data and the model's files (not its
        weights): run by ``validate`` and before a run writes anything; a UserError if not,
        else a line per check that passed (``validate`` prints them)."""
        return []

    @classmethod
    def predict_texts(
        cls, encoder: TextEncoder, hp: Any, support: list[tuple[str, str]], queries: list[str]
    ) -> dict[str, Any] | None:
        """``predict``'s answer for a trained run of this method, given (text, label) support
        examples and query texts, or None for the generic one (nearest class mean on the
        run's encoder, ``engine.inference``)."""
        return None

    def results(self) -> dict[str, Any]:
        """Settings a run reports with its final metrics (``calibration`` for in-context learning)."""
        return {}

    # --- lifecycle ----------------------------------------------------------------
    def setup(self) -> None:
        """Builds the optimizer over ``trainable_parameters`` with linear warm-up."""
        self.encoder.set_trainable_layers(self.hp.trainable_layers)
        params = [p for p in self.trainable_parameters() if p.requires_grad]
        if not params:
            return
        self.optimizer, self.scheduler = self.adamw(params)

    def adamw(self, params: list[torch.Tensor]) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
        return adamw_with_warmup(
            params, lr=self.hp.lr, weight_decay=self.hp.weight_decay,
            warmup_steps=max(1, int(self.hp.warmup_fraction * self.total_steps)),
        )

    def trainable_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    @abstractmethod
    def train_step(self, step: int) -> dict[str, float]:
        """One optimizer step; returns metrics named as in docs/EVENTS.md (``train_loss``...)."""

    @abstractmethod
    def predict(self, episode: Episode) -> torch.Tensor:
        """Logits [n_query, n_way] for the episode's query rows."""

    def predict_rows(self, rows: Sequence[int]) -> torch.Tensor:
        """Supervised mode: logits [items of rows, n_labels]."""
        raise NotImplementedError(f"{self.name} has no supervised mode")

    def begin_eval(self, rows: Sequence[int]) -> None:
        """Called before a batch of evaluation episodes drawn from ``rows``."""

    def end_eval(self) -> None:
        """Called after evaluation; drop caches here."""

    # episodes of each validation the report below adapts on (seconds each on CPU: they count in progress)
    INNER_LOOP_REPORT_EPISODES = 10

    def inner_loop_report(
        self, episodes: Sequence[Episode], *, on_episode: Callable[[int], None] | None = None
    ) -> dict[str, float]:
        """Methods that adapt at test time report before/after-adaptation metrics here;
        ``on_episode(done)`` after each episode (progress, and a stop that raises)."""
        return {}

    @classmethod
    def reports_inner_loop(cls) -> bool:
        return cls.inner_loop_report is not Method.inner_loop_report

    def state_dict(self) -> dict[str, Any]:
        return {"encoder": self.encoder.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.encoder.load_state_dict(state["encoder"])

    # --- helpers shared by methods ---------------------------------------------------
    def batch(self, rows: Sequence[int]) -> dict[str, torch.Tensor]:
        """Model inputs for dataset rows (the task collates; each row is tokenized once per run)."""
        return self.batcher(rows)

    def targets(self, episode: Episode) -> tuple[torch.Tensor, torch.Tensor]:
        """(support, query) targets of an episode's items, in its label space."""
        return self.task.episode_targets(self.batcher, episode)

    def n_classes(self, episode: Episode) -> int:
        """Outputs of the episode's classifier (its classes, plus ``O`` for token classification)."""
        return self.task.n_classes(len(episode.classes))

    def embed(self, rows: Sequence[int], *, batch_size: int = 128) -> torch.Tensor:
        """Item embeddings for rows, in chunks (gradients flow when enabled)."""
        chunks = [self.encoder.encode_batch(self.batch(rows[i : i + batch_size])) for i in range(0, len(rows), batch_size)]
        return torch.cat(chunks) if chunks else torch.empty(0, self.encoder.hidden_size, device=self.device)

    def embed_by_row(self, rows: Sequence[int], *, batch_size: int = 128) -> dict[int, torch.Tensor]:
        """Row -> its items' embeddings [items, hidden], without gradients (evaluation caches)."""
        rows = sorted(set(rows))
        with torch.no_grad():
            embeddings = self.embed(rows, batch_size=batch_size)
        return dict(zip(rows, torch.split(embeddings, self.batcher.item_counts(rows))))

    def optimizer_step(self, loss: torch.Tensor) -> None:
        if self.optimizer is None:
            return
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.clip_and_step()

    def clip_and_step(self) -> None:
        """Clips the gradient norm (``grad_clip``), steps the optimizer and the schedule."""
        assert self.optimizer is not None
        # data parallel: each rank's gradient is its share of the global mean loss
        self.world.sum_gradients([p for g in self.optimizer.param_groups for p in g["params"]])
        clip = self.hp.grad_clip
        if clip > 0:
            torch.nn.utils.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]], clip)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()

    @property
    def current_lr(self) -> float:
        if self.optimizer is None:
            return math.nan
        return float(self.optimizer.param_groups[0]["lr"])


class EmbeddingMethod(Method):
    """A method whose test-time adaptation needs only embeddings (prototypes, a fitted head):
    evaluation embeds every row of the split once, then each episode is a few matrix products."""

    def setup(self) -> None:
        super().setup()
        self._eval_cache: dict[int, torch.Tensor] = {}

    def begin_eval(self, rows: Sequence[int]) -> None:
        self.encoder.eval()
        self._eval_cache = self.embed_by_row(rows)

    def end_eval(self) -> None:
        self._eval_cache = {}

    def cached_embeddings(self, rows: Sequence[int]) -> torch.Tensor:
        """Item embeddings of rows, from the evaluation cache when every row is in it."""
        if all(r in self._eval_cache for r in rows):
            return torch.cat([self._eval_cache[r] for r in rows])
        with torch.no_grad():
            return self.embed(list(rows))


def class_means(embeddings: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Mean embedding per class (prototypes)."""
    sums = torch.zeros(n_classes, embeddings.shape[1], device=embeddings.device, dtype=embeddings.dtype)
    sums.index_add_(0, labels, embeddings)
    counts = torch.bincount(labels, minlength=n_classes).clamp(min=1).to(embeddings.dtype)
    return sums / counts.unsqueeze(1)


def adamw_with_warmup(
    params: list[torch.Tensor], *, lr: float, weight_decay: float, warmup_steps: int
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW with a linear warm-up. The fused kernel where every parameter is on CPU or CUDA:
    one pass over the weights instead of a loop per tensor (a MiniLM step: 15 ms, not 100 ms on CPU)."""
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.bfloat16, torch.float16) for p in params)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused or None)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup_steps))
    return optimizer, scheduler
