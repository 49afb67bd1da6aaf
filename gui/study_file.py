"""A study file written from the GUI: the base run config beside it and the search space
(docs/STUDIES.md, "The study file"). Qt-free and Optuna-free: the engine checks and runs it.

The sampler, pruner and metric names repeat ``engine.study``'s (the GUI may not import it:
it pulls in Optuna); a test keeps the two lists equal.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import tomli_w

from engine import tasks
from engine.config import RunConfig
from engine.fileio import atomic_write_text
from engine.catalog import Param, get

SAMPLERS = ("random", "grid", "tpe", "gp", "cmaes", "nsga2", "pbt")
PRUNERS = ("none", "median", "sha", "hyperband")
SAMPLER_TITLES = {"random": "Random", "grid": "Grid", "tpe": "TPE (Bayesian)", "gp": "Gaussian process",
                  "cmaes": "CMA-ES", "nsga2": "NSGA-II (genetic)",
                  "pbt": "Population-based training (4 members)"}
PRUNER_TITLES = {"none": "None", "median": "Median", "sha": "Successive halving", "hyperband": "Hyperband"}


def objective_metrics(base: RunConfig) -> list[tuple[str, str]]:
    """(validation metric, direction) a study on ``base`` can optimise: what its task type
    logs, the headline first (val_accuracy; val_f1 for NER, not its token accuracy;
    val_perplexity, minimised, for a language model)."""
    task = tasks.get(base.task.type)
    ordered = [task.headline_metric, *(m for m in task.metrics if m.name != task.headline)]
    return [(f"val_{m.name}", "maximize" if m.higher_is_better else "minimize") for m in ordered]


def searchable_params(base: RunConfig) -> list[Param]:
    """The method's parameters a study can vary (all but free text). One that does not apply
    with the base's values (``lora_rank`` while ``scope = head``) stays listed: the search
    may vary ``scope`` too."""
    return [p for p in get(base.method.name).params if p.type != "str"]


def applies_to_base(param: Param, base: RunConfig) -> bool:
    spec = get(base.method.name)
    return param.applies({**spec.defaults(), **base.method.params})


def default_dimension(param: Param) -> dict[str, Any]:
    """The schema's range (or choices) as the dimension a person starts editing from."""
    if param.type == "bool":
        return {"choices": [False, True]}
    if param.type == "choice":
        return {"choices": list(param.choices)}
    low = param.low if param.low is not None else (param.default / 10 if param.default else 0)
    high = param.high if param.high is not None else (param.default * 10 if param.default else 1)
    if param.type == "int":
        return {"low": int(low), "high": int(high)}
    out: dict[str, Any] = {"low": float(low), "high": float(high)}
    if param.log and low > 0:
        out["log"] = True
    return out


def parse_choices(text: str, param: Param) -> list[Any]:
    """``"cosine, euclidean"`` -> the values in the parameter's type."""
    values: list[Any] = []
    for word in (w.strip() for w in text.split(",")):
        if not word:
            continue
        if param.type == "bool":
            values.append(word.lower() in ("true", "1", "yes"))
        elif param.type == "int":
            values.append(int(word))
        elif param.type == "float":
            values.append(float(word))
        else:
            values.append(word)
    return values


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "study"


def study_document(name: str, *, sampler: str, pruner: str, n_trials: int, metric: str, direction: str,
                   space: dict[str, dict[str, Any]], base_file: str = "base.toml") -> dict[str, Any]:
    for key, dim in space.items():
        for bound in ("low", "high"):
            if isinstance(dim.get(bound), float) and not math.isfinite(dim[bound]):
                raise ValueError(f"{key}: {bound} must be a finite number")
    return {"study": {"name": name, "base": base_file, "sampler": sampler, "pruner": pruner, "n_trials": n_trials,
                      "metric": metric, "direction": direction, "space": space}}


def write_study(folder: Path, base: RunConfig, document: dict[str, Any]) -> Path:
    """``folder/base.toml`` and ``folder/study.toml``; returns the study file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    base.save(folder / document["study"]["base"])
    path = folder / "study.toml"
    atomic_write_text(path, tomli_w.dumps(document))
    return path


def study_folder(db_path: Path, name: str) -> Path:
    """Where the GUI keeps the files of a study it made: beside the run database."""
    return Path(db_path).expanduser().resolve().parent / "studies" / safe_name(name)
