"""A study storage URL's password: hidden wherever the URL is shown, never in a command line.

``postgresql://user:secret@host/db`` carries a password. Messages, listings, logs and the
GUI show :func:`redact`'s form (SQLAlchemy's own parsing, ``hide_password=True``, with
``password`` query parameters dropped). Child processes get the URL in the environment
variable :data:`STORAGE_ENV`, because any local user can read a process's argv
(``/proc/PID/cmdline``) but not its environment. Needs no torch, so the GUI uses it too.
"""

from __future__ import annotations

import re

STORAGE_ENV = "METALAB_STUDY_STORAGE"
HIDDEN = "***"

_URL = re.compile(r"[A-Za-z][\w+.-]*://[^\s'\"<>]+")
# what no URL parser sees: libpq's key=value strings in a driver's message
_PASSWORD_PAIR = re.compile(r"(?i)\b(password|passwd|pwd)\s*=\s*('[^']*'|\"[^\"]*\"|[^\s&'\",;]+)")
_SECRET_QUERY_KEYS = ("password", "passwd", "pwd")
_TRAILING = re.compile(r"[.,:;)\]]+$")  # a sentence's punctuation after a URL


def redact(text: str) -> str:
    """``text`` with every URL's password hidden, e.g. ``postgresql://user:***@host/db``.

    Works on a bare URL and on a message that holds one (a driver's error line)."""
    return _PASSWORD_PAIR.sub(lambda m: f"{m.group(1)}={HIDDEN}", _URL.sub(_redact_match, text))


def has_password(url: str) -> bool:
    """Whether showing ``url`` as typed would show a secret (the GUI masks its field then)."""
    return redact(url) != url


def _redact_match(match: re.Match[str]) -> str:
    url = match.group()
    trailing = _TRAILING.search(url)
    if trailing and "[" not in url:
        return _redact_url(url[: trailing.start()]) + trailing.group()
    return _redact_url(url)


def _redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # not a URL SQLAlchemy reads: hide all that could be a user's credentials
        return re.sub(r"://[^/?#]*@", f"://{HIDDEN}@", url) if "@" in url else url
    query = {key: value for key, value in parsed.query.items() if key.lower() not in _SECRET_QUERY_KEYS}
    split_host = bool(parsed.host and "@" in parsed.host)  # an unescaped '@' in the password: its rest read as the host
    if parsed.password is None and query == dict(parsed.query) and not split_host:
        return url  # nothing secret: shown exactly as written
    if split_host:
        parsed = parsed.set(host=parsed.host.rpartition("@")[2], password=parsed.password or HIDDEN)
    return parsed.set(query=query).render_as_string(hide_password=True)
