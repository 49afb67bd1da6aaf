"""TensorBoard event folders as external runs: every folder holding event files is one run.

Scalars become curves (tag = metric name, with step and wall time); the HParams plugin's
session values become params; ``final/NAME`` scalars (MetaLab's own exports) become final
metrics, as do the metrics named in the HParams experiment.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import UserError
from engine.external._common import ExternalRun, split_final

EVENTS_GLOB = "events.out.tfevents.*"


def find_event_folders(path: Path) -> list[Path]:
    path = Path(path)
    if not path.exists():
        raise UserError("not found", source=str(path))
    folders = sorted({p.parent for p in path.rglob(EVENTS_GLOB)} | ({path} if any(path.glob(EVENTS_GLOB)) else set()))
    if not folders:
        raise UserError("no TensorBoard event files (events.out.tfevents.*) in this folder", source=str(path))
    return folders


def read_folder(folder: Path, *, root: Path) -> ExternalRun:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise UserError("importing TensorBoard runs needs the tensorboard package: pip install 'metalab[tensorboard]'") from None
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    try:
        events.Reload()
    except Exception as exc:  # a truncated or foreign file surfaces as many exception types
        raise UserError(f"cannot read the event files ({exc})", source=str(folder)) from None
    points = [
        (tag, int(s.step), float(s.value), float(s.wall_time))
        for tag in events.Tags().get("scalars", [])
        for s in events.Scalars(tag)
    ]
    curves, final = split_final(points)
    relative = folder.relative_to(root) if folder != root else Path(folder.name)
    return ExternalRun(
        name=str(relative), source={"kind": "tensorboard", "path": str(folder.resolve())},
        params=_hparams(events), points=curves, final_metrics=final,
    )


def _hparams(events: object) -> dict[str, object]:
    from tensorboard.plugins.hparams import plugin_data_pb2

    try:
        raw = events.PluginTagToContent("hparams").get("_hparams_/session_start_info")  # type: ignore[attr-defined]
    except KeyError:  # written without the HParams plugin
        return {}
    if not raw:
        return {}
    start = plugin_data_pb2.HParamsPluginData.FromString(raw).session_start_info
    params: dict[str, object] = {}
    for key, value in start.hparams.items():
        kind = value.WhichOneof("kind")
        params[key] = getattr(value, kind) if kind else None
    return params
