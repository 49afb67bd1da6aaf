"""``runs export ID... --to-mlflow URI``: each MetaLab run as an MLflow run.

Params are the flattened config keys; metrics keep their steps and timestamps; final
metrics are ``final/NAME``; tags name the MetaLab run; the trained model folder
(``export-model``) goes along as the artifact ``model`` when the run has weights.
Any tracking URI works: ``sqlite:///mlflow.db``, a server, or a ``./mlruns`` folder
(MLflow 3 asks for ``MLFLOW_ALLOW_FILE_STORE=true`` there).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.export._runs import RunRecord, param_text

EXPERIMENT = "metalab"
FINAL_PREFIX = "final/"
BATCH = 1000  # MLflow's limit of metrics per log_batch (params: 100)
STATUSES = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


def export_mlflow(
    records: list[RunRecord], uri: str, *, experiment: str = EXPERIMENT,
    model_folder: Callable[[str, Path], Path | None] | None = None,
) -> dict[str, str]:
    """MetaLab run id -> MLflow run id. ``model_folder(run_id, into)`` writes the model, or returns None."""
    client = _client(uri)
    experiment_id = experiment_for(client, uri, experiment)
    done = {}
    for record in records:
        done[record.id] = log_run(client, experiment_id, record, model_folder)
    return done


def log_run(client: Any, experiment_id: str, record: RunRecord, model_folder: Callable[[str, Path], Path | None] | None) -> str:
    from mlflow.entities import Metric, Param

    run = record.run
    start_ms = _ms(run.get("started_at") or run.get("created_at"))
    created = client.create_run(experiment_id, start_time=start_ms, run_name=run.get("name"),
                                tags={**record.tags(), "mlflow.source.name": "metalab"})
    mlflow_id = created.info.run_id
    params = [Param(key, param_text(value)[:6000]) for key, value in sorted(record.params.items())]
    for i in range(0, len(params), 100):
        client.log_batch(mlflow_id, params=params[i : i + 100])
    metrics = [
        Metric(row["name"], float(row["value"]), int(row["time"] * 1000), int(row["step"]))
        for row in record.metrics if row["value"] is not None
    ]
    end_ms = _ms(run.get("finished_at")) or max((m.timestamp for m in metrics), default=start_ms)
    last_step = max((m.step for m in metrics), default=0)
    metrics += [Metric(FINAL_PREFIX + key, value, end_ms, last_step) for key, value in record.final_metrics().items()]
    for i in range(0, len(metrics), BATCH):
        client.log_batch(mlflow_id, metrics=metrics[i : i + BATCH])
    if model_folder is not None:
        with tempfile.TemporaryDirectory(prefix="metalab-mlflow-") as tmp:
            folder = model_folder(record.id, Path(tmp) / "model")
            if folder is not None:
                client.log_artifacts(mlflow_id, str(folder), artifact_path="model")
    client.set_terminated(mlflow_id, status=STATUSES.get(run["status"], "FINISHED"), end_time=end_ms)
    return mlflow_id


def experiment_for(client: Any, uri: str, name: str) -> str:
    """The experiment's id, created when missing. With a ``sqlite:///PATH`` store, artifacts go
    to ``mlruns`` beside the database file, not to MLflow's default ``./mlruns`` under whatever
    folder the engine was started in."""
    found = client.get_experiment_by_name(name)
    if found:
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///") and not uri.endswith(":memory:"):
        location = (Path(uri.removeprefix("sqlite:///")).expanduser().resolve().parent / "mlruns").as_uri()
    return client.create_experiment(name, artifact_location=location)


def _ms(stamp: str | None) -> int | None:
    if not stamp:
        return None
    from datetime import datetime

    return int(datetime.fromisoformat(stamp).timestamp() * 1000)


def _client(uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UserError("MLflow export needs mlflow: pip install 'metalab[mlflow]'") from None
    return MlflowClient(tracking_uri=uri)
