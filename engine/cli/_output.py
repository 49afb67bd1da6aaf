"""What every command shares: exit codes, the parser class, the run database, JSON on stdout, ``--set``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.events import json_safe

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, exit 2
        raise UserError(message)


def with_db(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--db", help="run database (default: $METALAB_DB or the user data folder)")
    return parser


def with_set(parser: argparse.ArgumentParser, example: str = "train.episodes=50") -> argparse.ArgumentParser:
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help=f"override a config key, e.g. --set {example}")
    return parser


def db_path(args: argparse.Namespace) -> Path:
    from engine.paths import default_db_path

    return Path(args.db).expanduser() if args.db else default_db_path()


def open_store(args: argparse.Namespace) -> Any:
    from engine.store import Store

    store = Store(db_path(args))
    store.mark_stale_runs()  # a dead engine's run becomes 'interrupted' on the next CLI call
    return store


def to_json(data: Any) -> str:
    """Indented JSON; NaN and infinity become null, as on the events wire."""
    return json.dumps(json_safe(data), indent=2, default=str, allow_nan=False) + "\n"


def print_json(data: Any) -> None:
    sys.stdout.write(to_json(data))


def parse_set(item: str) -> tuple[str, Any]:
    import tomllib

    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set expects KEY=VALUE, got '{item}'")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word is a string
    return key.strip(), value


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--set`` items as dotted keys."""
    return dict(parse_set(item) for item in getattr(args, "set", None) or [])


def route_library_output_to_stderr() -> None:
    """With --events, stdout is the wire: library warnings go to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)  # engine info lines already travel as log events
    logging.getLogger().addHandler(handler)
