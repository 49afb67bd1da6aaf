"""Task types: what is being learned (``task.type``). Torch-free to import.

Each type is one module with one ``Task`` subclass (``engine.tasks._base`` says what a task
owns); ``get`` returns the shared instance for a ``task.type`` value.
"""

from __future__ import annotations

import importlib

from engine.errors import ConfigError
from engine.tasks._base import IGNORE, Batcher, Metric, Task
from engine.tasks._data import TaskData, build_task_data, requested_train_query

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


__all__ = ["DEFAULT_TASK_TYPE", "IGNORE", "TASK_TYPES", "Batcher", "Metric", "Task", "TaskData", "build_task_data", "get", "requested_train_query"]
