"""A run as text: its metrics (CSV), everything (JSON: run, metrics, episodes of every split, logs) or its config (TOML).

Torch-free: ``metalab-engine runs export`` and the GUI's Runs page both call ``export_run``.
"""

from __future__ import annotations

import json
from typing import Any

from engine.csv_cells import csv_text
from engine.events import json_safe
from engine.store import Store

FORMATS = ("csv", "json", "toml")
METRIC_COLUMNS = ("run_id", "name", "step", "value", "wall_time", "time")


def export_run(store: Store, run_id: str, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format '{fmt}'")
    run = store.get_run(run_id)
    if fmt == "toml":
        import tomli_w

        # the name as the run is called now (a rename changes the row, not the config it ran)
        config = {**run["config"], "name": run["name"]} if run.get("name") else run["config"]
        return tomli_w.dumps(_toml_safe(config))
    metrics = store.metrics(run["id"])
    if fmt == "json":
        episodes = list(store.db.query(
            "SELECT split, episode, accuracy, loss, macro_f1, n_query, key FROM episodes WHERE run_id = ? ORDER BY split, episode",
            [run["id"]],
        ))
        document = json_safe({"run": run, "metrics": metrics, "episodes": episodes, "logs": store.logs(run["id"])})
        return json.dumps(document, indent=2, default=str, allow_nan=False) + "\n"
    rows = [[run["id"], row["name"], row["step"], row["value"], row["wall_time"], row["time"]] for row in metrics]
    return csv_text([METRIC_COLUMNS, *rows])


def _toml_safe(value: Any) -> Any:
    """TOML has no null: keys whose value is None are left out."""
    if isinstance(value, dict):
        return {k: _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_toml_safe(v) for v in value if v is not None]
    return value
