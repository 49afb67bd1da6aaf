"""CSV that a spreadsheet opens as data: a text cell that starts like a formula is quoted.

Run names, labels and metric names come from users' files. ``=HYPERLINK(...)`` in a name
would open as a live link in Excel or LibreOffice, so such a cell gets a leading ``'``
(OWASP's advice for CSV injection); numbers are written as numbers, negative ones too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue()
