"""Helpers shared by the study tests (a unique module name, so it clashes with no other conftest)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any


def write_study(folder: Path, body: str, *, name: str = "s", space: str | None = None, file: str = "study.toml") -> Path:
    """A study file over ``tiny.toml``; ``body`` adds [study] keys, ``space`` replaces the default space."""
    space = space if space is not None else """
        "method.params.lr" = { low = 1e-4, high = 1e-2, log = true }
        "method.params.temperature" = { low = 1.0, high = 30.0 }
    """
    text = f'[study]\nname = "{name}"\nbase = "tiny.toml"\n{textwrap.dedent(body)}\n[study.space]\n{textwrap.dedent(space)}'
    path = folder / file
    path.write_text(text, encoding="utf-8")
    return path


REPO = Path(__file__).resolve().parents[3]


def engine_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine", *args]


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process, as a user or a cluster job runs it."""
    return subprocess.run(engine_cmd(*args), cwd=REPO, capture_output=True, text=True, timeout=timeout)


def show(name: str, storage: str) -> dict[str, Any]:
    from engine.study import show_study

    return show_study(name, storage)
