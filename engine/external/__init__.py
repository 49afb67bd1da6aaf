"""Runs made elsewhere, brought into the store as *external* runs (status ``imported``).

``runs import`` reads TensorBoard event folders (``_tensorboard``) and MLflow runs
(``_mlflow``). An imported run has its curves (metrics with steps and times), its
params as config (dotted keys nested: ``task.n_way`` -> ``{"task": {"n_way": ...}}``),
its final metrics, and ``config.imported_from`` saying where it came from. It has no
per-episode results, so Compare overlays its curves but offers no paired statistics.
"""

from __future__ import annotations

from engine.external._common import IMPORTED, ExternalRun, save_external_run

__all__ = ["IMPORTED", "ExternalRun", "save_external_run"]
