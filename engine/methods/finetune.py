"""The fine-tuning baseline: cross-entropy training of encoder + linear head on the
training classes. At episodic test time the head is dropped and each episode gets a
nearest-class-mean classifier or a logistic-regression head fitted on its support set.

For token classification the head is a supervised token head over ``O`` and the training
entity types (a BIO tag's type per word); episodes then work on word embeddings.

For a task scored by the model's own head (``Task.model_head``: causal language modelling)
this is plain causal-LM training on the training domains, and an episode's query documents
are scored by the trained model as it is (no per-episode adaptation)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from engine.data import Episode
from engine.methods._base import EmbeddingMethod, class_means
from engine.methods.protonet import prototype_logits
from engine.tasks import IGNORE
from engine.tasks._torch import accuracy

NCM_TEMPERATURE = 10.0


class FineTune(EmbeddingMethod):
    name = "finetune"

    def setup(self) -> None:
        self.head = None if self.task.model_head else nn.Linear(self.encoder.hidden_size, len(self.data.label_names)).to(self.device)
        super().setup()

    def trainable_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters()) + (list(self.head.parameters()) if self.head is not None else [])

    def head_logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        if self.head is None:
            return embeddings @ self.encoder.output_weight().T
        return self.head(embeddings)

    def train_step(self, step: int) -> dict[str, float]:
        self.encoder.train()
        rows = self.data.train_rows
        size = min(self.hp.batch_size, len(rows))
        picked = torch.randperm(len(rows), generator=self.generator)[:size].tolist()
        batch = self.world.share([rows[i] for i in picked])  # data parallel: this rank's rows of the batch
        targets = self.task.row_targets(self.batcher, batch, self.data.label_names)
        logits = self.head_logits(self.embed(batch))
        loss = self.task.loss(logits, targets)
        if self.world.active:  # this rank's share of the global mean over scored items
            mine = float((targets != IGNORE).sum())
            everyone = self.world.sum_scalars(mine)[0]
            share = mine / everyone if everyone else 0.0
            self.optimizer_step(loss * share)
            train_loss, train_accuracy = self.world.sum_scalars(float(loss.detach()) * share, accuracy(logits, targets) * share)
            return {"train_loss": train_loss, "train_accuracy": train_accuracy}
        self.optimizer_step(loss)
        return {"train_loss": float(loss.detach()), "train_accuracy": accuracy(logits, targets)}

    def predict(self, episode: Episode) -> torch.Tensor:
        if self.head is None:
            with torch.no_grad():
                return self.head_logits(self.cached_embeddings(episode.query))
        support_targets, _ = self.targets(episode)
        support = self.cached_embeddings(episode.support)
        query = self.cached_embeddings(episode.query)
        n_classes = self.n_classes(episode)
        if self.hp.test_head == "logreg":
            return fit_logreg(support, support_targets, query, n_classes, steps=self.hp.head_steps)
        return prototype_logits(query, class_means(support, support_targets, n_classes), distance="cosine", temperature=NCM_TEMPERATURE)

    def predict_rows(self, rows: Sequence[int]) -> torch.Tensor:
        with torch.no_grad():
            return self.head_logits(self.cached_embeddings(rows))

    def state_dict(self) -> dict:
        state = super().state_dict()
        return {**state, "head": self.head.state_dict()} if self.head is not None else state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if self.head is not None:
            self.head.load_state_dict(state["head"])


def fit_logreg(support: torch.Tensor, labels: torch.Tensor, query: torch.Tensor, n_way: int, *, steps: int) -> torch.Tensor:
    """A linear head on frozen, normalised support embeddings (full-batch L-BFGS-free Adam)."""
    support, query = F.normalize(support, dim=-1), F.normalize(query, dim=-1)
    head = nn.Linear(support.shape[1], n_way).to(support.device)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.1, weight_decay=1e-3)
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad()
            F.cross_entropy(head(support), labels).backward()
            optimizer.step()
    with torch.no_grad():
        return head(query)
