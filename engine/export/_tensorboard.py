"""``runs export ID... --format tensorboard -o DIR``: event files TensorBoard opens, one sub-folder per run.

Each metric is a scalar at its steps and wall times (the metric's tag is its MetaLab name);
the run's config keys are HParams with its final metrics (``final/NAME``), so TensorBoard's
HParams table compares MetaLab runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.export._runs import RunRecord, param_text

FINAL_PREFIX = "final/"


def export_tensorboard(records: list[RunRecord], out_dir: Path) -> list[Path]:
    writer_class = _summary_writer()
    folders = []
    for record in records:
        folder = Path(out_dir) / record.id
        for old in folder.glob("events.out.tfevents.*"):  # an earlier export of this run: replaced, not doubled
            old.unlink()
        writer = writer_class(log_dir=str(folder))
        try:
            write_run(writer, record)
        finally:
            writer.close()
        folders.append(folder)
    return folders


def write_run(writer: Any, record: RunRecord) -> None:
    from torch.utils.tensorboard.summary import hparams

    for row in record.metrics:
        if row["value"] is not None:
            writer.add_scalar(row["name"], row["value"], global_step=row["step"], walltime=row["time"])
    final = record.final_metrics()
    last_step = max((row["step"] for row in record.metrics), default=0)
    values = {key: hparam_value(value) for key, value in record.params.items()}
    metric_tags = {FINAL_PREFIX + key: value for key, value in final.items()}
    experiment, start, end = hparams(values, metric_tags)
    for summary in (experiment, start, end):
        writer.file_writer.add_summary(summary)
    for tag, value in metric_tags.items():
        writer.add_scalar(tag, value, global_step=last_step)


def hparam_value(value: Any) -> int | float | str | bool:
    if isinstance(value, (bool, int, float, str)):
        return value
    return param_text(value)


def _summary_writer() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError("TensorBoard export needs the tensorboard package: pip install 'metalab[tensorboard]'") from None
    return SummaryWriter
