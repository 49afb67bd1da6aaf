"""Rows another program edited: every value of a run row is checked as it is read.

A value that is not what the schema says (a config that is not JSON, a pid that is text or
overflows, a heartbeat that is not a date) is replaced by its empty value and named in the
row's ``damaged`` list, so one damaged row is listed as damaged, can be deleted, and never
stops a command or hides the other runs (docs/STORE.md, "Damaged rows").
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

# JSON columns and the type their value must have.
JSON_SHAPES: dict[str, type] = {"config": dict, "tags": list, "versions": dict, "final_metrics": dict}
DATE_COLUMNS = ("created_at", "started_at", "finished_at", "heartbeat_at")
INTEGER_COLUMNS = ("n_way", "k_shot", "trial_number")
# Names of final metrics that other code reads as text.
TEXT_METRICS = ("headline_metric", "headline_direction")
# A list read without configs still names a config that is not a JSON object (CASE is lazy:
# json_type is asked only of valid JSON).
CONFIG_CHECK_SQL = (
    "CASE WHEN NOT json_valid(config) THEN 'config is not JSON'"
    " WHEN json_type(config) != 'object' THEN 'config is not a JSON object' END AS config_damage"
)
# Process ids are C ints (pid_t); anything else cannot name a process.
MAX_PID = 2**31 - 1


def parse_date(value: Any) -> float | None:
    """Seconds since the epoch of a stored ISO 8601 time; None when missing or not a time."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError):
        return None


def _is_date(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)  # reads the trailing Z (Python 3.11)
    except (TypeError, ValueError):
        return False
    return True


def process_id(value: Any) -> int | None:
    """A stored pid that can name a process, or None (text, a float, an overflow, 0)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_PID:
        return None
    return value


def decode_run(row: dict[str, Any], *, statuses: tuple[str, ...]) -> dict[str, Any]:
    """The row with JSON columns decoded; ``damaged`` lists each value that was not what the
    schema says (empty for a sound row)."""
    damaged: list[str] = []
    if row.get("config_damage"):
        damaged.append(row["config_damage"])
    row.pop("config_damage", None)
    if bytes in set(map(type, row.values())):  # one pass in C: BLOBs are rare
        for key, value in list(row.items()):
            if isinstance(value, bytes) and key not in JSON_SHAPES:
                row[key] = value.decode("utf-8", errors="replace")
                damaged.append(f"{key} is not text")
    for key, shape in JSON_SHAPES.items():
        if key in row:
            row[key] = _json_value(key, row[key], shape, damaged)
    final = row.get("final_metrics") or {}
    for key in TEXT_METRICS:
        if key in final and not isinstance(final[key], str):
            del final[key]
            damaged.append(f"final_metrics.{key} is not text")
    if isinstance(row.get("tags"), list) and not all(isinstance(tag, str) for tag in row["tags"]):
        row["tags"] = [tag for tag in row["tags"] if isinstance(tag, str)]
        damaged.append("tags holds values that are not text")
    for key in DATE_COLUMNS:
        if row.get(key) and not _is_date(row[key]):
            damaged.append(f"{key} is not a date")
    if row.get("pid") is not None and process_id(row["pid"]) is None:
        row["pid"] = None
        damaged.append("pid is not a process id")
    for key in INTEGER_COLUMNS:
        if row.get(key) is not None and (isinstance(row[key], bool) or not isinstance(row[key], int)):
            row[key] = None
            damaged.append(f"{key} is not a whole number")
    if "status" in row and row["status"] not in statuses:
        damaged.append("status is not a run status")
    row["damaged"] = damaged
    return row


def _json_value(key: str, raw: Any, shape: type, damaged: list[str]) -> Any:
    if raw is None or raw == "":
        return shape()
    try:
        value = json.loads(raw)
    except (TypeError, ValueError, RecursionError):  # not text, not JSON, nested too deep
        damaged.append(f"{key} is not JSON")
        return shape()
    if not isinstance(value, shape):
        damaged.append(f"{key} is not a JSON {'object' if shape is dict else 'list'}")
        return shape()
    return value


def decode_episode(row: dict[str, Any], *, scores: tuple[str, ...]) -> dict[str, Any]:
    """An episode row whose scores are numbers or None (a BLOB or text score reads as missing)
    and whose ``metrics`` is a dict of numbers."""
    for key in scores:
        row[key] = _number(row.get(key))
    try:
        extra = json.loads(row.get("metrics") or "{}")
    except (TypeError, ValueError, RecursionError):
        extra = {}
    row["metrics"] = {k: v for k, v in extra.items() if _number(v) is not None} if isinstance(extra, dict) else {}
    return row


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
