"""Per-episode classification metrics from logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, n_classes: int) -> dict[str, float]:
    """accuracy, loss (cross-entropy), macro F1, macro precision and macro recall."""
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
