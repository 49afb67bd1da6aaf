"""``metalab-engine`` (also ``python -m engine``): everything the GUI does, headless.

Each command calls one engine or store function. Exit codes: 0 success, 1 the run
failed, 2 bad input (one ``error: ...`` line on stderr, no traceback), 130 interrupted.

Modules: ``_output`` (exit codes, parser, run database, JSON, ``--set``), and one per
command group, each with ``add_commands(sub)``: ``_run`` (run, resume, fork, validate), ``_baseline`` (baseline),
``_runs`` (runs ...), ``_model`` (predict, export-model, model-info), ``_lm``
(generate, perplexity), ``_inspect`` (inspect), ``_info``
(methods, config-schema, devices), ``_study`` (study ...), ``_serve`` (serve: a warm engine for the GUI).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys

from engine.cli import _baseline, _info, _inspect, _lm, _model, _run, _runs, _serve, _study
from engine.cli._output import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Parser
from engine.cli._terminal import SafeStream, escape
from engine.errors import OutOfMemory, UserError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

# The order of commands in --help.
COMMAND_GROUPS = (_run, _baseline, _runs, _model, _lm, _inspect, _info, _study, _serve)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="metalab-engine", description="MetaLab's headless engine: run, list and export experiments.")
    parser.add_argument("--version", action="version", version=f"metalab-engine {__import__('engine').__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in COMMAND_GROUPS:
        group.add_commands(sub)
    # ``serve`` parses a second command line, the run it is asked for, with this same parser.
    parser.set_defaults(build_parser=build_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    original = sys.stdout
    if not isinstance(original, SafeStream):  # what a command prints holds users' text: shown, not obeyed
        sys.stdout = SafeStream(original)  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        if isinstance(sys.stdout, SafeStream) and sys.stdout is not original:
            sys.stdout = original


def _main(argv: list[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UserError as exc:
        print(f"error: {escape(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except OutOfMemory as exc:
        print(f"error: {escape(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `... | head -1`: the reader has all it wanted (an OSError, so caught first)
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:  # a full disk, a read-only data folder
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"error: {escape(where)}{escape(exc.strerror or exc)}", file=sys.stderr)
        return EXIT_FAILED
    except sqlite3.OperationalError as exc:
        print(f"error: the run database could not be written ({escape(exc)})", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # an engine bug: say so in one line, keep the traceback for the log
        import traceback

        traceback.print_exc(file=sys.stderr)
        print(f"error: internal error: {type(exc).__name__}: {escape(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _silence_stdout() -> None:
    """Python flushes stdout at exit; into a closed pipe that prints a second error. Point it at devnull."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass


if __name__ == "__main__":
    sys.exit(main())
