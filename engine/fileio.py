"""Files the engine writes go to a temporary file first and are renamed into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engine.errors import UserError


class OutputPathError(UserError, OSError):
    """An output path that cannot be a file or folder (a folder in the way, a file above
    it, no permission). A UserError for the CLI (exit 2), an OSError for callers that
    catch those (the GUI's export dialogs)."""


def check_output_file(path: Path) -> None:
    """Refuses, in one line naming ``path``, a file path that cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError("is a folder; give a file name to write", source=str(path))
    _check_parents(path)


def check_output_folder(path: Path) -> None:
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError("is a file; give a folder to write into", source=str(path))
    _check_parents(path)


def _check_parents(path: Path) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputPathError(f"{parent} is a file, not a folder", source=str(path))
            if not os.access(parent, os.W_OK | os.X_OK):
                raise OutputPathError(f"no permission to write in {parent}", source=str(path))
            return


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    check_output_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # name the file asked for, never the temporary one
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json_request(path: str) -> dict:
    """A JSON object from a file, or from stdin when ``path`` is "-"; bad input is one UserError."""
    import json
    import sys

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except FileNotFoundError:
        raise UserError("file not found", source=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read ({exc})", source=path) from None
    except json.JSONDecodeError as exc:
        raise UserError(f"not JSON ({exc.msg} at line {exc.lineno})", source=path) from None
    if not isinstance(data, dict):
        raise UserError("expected a JSON object", source=path)
    return data
