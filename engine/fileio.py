"""Files the engine writes go to a temporary file first and are renamed into place."""

from __future__ import annotations

import json
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


# Byte-order marks of encodings people save "text" in by mistake (longest first).
_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def text_problem(head: bytes, *, whole: bool = False) -> str | None:
    """Why the first bytes of a file (all of it when ``whole``) are not UTF-8 text, in
    words a user can act on; None when they are. A UTF-8 byte-order mark is fine (readers
    use ``utf-8-sig``)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return f"is {name} text; save it as UTF-8"
    if b"\x00" in head:
        half = len(head) // 4
        if len(head) >= 8 and (head[1::2].count(0) > half or head[0::2].count(0) > half):
            return "looks like UTF-16 text (every other byte is zero); save it as UTF-8"
        if head.count(0) * 100 < len(head):  # text with a stray NUL, e.g. inside a label
            first = head.index(b"\x00")
            line = head.count(b"\n", 0, first) + 1
            column = first - (head.rfind(b"\n", 0, first) + 1) + 1
            return f"line {line}, column {column} has a NUL byte (\\0), which text cannot hold; remove it"
        return "looks like a binary file, not text"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if whole or exc.start < len(head) - 4:  # not just a character cut at the end of a sample
            return f"not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"
    return None


def special_file_problem(path: Path) -> str | None:
    """A pipe or a device is never opened (reading one may block or never end)."""
    import stat

    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None
    if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
        return None
    kind = "a pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket"
    return f"is {kind}, not a regular file; give a file"


def read_user_text(path: Path, *, error: type[UserError] = UserError, what: str = "a text file") -> str:
    """A user's text file (a config, a study, a request) in one piece, or one ``error``
    naming the file and the problem: missing, a folder, a pipe, UTF-16, not UTF-8."""
    path = Path(path)
    source = str(path)
    problem = special_file_problem(path)
    if problem:
        raise error(problem, source=source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error("file not found", source=source) from None
    except IsADirectoryError:
        raise error(f"is a folder, expected {what}", source=source) from None
    except OSError as exc:
        raise error(f"cannot read ({exc.strerror})", source=source) from None
    problem = text_problem(data, whole=True)
    if problem:
        raise error(problem, source=source)
    return data.decode("utf-8-sig")


def json_error(exc: json.JSONDecodeError, *, line: bool = True) -> str:
    """``Invalid control character at line 2, column 6``: json's own text ends some
    messages in a dangling "at" and leaves the position out."""
    where = f"line {exc.lineno}, column {exc.colno}" if line else f"column {exc.colno}"
    return f"{exc.msg.removesuffix(' at')} at {where}"


def read_json_request(path: str) -> dict:
    """A JSON object from a file, or from stdin when ``path`` is "-"; bad input is one UserError."""
    import sys

    try:
        text = sys.stdin.read() if path == "-" else read_user_text(Path(path), what="a JSON file")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read ({exc})", source=path) from None
    except json.JSONDecodeError as exc:
        raise UserError(f"not JSON ({json_error(exc)})", source=path) from None
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
