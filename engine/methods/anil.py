"""ANIL (Raghu et al., 2020): MAML whose inner loop adapts only the head.

The encoder runs once per task and is learned in the outer loop only; the inner loops
of a meta-batch run together under ``torch.func.vmap`` (``vmap_tasks``).
"""

from __future__ import annotations

from engine.methods._gradient import GradientMethod


class ANIL(GradientMethod):
    name = "anil"
    fixed_params = {"scope": "head", "gradient_checkpointing": "off"}
