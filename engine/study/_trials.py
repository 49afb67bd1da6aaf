"""The trial plumbing a worker and a PBT population share: the storage attributes MetaLab
writes on a trial, telling a trial's end, retries, heartbeats and recovering trials whose
worker is gone."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UserError

if TYPE_CHECKING:
    import optuna

log = logging.getLogger("engine.study")

SPEC_ATTR = "metalab"
HEARTBEAT_ATTR = "metalab:heartbeat"
WORKER_ATTR = "metalab:worker"
FAIL_REASON_ATTR = "metalab:fail_reason"
RETRY_OF_ATTR = "retry_of"
HEARTBEAT_SECONDS = 10.0
STALE_AFTER_SECONDS = 60.0
RESUME_RUN = "pbt_resume_run"  # a population unit's retry resumes this run


@dataclass
class LoopOutcome:
    started: int = 0
    states: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False
    recovered: list[int] = field(default_factory=list)


def tell(study: optuna.Study, trial: optuna.Trial, state: str, value: float | None, error: str | None, params: dict[str, Any]) -> None:
    from optuna.trial import TrialState

    try:
        if state == "complete":
            study.tell(trial, value)
        elif state == "pruned":
            study.tell(trial, state=TrialState.PRUNED)
        else:
            if error:
                trial.set_user_attr("error", error)
            if state == "interrupted":
                study._storage.set_trial_system_attr(trial._trial_id, FAIL_REASON_ATTR, "interrupted")
            study.tell(trial, state=TrialState.FAIL)
            if state == "interrupted":
                _enqueue_retry(study, trial.number, params, _carried(trial))
    except Exception as exc:  # e.g. another worker failed this trial as stale meanwhile
        log.warning("could not record trial %d as %s: %s", trial.number, state, exc)


def _enqueue_retry(study: optuna.Study, number: int, params: dict[str, Any], carried: dict[str, Any] | None = None) -> None:
    study.enqueue_trial(params, user_attrs={RETRY_OF_ATTR: number, **(carried or {})})


def _carried(trial: Any) -> dict[str, Any]:
    """What a retry keeps of its trial beyond the parameters: a population unit's plan."""
    return retry_attrs(trial)


def retry_attrs(trial: Any) -> dict[str, Any]:
    """What a stale unit's retry carries (used by the stale-trial recovery)."""
    attrs = {k: v for k, v in trial.user_attrs.items() if k.startswith("pbt_")}
    if attrs and trial.user_attrs.get("run_id"):
        attrs[RESUME_RUN] = trial.user_attrs["run_id"]
    return attrs


def recover_stale_trials(
    study: optuna.Study, *, stale_after: float = STALE_AFTER_SECONDS, db_path: Path | None = None
) -> list[int]:
    """Fails RUNNING trials whose worker is gone and enqueues each for a retry.

    The trial's run, when it is in this run database, is marked ``interrupted``.
    """
    from optuna.trial import TrialState

    recovered = []
    now = time.time()
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = t.system_attrs.get(WORKER_ATTR) or {}
        beat = t.system_attrs.get(HEARTBEAT_ATTR)
        if beat is None and t.datetime_start is not None:
            beat = t.datetime_start.timestamp()
        gone_here = worker.get("host") == host and worker.get("pid") != os.getpid() and _process_gone(int(worker.get("pid", 0)))
        if not (gone_here or (beat is not None and now - beat > stale_after)):
            continue
        try:
            study._storage.set_trial_system_attr(t._trial_id, FAIL_REASON_ATTR, "stale")
            if not study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL):
                continue
        except Exception:  # another worker recovered it first
            continue
        _enqueue_retry(study, t.number, dict(t.params), _carried(t))
        recovered.append(t.number)
        if db_path is not None and t.user_attrs.get("run_id"):
            _interrupt_run(db_path, t.user_attrs["run_id"], t.number)
        log.warning("trial %d was left running by a worker that is gone: failed, and queued again", t.number)
    return recovered


def _process_gone(pid: int) -> bool:
    """A worker killed by its own ``study run`` parent stays a zombie until the parent reaps it:
    dead, though ``psutil.pid_exists`` still sees it. Without this its trial waited 60 s."""
    import psutil

    if pid <= 0:
        return False
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:  # alive, owned by another user
        return False


def _interrupt_run(db_path: Path, run_id: str, number: int) -> None:
    from engine.store import Store

    with Store(db_path) as store:
        try:
            status = store.get_run(run_id)["status"]
        except UserError:  # the run lives in another machine's database
            return
        if status in ("queued", "running"):
            store.finish_run(run_id, "interrupted", error=f"its study worker is gone; trial {number} is retried")


class Heartbeat:
    """Stamps a running trial in the storage so other workers can tell it is alive."""

    def __init__(self, storage: Any, trial_id: int, interval: float = HEARTBEAT_SECONDS):
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="study-heartbeat", daemon=True)

    def start(self) -> None:
        self._beat()
        self.thread.start()

    def _beat(self) -> None:
        try:
            self.storage.set_trial_system_attr(self.trial_id, HEARTBEAT_ATTR, time.time())
        except Exception as exc:  # the storage is unreachable for a moment: try again next time
            log.warning("heartbeat failed: %s", exc)

    def _loop(self) -> None:
        while not self.done.wait(self.interval):
            self._beat()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=5)
