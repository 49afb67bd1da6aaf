"""A MetaLab study of many synthetic trials, written straight into a journal (no training):
the study tests and ``benchmarks/study_show_scale.py`` read it as ``study show`` does."""

from __future__ import annotations

import random
from pathlib import Path

# Four parameters, one of which (lr) decides the value: importances have something to find.
SPACE = {
    "method.params.lr": {"low": 1e-5, "high": 1e-1, "log": True, "type": "float"},
    "method.params.temperature": {"low": 1.0, "high": 100.0, "log": True, "type": "float"},
    "method.params.weight_decay": {"low": 0.0, "high": 0.3, "log": False, "type": "float"},
    "method.params.warmup_fraction": {"low": 0.0, "high": 0.5, "log": False, "type": "float"},
}


def fill_study(journal: Path, n_trials: int, *, name: str = "big", seed: int = 0) -> str:
    """``n_trials`` complete trials (every tenth pruned) in ``journal``; returns the storage URL."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.storages.journal import JournalFileBackend, JournalStorage
    from optuna.trial import TrialState, create_trial

    from engine.config import RunConfig

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = RunConfig().with_values({"dataset.path": "data.csv", "name": name}).to_dict()
    attr = {"version": 1, "base": base, "space": SPACE, "sampler": "random", "pruner": "median", "n_trials": n_trials,
            "metric": "val_accuracy", "direction": "maximize", "seed": 0, "sampler_options": {}, "pruner_options": {}}
    storage = JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    study.set_user_attr("metalab", attr)
    dists = {key: FloatDistribution(d["low"], d["high"], log=d["log"]) for key, d in SPACE.items()}
    draw = random.Random(seed)
    trials = []
    for number in range(n_trials):
        params = {key: _draw(draw, d) for key, d in SPACE.items()}
        pruned = number % 10 == 9
        value = 0.9 - abs(params["method.params.lr"] - 1e-3) * 5 + draw.gauss(0, 0.01)
        trials.append(create_trial(params=params, distributions=dists, value=None if pruned else value,
                                   intermediate_values={1: value} if pruned else None,
                                   state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
                                   user_attrs={"run_id": f"{number:012x}"}))
    study.add_trials(trials)
    return f"journal:{journal}"


def _draw(draw: random.Random, dist: dict) -> float:
    if dist["log"]:
        import math

        return math.exp(draw.uniform(math.log(dist["low"]), math.log(dist["high"])))
    return draw.uniform(dist["low"], dist["high"])
