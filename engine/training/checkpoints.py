"""Checkpoints and saved weights, written atomically into the data folder.

Weights go to ``model.safetensors`` (never pickle); the optimizer and counters go to
``state.pt``, read back only with ``torch.load(..., weights_only=True)``. A
``manifest.json`` written last records each file's size and SHA-256, so a file cut short
or changed later is caught before it is loaded (``verify``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from engine.errors import UserError
from engine.fileio import usual_permissions

MANIFEST = "manifest.json"


class DamagedCheckpoint(UserError):
    """A checkpoint whose files are missing, cut short or unreadable."""


class PrunedCheckpoint(DamagedCheckpoint):
    """A checkpoint removed while it was read, by the pruning after a newer one was written:
    gone or going, not damaged. A ``DamagedCheckpoint`` still, so resume moves on to another."""

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
        usual_permissions(tmp)  # not mkdtemp's 0700: the weights are for the user's other tools too
        save_file(_flatten(weights), str(tmp / "model.safetensors"), metadata={"step": str(step)})
        (tmp / "run_config.json").write_text(json.dumps({"step": step, "config": config}, indent=2))
        if extra is not None:
            torch.save(extra, tmp / "state.pt")
        _write_manifest(tmp)
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_manifest(folder: Path) -> None:
    files = {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(folder.iterdir()) if p.is_file()}
    (folder / MANIFEST).write_text(json.dumps({"files": files}, indent=2))


def verify(folder: Path) -> str | None:
    """What is wrong with a checkpoint's files, or None when they match its manifest.

    A folder from before manifests existed is not checked here; ``load_checkpoint``
    still catches what cannot be read."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.exists():
        return None
    try:
        files = json.loads(manifest.read_text())["files"]
        expected = {name: (int(f["size"]), str(f["sha256"])) for name, f in files.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return f"{MANIFEST} is unreadable"
    for name, (size, sha) in expected.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        actual = path.stat().st_size
        if actual != size:
            return f"{name} has {actual} bytes, {size} were written"
        if _sha256(path) != sha:
            return f"{name} changed since it was written (checksum differs)"
    return None


def load_checkpoint(folder: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """(weights, run_config, extra state or None); a damaged folder is one DamagedCheckpoint."""
    folder = Path(folder)
    problem = verify(folder)
    if problem:
        _refuse_pruned(folder)
        raise DamagedCheckpoint(f"damaged checkpoint: {problem}", source=str(folder))
    try:
        weights = _unflatten(load_file(str(folder / "model.safetensors")))
        meta = json.loads((folder / "run_config.json").read_text())
        extra = torch.load(folder / "state.pt", weights_only=True) if (folder / "state.pt").exists() else None
    except Exception as exc:  # a file from before manifests, cut short: many exception types
        _refuse_pruned(folder)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DamagedCheckpoint(f"damaged checkpoint: cannot read it ({first})", source=str(folder)) from None
    if not isinstance(meta, dict) or "config" not in meta:
        raise DamagedCheckpoint("damaged checkpoint: run_config.json has no config", source=str(folder))
    return weights, meta, extra


def _refuse_pruned(folder: Path) -> None:
    """A checkpoint that failed to read because pruning removed it meanwhile is said to be
    pruned: its folder is gone or no longer whole (``rmtree`` removes file by file), or it is
    past the newest ``KEEP_CHECKPOINTS`` and so due to go."""
    step = checkpoint_step(folder)
    if step is None:
        return
    newer = [s for s, _ in list_checkpoints(folder.parent) if s > step]
    if not folder.exists() or not is_complete(folder) or len(newer) >= KEEP_CHECKPOINTS:
        raise PrunedCheckpoint(
            f"checkpoint at step {step} was pruned (removed by a newer checkpoint) while reading; pick another step",
            source=str(folder),
        )


def checkpoint_step(folder: Path) -> int | None:
    """The step of a ``checkpoint-NNNNNN`` folder (None for the final weights or another folder)."""
    prefix, _, digits = Path(folder).name.partition("-")
    return int(digits) if prefix == "checkpoint" and digits.isdigit() else None


def is_complete(folder: Path) -> bool:
    """A checkpoint folder appears only by rename, whole; a leftover temp folder never counts."""
    folder = Path(folder)
    return not folder.name.startswith(".") and (folder / "model.safetensors").is_file() and (folder / "run_config.json").is_file()


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) of the complete checkpoints of a run, oldest first."""
    found = []
    for folder in Path(run_dir).glob("checkpoint-*"):
        step = checkpoint_step(folder)
        if step is not None and is_complete(folder):
            found.append((step, folder))
    return sorted(found)


def prune_checkpoints(run_dir: Path, *, keep: int) -> list[Path]:
    """Removes all but the newest ``keep`` checkpoints; returns the removed folders."""
    removed = [folder for _, folder in list_checkpoints(run_dir)[:-keep]]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed
