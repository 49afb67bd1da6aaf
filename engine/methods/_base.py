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

``predict`` returns logits over the episode's classes for its query rows, after whatever
adaptation the method does on the support rows (prototypes, a fitted head, inner steps).
Hooks have no-op defaults; only ``train_step`` and ``predict`` are required.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from engine.data import Episode
from engine.models.encoder import TextEncoder
from engine.training.task_data import TaskData


class Method(ABC):
    name: str = ""

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
        self.params = params
        self.data = data
        self.device = device
        self.seed = seed
        self.total_steps = max(1, total_steps)
        self.generator = torch.Generator().manual_seed(seed)
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self._token_cache: dict[int, list[int]] = {}

    # --- lifecycle ----------------------------------------------------------------
    def setup(self) -> None:
        """Builds the optimizer over ``trainable_parameters`` with linear warm-up."""
        self.encoder.set_trainable_layers(int(self.params.get("trainable_layers", -1)))
        params = [p for p in self.trainable_parameters() if p.requires_grad]
        if not params:
            return
        self.optimizer, self.scheduler = adamw_with_warmup(
            params, lr=float(self.params.get("lr", 3e-5)), weight_decay=float(self.params.get("weight_decay", 0.0)),
            warmup_steps=max(1, int(float(self.params.get("warmup_fraction", 0.0)) * self.total_steps)),
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
        """Supervised mode: logits [len(rows), n_labels]."""
        raise NotImplementedError(f"{self.name} has no supervised mode")

    def begin_eval(self, rows: Sequence[int]) -> None:
        """Called before a batch of evaluation episodes drawn from ``rows``."""

    def end_eval(self) -> None:
        """Called after evaluation; drop caches here."""

    def inner_loop_report(self, episodes: Sequence[Episode]) -> dict[str, float]:
        """Methods that adapt at test time report before/after-adaptation metrics here."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"encoder": self.encoder.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.encoder.load_state_dict(state["encoder"])

    # --- helpers shared by methods ---------------------------------------------------
    def tokens(self, rows: Sequence[int]) -> dict[str, torch.Tensor]:
        """A padded batch for dataset rows, tokenizing each text once per run."""
        missing = [r for r in rows if r not in self._token_cache]
        if missing:
            ids = self.encoder.tokenize([self.data.dataset.texts[r] for r in missing])
            self._token_cache.update(zip(missing, ids))
        return self.encoder.collate([self._token_cache[r] for r in rows])

    def embed(self, rows: Sequence[int], *, batch_size: int = 128) -> torch.Tensor:
        """Embeddings for rows, in chunks (gradients flow when enabled)."""
        chunks = [self.encoder.encode_batch(self.tokens(rows[i : i + batch_size])) for i in range(0, len(rows), batch_size)]
        return torch.cat(chunks) if chunks else torch.empty(0, self.encoder.hidden_size, device=self.device)

    def optimizer_step(self, loss: torch.Tensor) -> None:
        if self.optimizer is None:
            return
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.clip_and_step()

    def clip_and_step(self) -> None:
        """Clips the gradient norm (``grad_clip``), steps the optimizer and the schedule."""
        assert self.optimizer is not None
        clip = float(self.params.get("grad_clip", 0.0))
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
        rows = sorted(set(rows))
        with torch.no_grad():
            embeddings = self.embed(rows)
        self._eval_cache = dict(zip(rows, embeddings))

    def end_eval(self) -> None:
        self._eval_cache = {}

    def cached_embeddings(self, rows: Sequence[int]) -> torch.Tensor:
        if all(r in self._eval_cache for r in rows):
            return torch.stack([self._eval_cache[r] for r in rows])
        with torch.no_grad():
            return self.embed(list(rows))


def episode_tensors(episode: Episode, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return (
        torch.tensor(episode.support_labels, device=device),
        torch.tensor(episode.query_labels, device=device),
    )


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
