"""Prototypical networks (Snell et al., 2017): episodic training of the encoder, where a
class is the mean embedding of its support examples and queries go to the nearest one."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.data import Episode
from engine.methods._base import EmbeddingMethod, class_means, episode_tensors


def prototype_logits(query: torch.Tensor, prototypes: torch.Tensor, *, distance: str, temperature: float) -> torch.Tensor:
    if distance == "cosine":
        return temperature * F.normalize(query, dim=-1) @ F.normalize(prototypes, dim=-1).T
    return -torch.cdist(query, prototypes).pow(2)


class ProtoNet(EmbeddingMethod):
    name = "protonet"

    def _logits(self, support: torch.Tensor, support_labels: torch.Tensor, query: torch.Tensor, n_way: int) -> torch.Tensor:
        prototypes = class_means(support, support_labels, n_way)
        return prototype_logits(
            query, prototypes, distance=self.params["distance"], temperature=float(self.params["temperature"])
        )

    def train_step(self, step: int) -> dict[str, float]:
        assert self.data.train_sampler is not None
        episode = self.data.train_sampler.episode(step - 1)
        self.encoder.train()
        support_labels, query_labels = episode_tensors(episode, self.device)
        # Support and query in one padded batch: one forward, one backward.
        embeddings = self.embed(list(episode.support) + list(episode.query))
        support, query = embeddings[: len(episode.support)], embeddings[len(episode.support) :]
        logits = self._logits(support, support_labels, query, len(episode.classes))
        loss = F.cross_entropy(logits, query_labels)
        self.optimizer_step(loss)
        accuracy = (logits.argmax(1) == query_labels).float().mean()
        return {"train_loss": float(loss.detach()), "train_accuracy": float(accuracy)}

    def predict(self, episode: Episode) -> torch.Tensor:
        support_labels, _ = episode_tensors(episode, self.device)
        support = self.cached_embeddings(episode.support)
        query = self.cached_embeddings(episode.query)
        with torch.no_grad():
            return self._logits(support, support_labels, query, len(episode.classes))
