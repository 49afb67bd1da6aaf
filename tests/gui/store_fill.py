"""Databases for the GUI tests, filled through the engine's store API (no engine run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.store import Store


def base_config(name: str, *, method: str = "protonet", dataset: str = "bundled:intents", lr: float = 1e-4,
                k_shot: int = 5, tags: list[str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "tags": tags or [],
        "notes": "",
        "dataset": {"path": dataset, "text_column": "text", "label_column": "label"},
        "task": {"mode": "episodic", "n_way": 5, "k_shot": k_shot, "query": 15, "test_episodes": 4},
        "model": {"name": "bundled:all-MiniLM-L6-v2", "max_length": 64},
        "method": {"name": method, "params": {"lr": lr}},
        "train": {"episodes": 100, "eval_every": 50, "device": "cpu", "seed": 0},
    }


def add_run(store: Store, config: dict[str, Any], *, accuracies: list[float] | None = None, episodes_key: str = "K",
            status: str = "finished", steps: int = 20, study: str | None = None, trial_number: int | None = None,
            started: str = "2026-11-20T10:00:00.000Z", finished: str = "2026-11-20T10:05:00.000Z") -> str:
    run_id = store.create_run(config, status="queued", study=study, trial_number=trial_number)
    store.update_run(run_id, status=status, started_at=started, finished_at=finished, device="cpu")
    store.add_metrics(run_id, [("train_loss", s, 2.0 / (s + 1), float(s), 1e9 + s) for s in range(steps)])
    store.add_metrics(run_id, [("val_accuracy", s, 0.5 + s / (4 * steps), float(s), 1e9 + s) for s in range(0, steps, 5)])
    if accuracies:
        store.add_episodes(run_id, [
            {"episode": i, "accuracy": a, "loss": 1.0 - a, "macro_f1": a - 0.01, "n_query": 75, "key": f"{episodes_key}{i}"}
            for i, a in enumerate(accuracies)
        ])
        mean = sum(accuracies) / len(accuracies)
        store.finish_run(run_id, status, final_metrics={"test_accuracy": mean, "test_accuracy_ci95": 0.01,
                                                        "test_macro_f1": mean - 0.01, "train_seconds": 300.0})
        store.update_run(run_id, episodes_key=episodes_key, finished_at=finished)
    return run_id


def fill(path: Path) -> dict[str, str]:
    """Four runs: two paired protonets, a finetune on other episodes, a failed one."""
    with Store(path) as store:
        ids = {
            "a": add_run(store, base_config("proto-a", tags=["baseline"]), accuracies=[0.60, 0.70, 0.65, 0.75]),
            "b": add_run(store, base_config("proto-b", lr=3e-4, tags=["sweep"]), accuracies=[0.70, 0.72, 0.75, 0.85]),
            "c": add_run(store, base_config("tune-c", method="finetune", dataset="data/other.csv"),
                         accuracies=[0.50, 0.55, 0.52, 0.58], episodes_key="OTHER"),
            "d": add_run(store, base_config("broken-d", k_shot=1), status="failed"),
        }
    return ids


def fill_methods(path: Path) -> dict[str, str]:
    """Runs of several methods with their own parameters: a finished MAML and ANIL, a
    protonet, and a Reptile run still going (30 of its 100 steps logged)."""
    with Store(path) as store:
        maml = base_config("maml-a", method="maml")
        maml["method"]["params"].update({"inner_lr": 0.02, "scope": "lora"})
        anil = base_config("anil-b", method="anil")
        anil["method"]["params"].update({"inner_steps": 5})
        reptile = base_config("reptile-c", method="reptile")
        reptile["method"]["params"].update({"inner_lr": 0.005})
        ids = {
            "maml": add_run(store, maml, accuracies=[0.62, 0.66, 0.70, 0.64]),
            "anil": add_run(store, anil, accuracies=[0.58, 0.60, 0.61, 0.57]),
            "proto": add_run(store, base_config("proto-d"), accuracies=[0.60, 0.70, 0.65, 0.75]),
            "reptile": add_run(store, reptile, status="running", steps=30, finished=None),
        }
        store.update_run(ids["maml"], final_metrics={**store.get_run(ids["maml"])["final_metrics"], "test_loss": 0.9})
    return ids
