"""Storage URLs shown to people: never with their password. Torch-free, for the GUI too."""

from __future__ import annotations

import re

_PASSWORD_QUERY = re.compile(r"([?&](?:password|passwd|pwd)=)[^&]*", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL without its password, for messages and listings: SQLAlchemy's own parsing
    (``user:se/cretpw@`` and ``:secretpw@`` included), and ``?password=`` query values."""
    if "://" in url:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(url)
            hidden = {k: "***" for k in parsed.query if k.lower() in ("password", "passwd", "pwd")}
            return parsed.update_query_dict(hidden).render_as_string(hide_password=True)
        except (ArgumentError, ValueError, TypeError):
            # not a URL SQLAlchemy reads: everything between :// and the last @ may hold the password
            url = re.sub(r"(://)[^@]*@", r"\1***@", url)
    return _PASSWORD_QUERY.sub(r"\1***", url)
