"""The events wire: one JSON object per line on stdout, flushed, for the GUI and scripts.

Every event has ``v`` (protocol version), ``seq`` (0, 1, 2, ... per process), ``type``,
``run_id`` and ``time`` (Unix seconds). The fields of each type are listed in
``EVENT_FIELDS`` and documented in docs/EVENTS.md; names here are a contract.

Torch-free: the GUI imports ``parse_line``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from typing import IO, Any

PROTOCOL_VERSION = 1

# Required fields per event type (more may be present).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "run_started": ("name", "method", "config", "device", "processes"),
    "progress": ("done", "total", "eta_seconds", "rate"),
    "metric": ("name", "step", "value", "wall_time"),
    "log": ("level", "message"),
    "checkpoint": ("path", "step"),
    "run_finished": ("status", "final_metrics"),
    "error": ("message", "kind"),
}

ERROR_KINDS = ("user", "oom", "interrupted", "internal")


def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: they travel as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


class EventWriter:
    """Writes events as JSON lines to a stream (stdout with ``--events``), or nowhere."""

    def __init__(self, stream: IO[str] | None, run_id: str | None = None):
        self.stream = stream
        self.run_id = run_id
        self._seq = 0
        self._lock = threading.Lock()
        # Called with each event after it is written, outside the lock (live reporters:
        # engine.training.reporters); a listener handles its own failures.
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        if type not in EVENT_FIELDS:
            raise ValueError(f"unknown event type {type}")
        missing = [f for f in EVENT_FIELDS[type] if f not in fields]
        if missing:
            raise ValueError(f"event {type} lacks {missing}")
        with self._lock:
            event = {"v": PROTOCOL_VERSION, "seq": self._seq, "type": type, "run_id": self.run_id, "time": time.time()}
            self._seq += 1
            event.update(json_safe(fields))
            if self.stream is not None:
                try:
                    self.stream.write(json.dumps(event, separators=(",", ":")) + "\n")
                    self.stream.flush()
                except (BrokenPipeError, ValueError, OSError):
                    # The reader (a GUI) is gone. The run goes on and still writes the store:
                    # days of GPU time must not die with a window.
                    self.stream = None
        for listener in self.listeners:
            listener(event)
        return event


def parse_line(line: str | bytes) -> dict[str, Any] | None:
    """The event on one line, or None for anything else (a library's print, a torn line)."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("type") not in EVENT_FIELDS or "v" not in event:
        return None
    return event
