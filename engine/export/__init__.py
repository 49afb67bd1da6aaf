"""Runs and models out of MetaLab, into the tools researchers already use.

Each exporter is one module:

- ``_model_folder``: ``export-model``, a trained run as a folder that ``AutoModel`` and
  ``SentenceTransformer`` open (``_sentence_transformers`` writes the pipeline files,
  ``_card`` the model card), or, for a LoRA run, the adapter alone as a PEFT folder
  (``_peft``);
- ``_tensorboard``: ``runs export --format tensorboard``, event files with scalars and HParams;
- ``_mlflow``: ``runs export --to-mlflow URI``, one MLflow run per MetaLab run.
"""

from __future__ import annotations

from engine.export._model_folder import export_model

__all__ = ["export_model"]
