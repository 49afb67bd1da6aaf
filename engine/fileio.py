"""Files the engine writes go to a temporary file first and are renamed into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json_request(path: str) -> dict:
    """A JSON object from a file, or from stdin when ``path`` is "-"; bad input is one UserError."""
    import json
    import sys

    from engine.errors import UserError

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


def usual_permissions(folder: Path) -> None:
    """The mode a plain ``mkdir`` gives (0777 less the umask), for folders made by ``mkdtemp`` (0700).

    Read from a probe folder: ``os.umask`` can only be read by setting it, which races other threads."""
    probe = Path(folder) / ".mode-probe"
    probe.mkdir()
    mode = probe.stat().st_mode & 0o777
    probe.rmdir()
    os.chmod(folder, mode)
