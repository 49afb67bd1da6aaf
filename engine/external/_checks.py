"""What an imported run may hold, checked before anything is written.

Keys MetaLab reads have MetaLab's types: the config keys a run config has are checked as a
run config's are, and the final metrics that are strings in MetaLab's own runs (the name of
the headline metric, its direction) are refused as numbers, since every reader of the runs
table takes them as text.
"""

from __future__ import annotations

import math
from typing import Any

from engine.errors import UserError

# Final metrics MetaLab writes as text; another tool's number under such a name is refused.
RESERVED_FINAL = ("headline_metric", "headline_direction")
HEADLINE_DIRECTIONS = ("maximize", "minimize")
# Where another tool's top-level param that only shares a name with a MetaLab key
# (``model = "resnet50"``) is kept, so the runs table can read MetaLab's tables.
SET_ASIDE = "imported_params"
TOP_LEVEL_SHAPES = {
    "dataset": dict, "task": dict, "model": dict, "method": dict, "train": dict, "name": str, "notes": str, "tags": list,
}
# Wall times a date can be made of (1970 to the year 9999): the run's finish time is one.
LATEST_STAMP = 253_402_300_799.0


def describe(source: dict[str, Any]) -> str:
    """Where a run was read, as the first part of a one-line error."""
    if source.get("kind") == "mlflow":
        return f"MLflow run {source.get('run_id')} at {source.get('uri')}"
    return str(source.get("path", source.get("kind", "import")))


def check_config(config: dict[str, Any], where: str) -> dict[str, Any]:
    """Known keys inside MetaLab's tables must have their types (``task.type = ["a"]`` is
    refused); a top-level param of another shape is set aside under ``imported_params``."""
    from engine import tasks
    from engine.config import TASK_MODES, check_known_keys

    aside = {key: config.pop(key) for key, shape in TOP_LEVEL_SHAPES.items() if key in config and not _fits(config[key], shape)}
    if aside:
        earlier = config.get(SET_ASIDE)
        config[SET_ASIDE] = {**(earlier if isinstance(earlier, dict) else {}), **aside}
    check_known_keys(config, source=where)
    task = config.get("task") or {}
    if "type" in task and task["type"] not in tasks.TASK_TYPES:
        raise UserError(f"'task.type' must be one of {', '.join(tasks.TASK_TYPES)}, got {task['type']!r}", source=where)
    if "mode" in task and task["mode"] not in TASK_MODES:
        raise UserError(f"'task.mode' must be one of {', '.join(TASK_MODES)}, got {task['mode']!r}", source=where)
    return config


def _fits(value: Any, shape: type) -> bool:
    if shape is list:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, shape)


def check_final(final: dict[str, Any], where: str) -> None:
    for key in RESERVED_FINAL:
        if key in final:
            raise UserError(
                f"final metric {key!r} is {final[key]!r}, but MetaLab keeps the name of the run's headline metric"
                f" under {key!r}; rename it in the other tool", source=where,
            )
    for key, value in final.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UserError(f"final metric {key!r} must be a number, got {value!r}", source=where)


def check_points(points: list[tuple[str, int, float, float]], where: str) -> None:
    for name, step, _value, stamp in points:
        if not (isinstance(stamp, (int, float)) and math.isfinite(stamp) and 0 <= stamp <= LATEST_STAMP):
            raise UserError(f"metric {name!r} at step {step} has wall time {stamp!r}, which is not a date", source=where)
