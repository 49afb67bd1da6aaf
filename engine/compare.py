"""Comparing runs: final metrics with 95% CIs, and each run against a reference, paired on
identical meta-test episodes when it can be. Torch-free: the GUI's Compare page uses it."""

from __future__ import annotations

import math
from typing import Any

from engine import tasks
from engine.stats import mean_ci, paired_difference, unpaired_difference
from engine.store import Store


def run_task(run: dict[str, Any]) -> tasks.Task:
    """The task type a run learned (runs from before ``task.type`` existed: classification)."""
    return tasks.get(((run.get("config") or {}).get("task") or {}).get("type", tasks.DEFAULT_TASK_TYPE))


def headline(run: dict[str, Any]) -> tuple[str, bool]:
    """(per-episode metric name, higher is better) that Compare and pairing use for a run."""
    metric = run_task(run).headline_metric
    return metric.name, metric.higher_is_better


def run_summary(store: Store, run: dict[str, Any]) -> dict[str, Any]:
    """Final metrics of one run; per-episode means get a 95% CI from the stored episodes."""
    episodes = store.episodes(run["id"], "test")
    metrics: dict[str, Any] = {}
    for name in (m.name for m in run_task(run).metrics):
        values = [e[name] for e in episodes if e.get(name) is not None]
        if values:
            mean, half = mean_ci(values)
            metrics[f"test_{name}"] = {"mean": mean, "ci95": half, "n": len(values)}
    for key, value in run["final_metrics"].items():
        if key.endswith("_ci95") or key in metrics or not isinstance(value, (int, float)):
            continue
        metrics[key] = {"mean": value, "ci95": run["final_metrics"].get(f"{key}_ci95"), "n": None}
    damaged = list(run.get("damaged", []))
    unscored = store.damaged_episodes(run["id"], "test")
    if unscored:
        damaged.append(f"{unscored} test episode{'s' if unscored != 1 else ''} with a score that is not a number, left out")
    return {"id": run["id"], "name": run["name"], "method": run["method"], "status": run["status"], "metrics": metrics,
            "damaged": damaged}


def compare_runs(store: Store, ref_id: str, other_ids: list[str]) -> dict[str, Any]:
    """Each run against the reference on its task's headline metric (test accuracy, entity F1):
    paired when the episodes are the same."""
    ref = store.get_run(ref_id)
    others = [store.get_run(i) for i in other_ids]
    name, higher_is_better = headline(ref)
    ref_eps = _scored(store.episodes(ref["id"], "test"), name)
    comparisons = []
    for run in others:
        eps = _scored(store.episodes(run["id"], "test"), name)
        result: dict[str, Any] = {"id": run["id"], "name": run["name"]}
        if not ref_eps or not eps:
            result.update(paired=False, reason="no per-episode results", n=0, mean_diff=math.nan, ci95=math.nan, p_value=math.nan)
        elif _same_episodes(ref, run, ref_eps, eps):
            result.update(paired_difference([e[name] for e in ref_eps], [e[name] for e in eps]))
        else:
            result.update(unpaired_difference([e[name] for e in ref_eps], [e[name] for e in eps]))
            result["reason"] = "the runs were scored on different episodes"
        comparisons.append(result)
    return {
        "reference": ref["id"],
        "metric": f"test_{name}",
        "higher_is_better": higher_is_better,  # perplexity: lower is better (a negative mean_diff wins)
        "runs": [run_summary(store, r) for r in [ref, *others]],
        "comparisons": comparisons,
    }


def _scored(episodes: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """Episodes with a score: one whose score another program overwrote (a BLOB) is left out."""
    return [e for e in episodes if e.get(name) is not None]


def _same_episodes(ref: dict, run: dict, ref_eps: list[dict], eps: list[dict]) -> bool:
    # episodes_key hashes the dataset's content and every episode's rows.
    return bool(ref.get("episodes_key")) and ref["episodes_key"] == run.get("episodes_key") and len(ref_eps) == len(eps)


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys, as in TOML and ``--set``: ``{"task": {"n_way": 5}}`` -> ``{"task.n_way": 5}``."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten_config(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def config_diff(configs: list[dict[str, Any]], *, ignore: tuple[str, ...] = ("name", "notes", "tags")) -> list[tuple[str, list[Any]]]:
    """The dotted keys whose values differ between configs (a missing key counts as None), sorted."""
    flats = [flatten_config(c) for c in configs]
    keys = sorted(set().union(*flats)) if flats else []
    diff = []
    for key in keys:
        if key in ignore:
            continue
        values = [f.get(key) for f in flats]
        if any(v != values[0] for v in values[1:]):
            diff.append((key, values))
    return diff
