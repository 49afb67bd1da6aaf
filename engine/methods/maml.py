"""MAML (Finn et al., 2017) and its first-order variant.

Second-order MAML differentiates through the inner loop (``create_graph=True``); on CPU
PyTorch's fused attention has no double backward, so the model loads with eager attention.
First-order MAML drops the second-order term and keeps the fused kernels.
All of the work is in ``engine.methods._gradient``.
"""

from __future__ import annotations

from engine.methods._gradient import GradientMethod


class MAML(GradientMethod):
    name = "maml"
    attn_implementation = "eager"
    fixed_params = {"vmap_tasks": True}


class FOMAML(GradientMethod):
    name = "fomaml"
    fixed_params = {"first_order": True, "vmap_tasks": False}
