"""Users' text (run names, tags, labels, metric names, paths) inside MetaLab's own outputs:
shown as its characters, never obeyed.

One place for every escape a written format needs (issue 27, cases 8 and 9):

- :func:`visible_controls`: C0/C1 controls, DEL and line breaks as ``\\x1b``, ``\\n``
  (a terminal would obey them: a window title, a cleared screen, a forged row);
- :func:`markdown_text`: Markdown and HTML as literal characters on one line (a newline
  would start a heading or a block, ``<img onerror>`` would be live HTML);
- :func:`markdown_code`: a code span when the text allows one, else :func:`markdown_text`;
- :func:`html_text`: HTML-escaped, controls visible;
- :func:`yaml_scalar`: a YAML scalar, double-quoted (JSON-style) unless it is plainly safe.

Spreadsheet formulas are ``engine/csv_cells.py``'s job.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# the characters Markdown (CommonMark, GFM tables) gives a meaning inside a line; '<', '>', '&'
# become entities. A block marker counts only at the start of a line: '#', '-', '+', '=', '1.'
_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")
_BLOCK_START = re.compile(r"^(\s*\d*)([#+\-=.)])")  # ">" becomes &gt;, no quote
_PLAIN_YAML = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]*")


def visible_char(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def visible_controls(value: Any) -> str:
    """One line of text, every control character shown as an escape."""
    return _CONTROLS.sub(visible_char, str(value))


def markdown_text(value: Any, *, starts_line: bool = False) -> str:
    """Inline Markdown that renders as exactly ``value``'s characters (its controls shown as escapes).

    ``starts_line``: the text begins a line of block content (a paragraph, a quote), where a
    leading ``#``, ``-`` or ``1.`` would start a heading or a list; in a table cell or after
    ``# `` it would not."""
    text = _MARKDOWN.sub(r"\\\1", visible_controls(value))
    marker = _BLOCK_START.match(text) if starts_line else None
    if marker and (not marker.group(1).strip() or marker.group(2) in ".)"):  # '#', '- ', '1.' at the start
        text = marker.group(1) + "\\" + text[marker.end(1):]
    return html.escape(text, quote=False)


def markdown_code(value: Any) -> str:
    """```value``` as a code span; text a code span cannot hold (a backtick, a pipe, a control) is escaped instead."""
    text = str(value)
    if text and not re.search(r"[`|<>&\\]", text) and visible_controls(text) == text:
        return f"`{text}`"
    return markdown_text(text)


def html_text(value: Any) -> str:
    return html.escape(visible_controls(value))


def yaml_scalar(value: Any) -> str:
    """A YAML scalar that is read back as ``str(value)``: plain when safe, else a JSON string (valid YAML)."""
    text = str(value)
    return text if _PLAIN_YAML.fullmatch(text) else json.dumps(text)
