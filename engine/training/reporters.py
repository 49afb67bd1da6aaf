"""Live logging to other tools as a run goes (``train.report_to``), as the Hugging Face Trainer does.

A reporter listens to the run's events (docs/EVENTS.md): each ``metric`` is logged at its
step and time, and ``run_finished`` logs the final metrics and closes it. A reporter that
fails says so once as a log warning and stops; the run never does.

- ``tensorboard``: event files in ``artifacts/<run_id>/tensorboard`` (the same layout as
  ``runs export --format tensorboard``): ``tensorboard --logdir <data folder>/artifacts``;
- ``mlflow``: a run in experiment ``metalab`` at ``$MLFLOW_TRACKING_URI``, else at
  ``sqlite:///<data folder>/mlflow.db``.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from engine.compare import flatten_config
from engine.paths import artifacts_dir

log = logging.getLogger("engine.reporters")

FINAL_PREFIX = "final/"
MLFLOW_FLUSH_SECONDS = 2.0


class Reporter:
    """Base: ``on_metric`` and ``on_finish``; ``__call__`` is the event listener, failures contained."""

    name = ""

    def __init__(self) -> None:
        self.broken = False

    def __call__(self, event: dict[str, Any]) -> None:
        if self.broken or event["type"] not in ("metric", "run_finished"):
            return
        try:
            if event["type"] == "metric":
                if event["value"] is not None:
                    self.on_metric(event["name"], event["step"], event["value"], event["time"])
            else:
                self.on_finish(event["status"], event["final_metrics"])
        except Exception as exc:  # a tool that is down or full must not stop days of training
            self.broken = True
            log.warning("report_to %s failed and is off for this run: %s: %s", self.name, type(exc).__name__, exc)

    def on_metric(self, name: str, step: int, value: float, stamp: float) -> None:
        raise NotImplementedError

    def on_finish(self, status: str, final: dict[str, Any]) -> None:
        raise NotImplementedError


class TensorBoardReporter(Reporter):
    name = "tensorboard"

    def __init__(self, folder: Path, params: dict[str, Any]):
        super().__init__()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder))
        self.params = params
        self.last_step = 0

    def on_metric(self, name: str, step: int, value: float, stamp: float) -> None:
        self.writer.add_scalar(name, value, global_step=step, walltime=stamp)
        self.last_step = max(self.last_step, step)

    def on_finish(self, status: str, final: dict[str, Any]) -> None:
        from torch.utils.tensorboard.summary import hparams

        from engine.export._tensorboard import hparam_value

        metrics = {FINAL_PREFIX + k: float(v) for k, v in final.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        for summary in hparams({k: hparam_value(v) for k, v in self.params.items()}, metrics):
            self.writer.file_writer.add_summary(summary)
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, global_step=self.last_step)
        self.writer.close()


class MLflowReporter(Reporter):
    name = "mlflow"

    def __init__(self, uri: str, run_name: str, run_id: str, params: dict[str, Any]):
        super().__init__()
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        from engine.export._runs import param_text

        from engine.export._mlflow import EXPERIMENT, experiment_for

        self.client = MlflowClient(tracking_uri=uri)
        experiment_id = experiment_for(self.client, uri, EXPERIMENT)
        tags = {"metalab.run_id": run_id, "mlflow.source.name": "metalab"}
        self.mlflow_id = self.client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id
        items = [Param(k, param_text(v)[:6000]) for k, v in sorted(params.items())]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.mlflow_id, params=items[i : i + 100])
        self.pending: list[Any] = []
        self.last_flush = time.time()
        self.last_step = 0

    def on_metric(self, name: str, step: int, value: float, stamp: float) -> None:
        from mlflow.entities import Metric

        self.pending.append(Metric(name, float(value), int(stamp * 1000), int(step)))
        self.last_step = max(self.last_step, step)
        if time.time() - self.last_flush >= MLFLOW_FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        for i in range(0, len(pending), 1000):
            self.client.log_batch(self.mlflow_id, metrics=pending[i : i + 1000])
        self.last_flush = time.time()

    def on_finish(self, status: str, final: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.pending += [
            Metric(FINAL_PREFIX + k, float(v), now, self.last_step)
            for k, v in final.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        self.flush()
        states = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED", "pruned": "KILLED"}
        self.client.set_terminated(self.mlflow_id, status=states.get(status, "FINISHED"))


def open_reporters(config: Any, run_id: str, db_path: Path) -> list[Reporter]:
    """The reporters ``config.train.report_to`` names; one that cannot start is a warning."""
    reporters: list[Reporter] = []
    params = flatten_config(config.to_dict())
    for name in config.train.report_to:
        try:
            if name == "tensorboard":
                reporters.append(TensorBoardReporter(artifacts_dir(db_path) / run_id / "tensorboard", params))
            elif name == "mlflow":
                uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(db_path).expanduser().resolve().parent / 'mlflow.db'}"
                reporters.append(MLflowReporter(uri, config.name, run_id, params))
        except Exception as exc:  # not installed, a server that is down: the run goes on without it
            log.warning("report_to %s could not start: %s: %s", name, type(exc).__name__, exc)
    return reporters
