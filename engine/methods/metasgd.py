"""Meta-SGD (Li et al., 2017): MAML with a learned inner learning rate per parameter.

Every adapted tensor (and the head) has a same-shaped tensor of step sizes, started at
``inner_lr`` / ``head_inner_lr`` and trained by the outer optimizer with the encoder.
"""

from __future__ import annotations

from engine.methods._gradient import GradientMethod


class MetaSGD(GradientMethod):
    name = "metasgd"
    attn_implementation = "eager"
    learned_lr = True
    fixed_params = {"vmap_tasks": True}
