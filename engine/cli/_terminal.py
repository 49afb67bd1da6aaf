"""Text from users' files on a terminal: shown, never obeyed.

Run names, tags, labels and metric names can hold ``ESC ] 0;…BEL`` (a window title),
``ESC [2J`` (clear the screen), OSC 52 (write the clipboard) or a newline that forges a
row. ``escape`` shows every C0/C1 control, DEL and line break as a visible ``\\x1b`` or
``\\n``; ``SafeStream`` does the same for whatever reaches stdout, keeping the newlines
and tabs the CLI's own layout writes. JSON output is unaffected: ``json.dumps`` writes
no raw control character.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

from engine.text_escape import visible_char, visible_controls

_CONTROLS_BUT_LAYOUT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")

escape = visible_controls  # one line of text, every control character shown as an escape (engine/text_escape.py)


class SafeStream:
    """A text stream whose writes keep their newlines and tabs but no other control character."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_CONTROLS_BUT_LAYOUT.sub(visible_char, text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
