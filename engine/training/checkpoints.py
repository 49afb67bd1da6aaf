"""Checkpoints and saved weights, written atomically into the data folder.

Weights go to ``model.safetensors`` (never pickle); the optimizer and counters go to
``state.pt``, read back only with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

# Checkpoints kept per run (the newest ones); final weights are kept apart.
KEEP_CHECKPOINTS = 3


def _flatten(state: dict[str, Any], prefix: str = "", seen: set[int] | None = None) -> dict[str, torch.Tensor]:
    """Flat names for safetensors. A tensor met twice (a decoder's output layer tied to its
    input embeddings) is stored twice: safetensors refuses shared memory, and loading
    writes the same values into the one tied weight."""
    seen = set() if seen is None else seen
    flat: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}/", seen))
        elif isinstance(value, torch.Tensor):
            tensor = value.detach().contiguous().cpu()
            if tensor.data_ptr() in seen:
                tensor = tensor.clone()
            seen.add(tensor.data_ptr())
            flat[name] = tensor
    return flat


def _unflatten(flat: dict[str, torch.Tensor]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, tensor in flat.items():
        node = out
        *parents, leaf = name.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = tensor
    return out


def save_checkpoint(folder: Path, weights: dict[str, Any], *, step: int, config: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """Writes into a temporary folder, then renames it into place: a reader sees all or nothing."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        save_file(_flatten(weights), str(tmp / "model.safetensors"), metadata={"step": str(step)})
        (tmp / "run_config.json").write_text(json.dumps({"step": step, "config": config}, indent=2))
        if extra is not None:
            torch.save(extra, tmp / "state.pt")
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load_checkpoint(folder: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """(weights, run_config, extra state or None)."""
    folder = Path(folder)
    weights = _unflatten(load_file(str(folder / "model.safetensors")))
    meta = json.loads((folder / "run_config.json").read_text())
    extra = torch.load(folder / "state.pt", weights_only=True) if (folder / "state.pt").exists() else None
    return weights, meta, extra


def is_complete(folder: Path) -> bool:
    """A checkpoint folder appears only by rename, whole; a leftover temp folder never counts."""
    folder = Path(folder)
    return not folder.name.startswith(".") and (folder / "model.safetensors").is_file() and (folder / "run_config.json").is_file()


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) of the complete checkpoints of a run, oldest first."""
    found = []
    for folder in Path(run_dir).glob("checkpoint-*"):
        if is_complete(folder):
            try:
                found.append((int(folder.name.split("-", 1)[1]), folder))
            except ValueError:
                continue
    return sorted(found)


def prune_checkpoints(run_dir: Path, *, keep: int) -> list[Path]:
    """Removes all but the newest ``keep`` checkpoints; returns the removed folders."""
    removed = [folder for _, folder in list_checkpoints(run_dir)[:-keep]]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed
