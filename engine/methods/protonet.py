"""Prototypical networks (Snell et al., 2017): episodic training of the encoder, where a
class is the mean embedding of its support items and query items go to the nearest one.

For token classification the items are words: a prototype per entity type plus one for
``O`` (ProtoBERT, Few-NERD's baseline)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from engine.data import Episode
from engine.methods._base import EmbeddingMethod, class_means
from engine.tasks._torch import accuracy


def prototype_logits(query: torch.Tensor, prototypes: torch.Tensor, *, distance: str, temperature: float) -> torch.Tensor:
    if distance == "cosine":
        return temperature * F.normalize(query, dim=-1) @ F.normalize(prototypes, dim=-1).T
    return -torch.cdist(query, prototypes).pow(2)


class ProtoNet(EmbeddingMethod):
    name = "protonet"

    @classmethod
    def train_query(cls, hp: Any) -> int | None:
        return hp.train_query or None

    def _logits(self, support: torch.Tensor, support_targets: torch.Tensor, query: torch.Tensor, n_classes: int) -> torch.Tensor:
        prototypes = class_means(support, support_targets, n_classes)
        return prototype_logits(query, prototypes, distance=self.hp.distance, temperature=self.hp.temperature)

    def train_step(self, step: int) -> dict[str, float]:
        assert self.data.train_sampler is not None
        episode = self.data.train_sampler.episode(step - 1)
        self.encoder.train()
        support_targets, query_targets = self.targets(episode)
        # Support and query in one padded batch: one forward, one backward.
        embeddings = self.embed(list(episode.support) + list(episode.query))
        support, query = embeddings[: len(support_targets)], embeddings[len(support_targets) :]
        logits = self._logits(support, support_targets, query, self.n_classes(episode))
        loss = self.task.loss(logits, query_targets)
        self.optimizer_step(loss)
        return {"train_loss": float(loss.detach()), "train_accuracy": accuracy(logits, query_targets)}

    def predict(self, episode: Episode) -> torch.Tensor:
        support_targets, _ = self.targets(episode)
        support = self.cached_embeddings(episode.support)
        query = self.cached_embeddings(episode.query)
        with torch.no_grad():
            return self._logits(support, support_targets, query, self.n_classes(episode))
