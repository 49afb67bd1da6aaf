"""``metalab-engine inspect``; ``engine.cli`` adds it with :func:`add_commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

EXIT_OK = 0


def _progress(done: int, total: int) -> None:
    """One stderr line per test episode: the GUI shows it while the first inspection runs."""
    print(f"progress: {done}/{total} meta-test episodes", file=sys.stderr, flush=True)


def cmd_inspect(args: argparse.Namespace) -> int:
    import engine.cli as cli
    from engine.inspection import inspect_run

    cli._route_library_output_to_stderr()
    result = inspect_run(cli._db_path(args), args.id, episode=args.episode, projection=args.projection,
                         device=args.device, progress=_progress)
    if args.json:
        cli._print_json(result)
        return EXIT_OK
    _print_text(result)
    return EXIT_OK


def _print_text(result: dict[str, Any]) -> None:
    print(f"{result['name']} ({result['run_id']}, {result['method']}): meta-test episode {result['episode']} "
          f"of {result['test_episodes']}, classes {', '.join(result['classes'])}")
    for name, view in result["views"].items():
        sil = f", silhouette {view['silhouette']:.3f}" if view["silhouette"] is not None else ""
        print(f"  {name:6} training: accuracy {view['accuracy']:.3f}{sil}")
    for title, table in (("this episode", result["confusion"]["episode"]), ("all meta-test episodes", result["confusion"]["all"])):
        print(f"per-class accuracy, {title} (overall {table['accuracy']:.3f} over {table['queries']} queries):")
        for label, acc in table["per_class_accuracy"].items():
            print(f"  {label:30} {'-' if acc is None else f'{acc:.3f}'}")


def add_commands(sub: Any, with_db: Callable[[argparse.ArgumentParser], argparse.ArgumentParser], parser_class: type) -> None:
    from engine.inspection import PROJECTIONS

    p = with_db(sub.add_parser(
        "inspect",
        help="one meta-test episode of a finished run: embedding maps before/after training, confusion matrices",
    ))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.add_argument("--episode", type=int, default=0, help="meta-test episode index (default 0)")
    p.add_argument("--projection", choices=PROJECTIONS, default="auto",
                   help="2-D map: umap (needs umap-learn), tsne, or auto (umap where installed)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    p.add_argument("--json", action="store_true", help="a JSON object (the GUI reads it)")
    p.set_defaults(func=cmd_inspect)
