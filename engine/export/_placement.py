"""Putting an export folder in place without touching files MetaLab did not write.

An export is built in a hidden temporary folder beside the target and then placed:

- a missing or empty target is replaced by the temporary folder in one rename;
- an earlier export is recognised by its manifest (``metalab_export.json``, the list of
  files that export wrote); only those files are replaced, anything the user added
  (a ``.git/``, notes) stays;
- anything else is refused in one line: a folder with other files and no manifest, a
  file, a symbolic link, the current folder or a folder above it.

A temporary folder holds a lock while it is built; one left by a killed export (no lock,
older than a minute) is removed by the next export into the same parent folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from engine.errors import UserError
from engine.fileio import usual_permissions

MANIFEST_FILE = "metalab_export.json"
LOCK_FILE = ".metalab-export.lock"  # inside a temporary folder while it is being built
STALE_AFTER_S = 60.0


def check_target(out_dir: Path) -> Path:
    """``out_dir`` made absolute, or a UserError naming why MetaLab will not write there."""
    out_dir = Path(out_dir)
    if out_dir.is_symlink():
        raise UserError("is a symbolic link; give the folder it points to, or another folder", source=str(out_dir))
    target = Path(os.path.abspath(out_dir))
    here = Path.cwd().resolve()
    resolved = target.resolve()
    if resolved == here or resolved in here.parents:
        raise UserError("is the current folder or a folder above it; give a new folder to export into", source=str(out_dir))
    if target.exists():
        if not target.is_dir():
            raise UserError("is a file; give a folder to export into", source=str(out_dir))
        if any(target.iterdir()) and read_manifest(target) is None:
            raise UserError("exists and is not an empty folder or an earlier MetaLab export (no "
                            f"{MANIFEST_FILE}): choose another folder", source=str(out_dir))
    return target


def read_manifest(folder: Path) -> list[str] | None:
    """The files an earlier export wrote into ``folder`` (relative paths), or None."""
    try:
        data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) and _is_inside(f) for f in files):
        return None
    return files


@contextlib.contextmanager
def building(target: Path) -> Iterator[Path]:
    """A locked temporary folder beside ``target``; removed unless ``place`` moved it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    lock_path = tmp / LOCK_FILE
    handle = open(lock_path, "w")  # noqa: SIM115 - held for the whole build
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        usual_permissions(tmp)  # a folder for other tools, not mkdtemp's 0700
        yield tmp
    finally:
        handle.close()
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def place(tmp: Path, target: Path, *, run_id: str) -> None:
    """Moves the built export ``tmp`` to ``target``, replacing only an earlier export's own files."""
    (tmp / LOCK_FILE).unlink(missing_ok=True)
    files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file() or p.is_symlink())
    (tmp / MANIFEST_FILE).write_text(json.dumps({"metalab_export": 1, "run_id": run_id, "files": files}, indent=1),
                                     encoding="utf-8")
    _usual_file_modes(tmp)
    earlier = read_manifest(target) if target.is_dir() else None
    if not target.exists() or (earlier is None and not any(target.iterdir())):
        os.replace(tmp, target)  # rename(2) replaces an empty folder
        return
    if earlier is None:  # appeared since check_target
        raise UserError("is no longer empty; choose another folder", source=str(target))
    _replace_files(tmp, target, earlier + [MANIFEST_FILE], files + [MANIFEST_FILE])


def _replace_files(tmp: Path, target: Path, old: list[str], new: list[str]) -> None:
    """The earlier export's files out (kept aside until the new ones are in), the new ones in."""
    ours = set(old)
    for name in new:
        if name not in ours and (target / name).exists():
            raise UserError(f"holds {name}, which the earlier export did not write; move it or choose "
                            "another folder", source=str(target))
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    (aside / LOCK_FILE).touch()  # removed as stale if this process is killed mid-way
    moved: list[str] = []
    placed: list[str] = []
    try:
        for name in old:
            if (target / name).is_file() or (target / name).is_symlink():
                (aside / name).parent.mkdir(parents=True, exist_ok=True)
                os.replace(target / name, aside / name)
                moved.append(name)
        for name in new:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / name, target / name)
            placed.append(name)
    except BaseException:
        for name in placed:  # back as it was
            (target / name).unlink(missing_ok=True)
        for name in moved:
            os.replace(aside / name, target / name)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)
    _remove_empty_folders(target, old, keep=set(new))


def _remove_empty_folders(target: Path, old: list[str], keep: set[str]) -> None:
    folders = {parent for name in old for parent in Path(name).parents if str(parent) != "."}
    kept = {parent for name in keep for parent in Path(name).parents}
    for folder in sorted(folders - kept, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty: the user put something there
            (target / folder).rmdir()


def remove_stale_temporaries(parent: Path) -> list[Path]:
    """Temporary export folders in ``parent`` a killed export left: unlocked and older than a minute."""
    removed = []
    now = time.time()
    for folder in parent.glob(".*.*"):
        lock_path = folder / LOCK_FILE
        try:
            if not folder.is_dir() or folder.is_symlink() or not lock_path.is_file():
                continue  # not a MetaLab temporary folder: never touched
            if now - lock_path.stat().st_mtime < STALE_AFTER_S:
                continue
            with open(lock_path) as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        except OSError:  # locked by a running export, or gone meanwhile
            continue
    return removed


def _usual_file_modes(folder: Path) -> None:
    """Files readable as the umask allows: some writers (safetensors) create them 0600."""
    probe = folder / ".mode-probe"
    probe.touch()
    mode = probe.stat().st_mode & 0o666
    probe.unlink()
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.chmod(path, mode)
        elif path.is_dir() and not path.is_symlink():
            os.chmod(path, mode | ((mode & 0o444) >> 2))  # x wherever r


def _is_inside(name: str) -> bool:
    path = Path(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts
