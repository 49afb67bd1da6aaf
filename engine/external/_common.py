"""An external run as read from another tool, and how it is written into the store."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from engine.store import Store

IMPORTED = "imported"
FINAL_PREFIX = "final/"  # what MetaLab's own exports name final metrics


@dataclass
class ExternalRun:
    name: str
    source: dict[str, Any]  # {"kind": "tensorboard" | "mlflow", ...where it was read}
    params: dict[str, Any] = field(default_factory=dict)  # dotted keys
    points: list[tuple[str, int, float, float]] = field(default_factory=list)  # (name, step, value, unix time)
    final_metrics: dict[str, float] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


def nest(params: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys as nested tables; a key that is both a value and a table keeps the value under its full name."""
    config: dict[str, Any] = {}
    for dotted, value in sorted(params.items()):
        node = config
        *parents, leaf = dotted.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                node = None
                break
            node = child
        if node is None or isinstance(node.get(leaf), dict):
            config[dotted] = value
        else:
            node[leaf] = value
    return config


def split_final(points: list[tuple[str, int, float, float]]) -> tuple[list[tuple[str, int, float, float]], dict[str, float]]:
    """Curves apart from ``final/NAME`` scalars (MetaLab's exports), which become final metrics."""
    curves, final = [], {}
    for name, step, value, stamp in points:
        if name.startswith(FINAL_PREFIX):
            final[name[len(FINAL_PREFIX):]] = value
        else:
            curves.append((name, step, value, stamp))
    return curves, final


def save_external_run(store: Store, run: ExternalRun) -> str:
    config = nest(run.params)
    own_name = config.get("name")  # a MetaLab run's own name came with its config
    config["name"] = own_name if isinstance(own_name, str) and own_name else run.name
    config["imported_from"] = run.source
    config["tags"] = sorted({*run.tags, "imported", run.source["kind"]})
    for table in ("method", "model", "dataset", "task"):  # the runs table reads these as tables
        if not isinstance(config.get(table), dict):
            config.pop(table, None)
    run_id = store.create_run(config, status=IMPORTED)
    start = min((stamp for _, _, _, stamp in run.points), default=None)
    rows = [
        (name, step, value, stamp - start, stamp)
        for name, step, value, stamp in run.points if value is not None and math.isfinite(value)
    ]
    store.add_metrics(run_id, rows)
    final: dict[str, Any] = {k: v for k, v in run.final_metrics.items() if v is not None and math.isfinite(v)}
    final.update(_headline(config, final))
    store.update_run(run_id, final_metrics=final, finished_at=_iso(max((r[4] for r in rows), default=None)))
    return run_id


def _headline(config: dict[str, Any], final: dict[str, Any]) -> dict[str, str]:
    """The task's headline (a string: exports carry numbers only), from a MetaLab run's
    ``task.type``, so an imported NER run is read by its F1 as the original is."""
    from engine import tasks

    task_type = (config.get("task") or {}).get("type", tasks.DEFAULT_TASK_TYPE)
    if task_type not in tasks.TASK_TYPES:
        return {}
    metric = tasks.get(task_type).headline_metric
    if f"test_{metric.name}" not in final:
        return {}
    return {"headline_metric": f"test_{metric.name}", "headline_direction": "maximize" if metric.higher_is_better else "minimize"}


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
