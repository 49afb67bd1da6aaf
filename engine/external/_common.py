"""An external run as read from another tool, and how it is written into the store."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from engine.errors import UserError
from engine.external._checks import check_config, check_final, check_points, describe
from engine.external._provenance import AGAIN_FLAG, earlier_imports, identity
from engine.store import Store, transaction

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


def import_runs(store: Store, runs: list[ExternalRun], *, again: bool = False) -> list[str]:
    """All of ``runs`` in one transaction, or none: every run is checked first, and a source
    imported before is refused unless ``again``. The same source given twice is imported once."""
    unique = list({identity(run.source) or id(run): run for run in runs}.values())
    configs = [checked_config(run) for run in unique]
    with transaction(store.conn):  # the check for earlier imports and the writes hold one lock
        if not again:
            _refuse_earlier_imports(store, unique)
        return [_save(store, run, config) for run, config in zip(unique, configs)]


def _refuse_earlier_imports(store: Store, runs: list[ExternalRun]) -> None:
    seen = [(run, found) for run in runs if (found := earlier_imports(store, run.source))]
    if not seen:
        return
    run, found = seen[0]
    others = f" (and {len(seen) - 1} more of these sources)" if len(seen) > 1 else ""
    raise UserError(
        f"already imported as run {found[-1]['id']} ({found[-1]['name']!r}){others}; nothing imported;"
        f" give {AGAIN_FLAG} to import a second copy", source=describe(run.source),
    )


def checked_config(run: ExternalRun) -> dict[str, Any]:
    """The run's config as it will be stored, its known keys type-checked (``UserError`` if not)."""
    where = describe(run.source)
    check_final(run.final_metrics, where)
    check_points(run.points, where)
    return check_config(nest(run.params), where)


def save_external_run(store: Store, run: ExternalRun) -> str:
    """One run, checked, in one transaction (a second import of its source is not asked about)."""
    config = checked_config(run)
    with transaction(store.conn):
        return _save(store, run, config)


def _save(store: Store, run: ExternalRun, config: dict[str, Any]) -> str:
    own_name = config.get("name")  # a MetaLab run's own name came with its config
    config["name"] = own_name if isinstance(own_name, str) and own_name else run.name
    config["imported_from"] = run.source
    config["tags"] = sorted({*run.tags, "imported", run.source["kind"]})
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
