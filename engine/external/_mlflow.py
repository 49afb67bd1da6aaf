"""MLflow runs as external runs: params, every metric's history (steps, timestamps), final metrics.

Final metrics are the ``final/NAME`` metrics when the run has them (MetaLab's own exports),
otherwise each metric's latest value. Params are text in MLflow: numbers and booleans
written as JSON are read back as such.
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import UserError
from engine.external._common import ExternalRun, split_final


def read_runs(uri: str, *, experiment: str | None = None, run_ids: list[str] | None = None) -> list[ExternalRun]:
    client = _client(uri)
    if run_ids:
        found = [_get(client, run_id, uri) for run_id in run_ids]
    else:
        experiments = [e for e in client.search_experiments() if experiment is None or e.name == experiment]
        if not experiments:
            raise UserError(f"no MLflow experiment {experiment!r} at {uri}" if experiment else f"no MLflow experiments at {uri}")
        found = client.search_runs([e.experiment_id for e in experiments], max_results=10_000)
    return [_external(client, run, uri) for run in found]


def _external(client: Any, run: Any, uri: str) -> ExternalRun:
    points = [
        (key, int(m.step), float(m.value), m.timestamp / 1000.0)
        for key in run.data.metrics
        for m in client.get_metric_history(run.info.run_id, key)
    ]
    curves, final = split_final(points)
    if not final:
        final = {key: float(value) for key, value in run.data.metrics.items()}
    tags = run.data.tags
    return ExternalRun(
        name=run.info.run_name or tags.get("mlflow.runName") or run.info.run_id,
        source={"kind": "mlflow", "uri": uri, "run_id": run.info.run_id, "experiment_id": run.info.experiment_id},
        params={key: _value(text) for key, text in run.data.params.items()},
        points=curves, final_metrics=final,
        tags=[key.removeprefix("metalab.tag.") for key in tags if key.startswith("metalab.tag.")],
    )


def _value(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, bool, list)) else text


def _get(client: Any, run_id: str, uri: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException:
        raise UserError(f"no MLflow run {run_id} at {uri}") from None


def _client(uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UserError("importing MLflow runs needs mlflow: pip install 'metalab[mlflow]'") from None
    return MlflowClient(tracking_uri=uri)
