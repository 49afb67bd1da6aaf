"""Task types: what is being learned (``task.type``). Torch-free to import.

Each type is one module with one ``Task`` subclass (``engine.tasks._base`` says what a task
owns); ``get`` returns the shared instance for a ``task.type`` value.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.errors import ConfigError
from engine.tasks._base import IGNORE, Batcher, Metric, Task
from engine.tasks._data import TaskData, requested_train_query

# task.type -> "module:Class"; the first is the default.
TASK_TYPES = {
    "classification": "engine.tasks.classification:ClassificationTask",
    "token_classification": "engine.tasks.token_classification:TokenClassificationTask",
    "language_modeling": "engine.tasks.language_modeling:LanguageModelingTask",
}
DEFAULT_TASK_TYPE = "classification"
_INSTANCES: dict[str, Task] = {}


def get(name: str, *, source: str | None = None) -> Task:
    if name not in TASK_TYPES:
        raise ConfigError(f"'task.type' must be one of {', '.join(TASK_TYPES)}, got {name!r}", source=source)
    if name not in _INSTANCES:
        module_name, _, class_name = TASK_TYPES[name].partition(":")
        _INSTANCES[name] = getattr(importlib.import_module(module_name), class_name)()
    return _INSTANCES[name]


def build_task_data(config: Any, *, train_query: int | None = None) -> TaskData:
    """Loads and checks the dataset for ``config.task.type``, then splits it and builds samplers.
    A dataset that does not fit the task is a DatasetError naming the first problem."""
    from engine.data import first_problem
    from engine.errors import DatasetError

    task = get(config.task.type)
    dataset = task.load_dataset(config)
    problem = first_problem(task.check(dataset, config.task, train_query=train_query))
    if problem:
        raise DatasetError(problem, source=dataset.source)
    return task.build_data(config, dataset, train_query=train_query)


__all__ = ["DEFAULT_TASK_TYPE", "IGNORE", "TASK_TYPES", "Batcher", "Metric", "Task", "TaskData", "build_task_data", "get", "requested_train_query"]
