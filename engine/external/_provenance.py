"""Which source an imported run came from (its ``config.imported_from``), to notice a second import.

A TensorBoard run is known by its event folder's absolute path, an MLflow run by its run id
(a UUID, the same whichever URI reaches the server).
"""

from __future__ import annotations

from typing import Any

from engine.store import Store

# What identifies a source of each kind, inside ``imported_from``.
IDENTITY_FIELD = {"tensorboard": "path", "mlflow": "run_id"}
AGAIN_FLAG = "--again"  # the CLI flag that imports a source a second time (the GUI offers it too)


def identity(source: dict[str, Any]) -> tuple[str, str] | None:
    field = IDENTITY_FIELD.get(source.get("kind", ""))
    value = source.get(field) if field else None
    return (source["kind"], str(value)) if value is not None else None


def earlier_imports(store: Store, source: dict[str, Any]) -> list[dict[str, str]]:
    """Runs in the store imported from this source, oldest first (ids and names)."""
    found = identity(source)
    if found is None:
        return []
    kind, value = found
    # A config that is not JSON (edited by another program) is skipped, not an error.
    rows = store.conn.execute(
        "SELECT id, name FROM runs WHERE status = 'imported'"
        " AND CASE WHEN json_valid(config) THEN json_extract(config, '$.imported_from.kind') END = ?"
        " AND CASE WHEN json_valid(config) THEN CAST(json_extract(config, ?) AS TEXT) END = ?"
        " ORDER BY created_at, rowid",
        (kind, f"$.imported_from.{IDENTITY_FIELD[kind]}", value),
    ).fetchall()
    return [{"id": run_id, "name": name} for run_id, name in rows]
