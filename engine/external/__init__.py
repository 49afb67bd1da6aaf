"""Runs made elsewhere, brought into the store as *external* runs (status ``imported``).

``runs import`` reads TensorBoard event folders (``_tensorboard``) and MLflow runs
(``_mlflow``). An imported run has its curves (metrics with steps and times), its
params as config (dotted keys nested: ``task.n_way`` -> ``{"task": {"n_way": ...}}``),
its final metrics, and ``config.imported_from`` saying where it came from. It has no
per-episode results, so Compare overlays its curves but offers no paired statistics.

An import is all or nothing (one transaction, every run checked first: ``_checks``), and a
source imported before is refused unless asked for again (``_provenance``).
"""

from __future__ import annotations

from engine.external._common import IMPORTED, ExternalRun, import_runs, save_external_run
from engine.external._provenance import AGAIN_FLAG

__all__ = ["AGAIN_FLAG", "IMPORTED", "ExternalRun", "import_runs", "save_external_run"]
