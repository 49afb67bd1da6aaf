"""Paying an engine's start-up before the user presses Launch.

Most of the time from Launch to the first point is not training: importing torch and
transformers (~3 s), the first model load (transformers imports the model's classes
lazily), and the first forward and backward pass (kernels chosen, autograd set up). A
warm engine (``metalab-engine serve``) does all of this while it waits for its run, then
throws the model away: the run loads its own, from a warm file cache, in a fraction of a
second, and nothing of the warm-up can leak into the run's results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("engine.warmup")


def preloadable(name: str) -> bool:
    """Only models on this machine: a warm-up never downloads what the user has not launched."""
    return bool(name) and (name.startswith("bundled:") or Path(name).expanduser().is_dir())


def warm_up(model: str | None, *, max_length: int = 64, wanted_now: Callable[[], bool] = lambda: False) -> None:
    """Imports the training code, then (unless a run is already waiting) loads ``model`` once
    and runs one forward and backward pass on it. Any failure is only logged: the run that
    follows reports its own errors."""
    import torch  # noqa: F401

    import engine.methods  # noqa: F401
    import engine.training.runner  # noqa: F401
    from engine.catalog import all_specs

    for spec in all_specs():  # the method modules: a run needs one of them
        engine.methods.load(spec.name)
    if not model or not preloadable(model) or wanted_now():
        return
    try:
        from engine.models.encoder import load_encoder

        encoder = load_encoder(model, max_length=max_length)
        encoder.train()
        batch = encoder.collate(encoder.tokenize(["a warm-up sentence", "another one"]))
        encoder(**batch).pow(2).mean().backward()
    except Exception as exc:  # noqa: BLE001 - a warm-up is best effort
        log.warning("warm-up without a model: %s", exc)
