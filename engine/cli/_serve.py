"""``serve``: a warm engine for the GUI. It pays the start-up (imports, a first model load,
a first backward pass; ``engine.warmup``) while nobody waits, then reads ONE request from
stdin and becomes that run's engine, exactly as ``run``/``resume`` with ``--events``:

    {"action": "run", "config": "PATH", "run_id": "ID"}     or     {"action": "resume", "run_id": "ID"}

End of input (the GUI went away) ends it with exit 0, having written nothing.
"""

from __future__ import annotations

import argparse
import json
import select
import sys
from typing import Any

from engine.cli._output import EXIT_OK, with_db
from engine.errors import UserError


def _request_waiting() -> bool:
    try:
        return bool(select.select([sys.stdin], [], [], 0)[0])
    except (OSError, ValueError):  # stdin is not selectable (a test's capture): just warm up
        return False


def request_arguments(line: str, db: str | None) -> list[str]:
    """The ``run``/``resume`` command line a request stands for."""
    try:
        request = json.loads(line)
    except ValueError:
        raise UserError("serve: the request is not JSON") from None
    if not isinstance(request, dict) or request.get("action") not in ("run", "resume") or not request.get("run_id"):
        raise UserError('serve: expected {"action": "run"|"resume", "run_id": ..., "config": ...}')
    db_args = ["--db", db] if db else []
    if request["action"] == "resume":
        return ["resume", str(request["run_id"]), *db_args, "--events"]
    if not request.get("config"):
        raise UserError("serve: a run request needs its config path")
    return ["run", str(request["config"]), *db_args, "--events", "--run-id", str(request["run_id"])]


def cmd_serve(args: argparse.Namespace) -> int:
    from engine.warmup import warm_up

    warm_up(args.preload, max_length=args.max_length, wanted_now=_request_waiting)
    print("ready", file=sys.stderr, flush=True)  # the GUI's log, and benchmarks, read it
    line = sys.stdin.readline()
    if not line.strip():
        return EXIT_OK
    run_args = args.build_parser().parse_args(request_arguments(line, args.db))
    return run_args.func(run_args)


def add_commands(sub: Any) -> None:
    p = with_db(sub.add_parser("serve", help="a warm engine: start-up paid in advance, then one run requested on stdin (the GUI)"))
    p.add_argument("--preload", metavar="MODEL", help="a bundled model or local folder to load once while waiting")
    p.add_argument("--max-length", type=int, default=64, help="token length for the warm-up pass")
    p.set_defaults(func=cmd_serve)
