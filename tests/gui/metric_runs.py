"""Runs with the metrics real methods log, for the chart tests, screenshots and benchmarks.

MAML (engine/methods/_gradient.py, engine/training/runner.py) logs 20 series: train and
validation metrics, the inner loop before/after adaptation and per inner step, the final
test; protonet logs the train, validation and test ones. Written through the store API.
"""

from __future__ import annotations

import math
from typing import Any

from engine.store import Store

VALIDATION = ("val_loss", "val_accuracy", "val_macro_f1", "val_precision", "val_recall")
INNER = ("inner_query_loss_before", "inner_query_loss_after", "inner_query_accuracy_before", "inner_query_accuracy_after",
         *(f"inner_support_loss_step_{i}" for i in range(6)))
FINAL = ("test_accuracy", "test_macro_f1")
PROTONET_METRICS = ("train_loss", "train_accuracy", "lr", *VALIDATION, *FINAL)
MAML_METRICS = ("train_loss", "train_accuracy", "lr", *VALIDATION, *INNER, *FINAL)


def value(name: str, step: int, steps: int, seed: int = 0) -> float:
    """A plausible value: losses fall, accuracies rise, the lr warms up; a deterministic wiggle."""
    t = step / max(steps, 1)
    wiggle = 0.03 * math.sin(step * 12.9898 + seed)
    if name == "lr":
        return 1e-4 * min(1.0, step / max(steps / 10, 1))
    if name.startswith("inner_support_loss_step_"):
        i = int(name.rsplit("_", 1)[1])
        return (1.6 - 0.15 * i) * math.exp(-2 * t) + 0.2 + wiggle
    if "loss" in name:
        after = 0.7 if name.endswith("_after") else 1.0
        return after * (1.8 * math.exp(-3 * t) + 0.3) + wiggle
    gain = 1.15 if name.endswith("_after") else 1.0
    return min(0.98, gain * (0.25 + 0.55 * (1 - math.exp(-3 * t))) + wiggle)


def metric_rows(names: tuple[str, ...], steps: int, *, eval_every: int = 20, seed: int = 0) -> list[tuple]:
    rows = []
    for name in names:
        if name.startswith("test_"):
            at = [steps]
        elif name.startswith(("val_", "inner_")):
            at = list(range(eval_every, steps + 1, eval_every))
        else:
            at = list(range(1, steps + 1))
        rows += [(name, s, value(name, s, steps, seed), float(s), 1e9 + s) for s in at]
    return rows


def add_method_run(store: Store, name: str, method: str, *, steps: int = 200, seed: int = 0,
                   status: str = "finished") -> str:
    config: dict[str, Any] = {
        "name": name, "tags": [], "notes": "",
        "dataset": {"path": "bundled:intents", "text_column": "text", "label_column": "label"},
        "task": {"mode": "episodic", "n_way": 5, "k_shot": 5, "query": 15, "test_episodes": 4},
        "model": {"name": "bundled:all-MiniLM-L6-v2", "max_length": 64},
        "method": {"name": method, "params": {"lr": 1e-4}},
        "train": {"episodes": steps, "eval_every": 20, "device": "cpu", "seed": seed},
    }
    run_id = store.create_run(config, status="queued")
    store.update_run(run_id, status=status, started_at="2026-11-20T10:00:00.000Z",
                     finished_at="2026-11-20T10:05:00.000Z", device="cpu")
    names = MAML_METRICS if method in ("maml", "fomaml", "meta_sgd", "anil") else PROTONET_METRICS
    if status != "finished":
        names = tuple(n for n in names if not n.startswith("test_"))
    store.add_metrics(run_id, metric_rows(names, steps, seed=seed))
    accuracies = [value("test_accuracy", steps, steps, seed + i) for i in range(4)]
    store.add_episodes(run_id, [{"episode": i, "accuracy": a, "loss": 1.0 - a, "macro_f1": a - 0.01, "n_query": 75,
                                 "key": f"K{i}"} for i, a in enumerate(accuracies)])
    if status == "finished":
        mean = sum(accuracies) / len(accuracies)
        store.finish_run(run_id, status, final_metrics={"test_accuracy": mean, "test_accuracy_ci95": 0.02,
                                                        "test_macro_f1": mean - 0.01, "train_seconds": 300.0})
        store.update_run(run_id, episodes_key="K", finished_at="2026-11-20T10:05:00.000Z")
    return run_id
