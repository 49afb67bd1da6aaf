"""A run database with one sound run and one run another program damaged, one way per kind
(issue 27 case 6): the engine's and the GUI's tests open the same damage."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from engine.store import Store

CONFIG = {"name": "r", "method": {"name": "protonet"}, "model": {"name": "m"}, "dataset": {"path": "d"},
          "task": {"mode": "episodic", "n_way": 5, "k_shot": 1}}
SOUND, DAMAGED = "sound0000001", "damaged00001"

# kind -> (SQL that damages the run, its status before, what `damaged` names)
DAMAGE = {
    "heartbeat not a date": ("UPDATE runs SET heartbeat_at = 'yesterday' WHERE id = ?", "running", "heartbeat_at is not a date"),
    "pid overflows": ("UPDATE runs SET pid = 99999999999999999999 WHERE id = ?", "running", "pid is not a process id"),
    "pid beyond a C int": ("UPDATE runs SET pid = 9223372036854775807 WHERE id = ?", "running", "pid is not a process id"),
    "pid is text": ("UPDATE runs SET pid = 'abc' WHERE id = ?", "running", "pid is not a process id"),
    "config not JSON": ("UPDATE runs SET config = '{not json' WHERE id = ?", "finished", "config is not JSON"),
    "config not JSON while running": ("UPDATE runs SET config = '{not json' WHERE id = ?", "running", "config is not JSON"),
    "final_metrics a list": ("UPDATE runs SET final_metrics = '[1, 2]' WHERE id = ?", "finished", "final_metrics is not a JSON object"),
    "final_metrics a BLOB": ("UPDATE runs SET final_metrics = x'00ff' WHERE id = ?", "finished", "final_metrics is not JSON"),
    "episode score a BLOB": ("UPDATE episodes SET accuracy = x'00ff' WHERE run_id = ? AND episode = 2", "finished",
                             "1 test episode with a score that is not a number"),
}


def damaged_database(path: Path, kind: str) -> Path:
    """The sound run finished with test episodes; the damaged one as DAMAGE[kind] leaves it.
    A running one is owned by this (live) process, so only its damage can mark it."""
    sql, status, _ = DAMAGE[kind]
    with Store(path) as store:
        for run_id in (SOUND, DAMAGED):
            store.create_run({**CONFIG, "name": f"{run_id} run"}, run_id=run_id)
            store.add_episodes(run_id, [{"episode": i, "accuracy": 0.5 + i / 100, "loss": 1.0} for i in range(5)])
            store.add_metrics(run_id, [("train_loss", step, 1.0 / step, 0.0, 0.0) for step in (1, 2, 3)])
            store.finish_run(run_id, "finished", final_metrics={"test_accuracy": 0.5})
        if status == "running":
            store.start_run(DAMAGED, device="cpu", versions={}, pid=os.getpid(), host=socket.gethostname())
        store.conn.execute(sql, (DAMAGED,))
    return path
