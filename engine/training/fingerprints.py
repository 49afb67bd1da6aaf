"""What a run was trained on, as two short hashes stored with the run.

``resume`` and ``fork`` compare them with the data and model they would continue on: a
dataset edited since (rows added, classes dropped) would mix two datasets in one curve
and in the paired meta-test episodes, so it is refused unless asked for.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.models.loading import ModelSource

# Files above this size are fingerprinted by their size and three 1 MiB samples: a
# change detector for edits and swaps, not a proof against tampering.
FULL_HASH_BYTES = 64 * 1024 * 1024
SAMPLE_BYTES = 1024 * 1024
ALLOW_FLAG = "--allow-changed-data"


@dataclass(frozen=True)
class Fingerprints:
    data: str
    model: str

    def as_columns(self) -> dict[str, str]:
        return {"data_fingerprint": self.data, "model_fingerprint": self.model}


def take(dataset: Any, model: ModelSource) -> Fingerprints:
    """``dataset``: any task's dataset (each has ``fingerprint()``)."""
    return Fingerprints(dataset.fingerprint(), model_fingerprint(model))


def model_fingerprint(source: ModelSource) -> str:
    """Names, sizes and contents of the files of a local model folder; a hub id by name."""
    digest = hashlib.sha256()
    if not source.local:
        digest.update(f"hub:{source.path}".encode())
        return digest.hexdigest()[:16]
    root = Path(source.path)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(root).as_posix()}\0{size}\0".encode())
        with path.open("rb") as handle:
            if size <= FULL_HASH_BYTES:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            else:
                for offset in (0, size // 2, size - SAMPLE_BYTES):
                    handle.seek(offset)
                    digest.update(handle.read(SAMPLE_BYTES))
    return digest.hexdigest()[:16]


def changes(run: dict, now: Fingerprints, summary: str) -> list[str]:
    """What differs from the fingerprints stored with ``run`` (none stored: nothing to say).
    ``summary``: the dataset as it is now, in words (the task's ``dataset_summary``)."""
    found = []
    if run.get("data_fingerprint") and run["data_fingerprint"] != now.data:
        found.append(f"the dataset changed since run {run['id']} was trained (now {summary})")
    if run.get("model_fingerprint") and run["model_fingerprint"] != now.model:
        found.append(f"the model folder changed since run {run['id']} was trained")
    return found


def check_unchanged(run: dict, now: Fingerprints, summary: str, *, allow_changed: bool, source: str) -> list[str]:
    """Refuses a changed dataset or model in one line; with ``allow_changed``, returns the
    changes as notes for the run's log."""
    found = changes(run, now, summary)
    if found and not allow_changed:
        raise UserError(f"{'; '.join(found)}; pass {ALLOW_FLAG} to continue anyway", source=source)
    return found
