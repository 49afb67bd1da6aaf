"""Why a method cannot work with the chosen task, mode and model, from the method's own
schema (``metalab-engine methods --json``: ``tasks``, ``modes``, and ``model_kinds`` where
a method names the kinds of model it serves). New experiment greys such a method out and
says why in its tooltip; nothing here knows a method by name. Qt-free.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine import tasks

KIND_WORDS = {"encoder": "an encoder", "decoder": "a decoder (a causal LM)"}


def task_title(name: str) -> str:
    try:
        return tasks.get(name).title
    except Exception:  # a task type this GUI does not know yet
        return name


def _names(values: Iterable[str]) -> str:
    return ", ".join(task_title(v) for v in values)


def model_kinds(method: dict[str, Any]) -> list[str]:
    """The model kinds a method serves; every kind when its schema does not say."""
    kinds = method.get("model_kinds")
    return list(kinds) if isinstance(kinds, (list, tuple)) and kinds else ["encoder", "decoder"]


def answers_with_prompts(method: dict[str, Any]) -> bool:
    """A decoder-only method scores labels after a prompt (in-context learning): its answers
    carry the prompt, and word attributions (``predict --explain``) are not for it."""
    return "encoder" not in model_kinds(method)


def why_not(method: dict[str, Any], *, task_type: str, mode: str, model_kind: str | None) -> str:
    """'' when the method can run this way, else one line saying what stands in the way.
    ``model_kind``: the chosen model's kind (``model-info``), None while unknown."""
    if task_type not in method.get("tasks", []):
        return f"{method['name']} serves {_names(method.get('tasks', []))}, not {task_title(task_type)}"
    if mode not in method.get("modes", []):
        return f"{method['name']} has no {mode} mode"
    kinds = model_kinds(method)
    if model_kind and model_kind not in kinds:
        needed = " or ".join(KIND_WORDS.get(k, k) for k in kinds)
        return f"{method['name']} needs {needed}; the base model is {KIND_WORDS.get(model_kind, model_kind)}"
    return ""


def model_problem(task_type: str, model_name: str, model_kind: str | None) -> str:
    """'' when the task type can use the model, else why not (a language model needs a decoder)."""
    try:
        needed = tasks.get(task_type).model_kind
    except Exception:
        return ""
    if not model_kind or model_kind == needed or needed == "encoder":  # a decoder also serves as an encoder
        return ""
    return f"{task_title(task_type)} needs {KIND_WORDS.get(needed, needed)}; {model_name} is {KIND_WORDS.get(model_kind, model_kind)}"
