"""NNShot (Yang and Katiyar, 2020): a query item takes the class of its nearest support item.

Trained episodically like prototypical networks, with the nearest-neighbour score in
place of the prototype: the logit of a class is the best similarity between the query
item and any support item of that class. Serves token classification (a nearest support
*token*, Few-NERD's second baseline) and sentence classification alike.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.methods.protonet import ProtoNet


def nearest_logits(
    query: torch.Tensor, support: torch.Tensor, support_targets: torch.Tensor, n_classes: int, *, distance: str, temperature: float
) -> torch.Tensor:
    """[query items, n_classes]: per class, the best score over its support items (-inf for none)."""
    if distance == "cosine":
        scores = temperature * F.normalize(query, dim=-1) @ F.normalize(support, dim=-1).T
    else:
        scores = -torch.cdist(query, support).pow(2)
    onehot = F.one_hot(support_targets, n_classes).T.bool()  # [classes, support items]
    masked = scores.unsqueeze(1).masked_fill(~onehot.unsqueeze(0), float("-inf"))
    logits = masked.amax(-1)
    # A class with no support item (O in a sentence made only of entities): a very low score, not -inf.
    return torch.where(torch.isinf(logits), torch.full_like(logits, -1e4), logits)


class NNShot(ProtoNet):
    name = "nnshot"

    def _logits(self, support: torch.Tensor, support_targets: torch.Tensor, query: torch.Tensor, n_classes: int) -> torch.Tensor:
        return nearest_logits(query, support, support_targets, n_classes, distance=self.hp.distance, temperature=self.hp.temperature)
