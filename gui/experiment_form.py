"""What the New experiment form shows, apart from its widgets: the task and run keys it
offers, a task type's own words for the task fields (and the fields that do not apply to
it), and a run name that follows the method."""

from __future__ import annotations

import re

TASK_KEYS = [
    "task.type",
    "task.mode",
    "task.n_way",
    "task.k_shot",
    "task.query",
    "task.meta_test_fraction",
    "task.meta_val_fraction",
    "task.split_seed",
    "task.test_episodes",
]
# A task type's own words for the task fields, and the fields that do not apply to it (with why).
TASK_WORDS: dict[str, dict[str, str]] = {
    "language_modeling": {
        "task.k_shot": "Support documents (K)",
        "task.query": "Query documents",
        "task.meta_test_fraction": "Meta-test share of domains",
        "task.meta_val_fraction": "Meta-validation share of domains",
        "task.split_seed": "Domain split seed",
    },
}
TASK_UNAVAILABLE: dict[str, dict[str, str]] = {
    "language_modeling": {"task.n_way": "Does not apply to language modelling: an episode holds documents of one domain."},
}
RUN_KEYS = ["train.episodes", "train.eval_every", "train.seed", "model.max_length", "train.checkpoint_every",
            "train.devices", "model.trust_remote_code"]


def renamed_for_method(name: str, old: str, new: str) -> str:
    """A run name after the method changes: ``protonet-intents`` -> ``maml-intents``;
    a name without the old method's name gets the new one appended (``baseline-maml``)."""
    parts = re.split(r"([-_ .]+)", name)
    if old in parts:
        return "".join(new if part == old else part for part in parts)
    return f"{name}-{new}" if name else new
