"""Differentiable helpers shared by the gradient-based methods (MAML family, Reptile).

Fast weights are plain ``dict[str, Tensor]`` keyed by parameter name. A module is run
with them through ``torch.func.functional_call``: names missing from the dict fall back to
the module's own parameters, so a dict holding only the adapted subset (the head, the top
layers, the LoRA adapters) is enough. Updates keep the autograd graph when
``first_order`` is false, which is what makes second-order MAML's meta-gradient exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

Params = dict[str, torch.Tensor]


def clone(params: Mapping[str, torch.Tensor]) -> Params:
    """Fast weights that start at ``params`` and stay on their graph.

    A parameter that does not require grad (frozen in the outer loop) still gets a
    gradient in the inner loop: it becomes a detached leaf that requires grad.
    """
    out: Params = {}
    for name, p in params.items():
        out[name] = p if p.requires_grad else p.detach().requires_grad_(True)
    return out


def detached(params: Mapping[str, torch.Tensor]) -> Params:
    """Fast weights cut from the graph (Reptile, test-time adaptation)."""
    return {name: p.detach().clone().requires_grad_(True) for name, p in params.items()}


def inner_update(
    loss: torch.Tensor,
    params: Mapping[str, torch.Tensor],
    lr: float | Mapping[str, torch.Tensor],
    *,
    first_order: bool,
    retain_graph: bool | None = None,
) -> Params:
    """One SGD step on fast weights: ``p - lr * dloss/dp``.

    ``lr`` is a number, or a tensor per name (Meta-SGD's learned rates, kept on the graph
    so the outer loop learns them). With ``first_order`` the gradient is a constant: the
    outer gradient then skips the second-order term, as first-order MAML does.
    A parameter the loss does not reach keeps its value. ``retain_graph`` keeps the
    forward graph alive for a later backward that shares it (default: when second-order).
    """
    names = list(params)
    grads = torch.autograd.grad(
        loss, [params[n] for n in names], create_graph=not first_order, retain_graph=retain_graph, allow_unused=True
    )
    out: Params = {}
    for name, grad in zip(names, grads):
        if grad is None:
            out[name] = params[name]
            continue
        step = lr[name] if isinstance(lr, Mapping) else lr
        out[name] = params[name] - step * grad
    return out


def call(module: nn.Module, params: Mapping[str, torch.Tensor], *args: Any, **kwargs: Any) -> Any:
    """``module(*args)`` with ``params`` in place of the module's own (a partial dict is fine)."""
    return torch.func.functional_call(module, dict(params), args, kwargs, strict=False)


def linear_head(features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return F.linear(features, weight, bias)
