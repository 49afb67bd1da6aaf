"""The fine-tuning baseline: cross-entropy training of encoder + linear head on the
training classes. At episodic test time the head is dropped and each episode gets a
nearest-class-mean classifier or a logistic-regression head fitted on its support set."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from engine.data import Episode
from engine.methods._base import EmbeddingMethod, class_means, episode_tensors
from engine.methods.protonet import prototype_logits

NCM_TEMPERATURE = 10.0


class FineTune(EmbeddingMethod):
    name = "finetune"

    def setup(self) -> None:
        self.head = nn.Linear(self.encoder.hidden_size, len(self.data.label_names)).to(self.device)
        super().setup()
        self._labels = torch.tensor(
            [self.data.label_index()[label] if label in self.data.label_index() else -1 for label in self.data.dataset.labels]
        )

    def trainable_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters()) + list(self.head.parameters())

    def train_step(self, step: int) -> dict[str, float]:
        self.encoder.train()
        rows = self.data.train_rows
        size = min(int(self.params["batch_size"]), len(rows))
        picked = torch.randperm(len(rows), generator=self.generator)[:size].tolist()
        batch = [rows[i] for i in picked]
        labels = self._labels[batch].to(self.device)
        logits = self.head(self.embed(batch))
        loss = F.cross_entropy(logits, labels)
        self.optimizer_step(loss)
        accuracy = (logits.argmax(1) == labels).float().mean()
        return {"train_loss": float(loss.detach()), "train_accuracy": float(accuracy)}

    def predict(self, episode: Episode) -> torch.Tensor:
        support_labels, _ = episode_tensors(episode, self.device)
        support = self.cached_embeddings(episode.support)
        query = self.cached_embeddings(episode.query)
        n_way = len(episode.classes)
        if self.params["test_head"] == "logreg":
            return fit_logreg(support, support_labels, query, n_way, steps=int(self.params["head_steps"]))
        return prototype_logits(query, class_means(support, support_labels, n_way), distance="cosine", temperature=NCM_TEMPERATURE)

    def predict_rows(self, rows: Sequence[int]) -> torch.Tensor:
        with torch.no_grad():
            return self.head(self.cached_embeddings(rows))

    def state_dict(self) -> dict:
        return {**super().state_dict(), "head": self.head.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
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
