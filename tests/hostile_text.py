"""Hostile text for the issue 27 property tests: names, tags, labels and metric names made
of terminal controls, spreadsheet formulas, Markdown and HTML, from a seeded generator (the
same examples on every run, many of them), plus the canonical attacks of cases 8 and 9."""

from __future__ import annotations

import random

CANONICAL = [
    "\x1b]0;pwned\x07",  # sets the terminal's title
    "\x1b[2J\x1b[H",  # clears the screen
    "\x1b]52;c;ZWNobyBwd25lZA==\x07",  # writes the clipboard
    "\x9b31mred",  # CSI as one C1 character
    "ok\nfakeid  finished  99.99%",  # a forged row
    '=HYPERLINK("http://evil.example","open me")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\tTAB",
    "\rCR",
    "# Injected heading\n<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<b style='color:red'>BEST RUN 99.9%</b>",
    "a | b | c",
    "[link](javascript:alert(1))",
    "**bold** _it_ `code` ~~gone~~",
    "line\n\n- item\n1. item\n> quote",
    "key: value\n- yaml: list",
    "&amp; &lt;b&gt;",
]

ALPHABET = (
    [chr(c) for c in range(0x00, 0x20)] + ["\x7f", "\x85", "\x9b", "\u2028", "\u2029"]
    + list("=+-@'\"`|*_#[]()<>&!~:;{}\\/") + ["<script>", "<img src=x onerror=y>", "\x1b[", "\x1b]", "\n# ", "\n- "]
    + list("abcXYZ 019.é")
)


def hostile_strings(count: int, *, seed: int = 27, max_len: int = 14) -> list[str]:
    """``count`` strings: the canonical attacks first, then random mixes of the alphabet (never empty)."""
    rng = random.Random(seed)
    out = list(CANONICAL[:count])
    while len(out) < count:
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, max_len)))
        out.append(text if text.strip() else text + "x")
    return out


RAW_CONTROLS = [chr(c) for c in range(0x20) if c not in (0x0A, 0x09)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
# tags only a user's text brings: MetaLab's own rich text never writes them
USER_TAGS = ("<script", "<img", "<b style")
