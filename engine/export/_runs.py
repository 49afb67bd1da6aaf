"""What the run exporters share: a run's curves, its flat config and its final metrics, from the store."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.compare import flatten_config
from engine.store import Store


@dataclass
class RunRecord:
    run: dict[str, Any]
    metrics: list[dict[str, Any]]  # rows of name, step, value, wall_time, time
    params: dict[str, Any]  # flattened config: "task.n_way" -> 5

    @property
    def id(self) -> str:
        return self.run["id"]

    def final_metrics(self) -> dict[str, float]:
        """The run's numeric, finite final metrics."""
        return {
            k: float(v) for k, v in (self.run.get("final_metrics") or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        }

    def tags(self) -> dict[str, str]:
        run = self.run
        tags = {"metalab.run_id": run["id"], "metalab.status": run["status"], "metalab.method": str(run.get("method"))}
        tags.update({f"metalab.tag.{t}": "true" for t in run.get("tags") or []})
        if run.get("study"):
            tags["metalab.study"] = run["study"]
        return tags


def read_runs(store: Store, ids: list[str]) -> list[RunRecord]:
    records = []
    for run_id in ids:
        run = store.get_run(run_id)
        records.append(RunRecord(run, store.metrics(run["id"]), flatten_config(run["config"])))
    return records


def param_text(value: Any) -> str:
    """A config value as text (params are strings in MLflow, and TensorBoard's HParams show them)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    import json

    return json.dumps(value)
