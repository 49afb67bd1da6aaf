"""Plain-dict views of studies for ``study list`` and ``study show`` (a stable JSON contract)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from engine.study._trials import FAIL_REASON_ATTR, RETRY_OF_ATTR, SPEC_ATTR

if TYPE_CHECKING:
    import optuna


# fANOVA's cost grows with the trials it fits (10,000 trials: 938 MB, 20 min); importances are
# computed on request, on at most this many complete trials drawn at random (seed 0).
IMPORTANCE_SAMPLE = 1000
IMPORTANCE_SEED = 0


def _number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def study_row(summary: Any, storage_label: str, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """One ``optuna.study.StudySummary`` as a ``study list`` row; ``counts``: trials per state."""
    attr = summary.user_attrs.get(SPEC_ATTR, {})
    best = summary.best_trial
    return {
        "name": summary.study_name,
        "storage": storage_label,
        "direction": summary.direction.name.lower(),
        "metric": attr.get("metric"),
        "sampler": attr.get("sampler"),
        "pruner": attr.get("pruner"),
        "budget": attr.get("n_trials"),
        "n_trials": summary.n_trials,
        "counts": counts or {},
        "best_value": _number(best.value) if best is not None else None,
        "best_run_id": best.user_attrs.get("run_id") if best is not None else None,
        "started_at": summary.datetime_start.isoformat() if summary.datetime_start else None,
    }


def trial_row(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    duration = None
    if trial.datetime_start and trial.datetime_complete:
        duration = (trial.datetime_complete - trial.datetime_start).total_seconds()
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "value": _number(trial.value) if trial.value is not None else None,
        "params": trial.params,
        "run_id": trial.user_attrs.get("run_id"),
        "retry_of": trial.user_attrs.get(RETRY_OF_ATTR),
        "fail_reason": trial.system_attrs.get(FAIL_REASON_ATTR),
        "error": trial.user_attrs.get("error"),
        "last_step": trial.last_step,
        "started_at": trial.datetime_start.isoformat() if trial.datetime_start else None,
        "finished_at": trial.datetime_complete.isoformat() if trial.datetime_complete else None,
        "duration_seconds": duration,
    }


def study_details(study: optuna.Study, storage_label: str, *, importances: bool = False) -> dict[str, Any]:
    """Everything ``study show`` says; parameter importances only when asked (``importances``)."""
    from optuna.trial import TrialState

    attr = study.user_attrs.get(SPEC_ATTR, {})
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = study.best_trial if complete else None
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    if importances:
        found, evaluator, note, sample = param_importances(study, complete)
    else:
        found, evaluator, note, sample = {}, None, None, None
    population = None
    if attr.get("sampler") == "pbt":  # the best is the best member at the end, not the best generation
        from engine.study._pbt_report import population_report

        population = population_report(study)
        if population["best_schedule"]:
            best = next(t for t in complete if t.number == population["members"][str(population["best_member"])][-1]["trial"])
        else:
            best = None
    details = {
        "name": study.study_name,
        "storage": storage_label,
        "direction": study.direction.name.lower(),
        "metric": attr.get("metric"),
        "sampler": attr.get("sampler"),
        "pruner": attr.get("pruner"),
        "budget": attr.get("n_trials"),
        "seed": attr.get("seed"),
        "space": attr.get("space"),
        "base_config": attr.get("base"),
        "counts": counts,
        "best_value": _number(best.value) if best is not None else None,
        "best_params": best.params if best is not None else {},
        "best_trial": best.number if best is not None else None,
        "best_run_id": best.user_attrs.get("run_id") if best is not None else None,
        "importances": found,
        "importances_computed": importances,
        "importance_evaluator": evaluator,
        "importance_note": note,
        "importance_sample": sample,
        "trials": [trial_row(t) for t in trials],
    }
    if population is not None:
        details["population"] = population
    return details


def param_importances(
    study: optuna.Study, complete: list[optuna.trial.FrozenTrial], *, sample: int = IMPORTANCE_SAMPLE
) -> tuple[dict[str, float], str | None, str | None, dict[str, int] | None]:
    """Optuna's fANOVA importances (PED-ANOVA when scikit-learn is missing), on at most ``sample``
    complete trials; empty with a note when too few. The last item: ``{"used", "of"}`` trials."""
    import importlib.util

    import optuna.importance as imp

    if len(complete) < 2:
        return {}, None, "needs at least 2 complete trials", None
    if importlib.util.find_spec("sklearn") is not None:
        evaluator: Any = imp.FanovaImportanceEvaluator(seed=0)
    else:
        evaluator = imp.PedAnovaImportanceEvaluator()
    used = _sampled_study(study, complete, sample) if len(complete) > sample else study
    try:
        values = imp.get_param_importances(used, evaluator=evaluator)
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:
        note = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {}, type(evaluator).__name__, note, None
    counted = {"used": min(len(complete), sample), "of": len(complete)}
    return {k: float(v) for k, v in values.items()}, type(evaluator).__name__, None, counted


def _sampled_study(study: optuna.Study, complete: list[optuna.trial.FrozenTrial], sample: int) -> optuna.Study:
    """An in-memory study holding ``sample`` of the complete trials, drawn at random (seeded)."""
    import random

    import optuna

    chosen = random.Random(IMPORTANCE_SEED).sample(complete, sample)
    copy = optuna.create_study(directions=study.directions)
    copy.add_trials(sorted(chosen, key=lambda t: t.number))
    return copy
