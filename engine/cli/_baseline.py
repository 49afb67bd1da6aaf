"""``baseline``: the frozen encoder's accuracy on a config's meta-test episodes, before any training."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.cli._output import EXIT_OK, print_json, with_set
from engine.cli._run import load_config


def cmd_baseline(args: argparse.Namespace) -> int:
    from engine.baseline import frozen_baseline

    config = load_config(args)
    quiet = args.json or not sys.stderr.isatty()
    result = frozen_baseline(config, episodes=args.episodes, on_stage=None if quiet else _stage)
    summary = result.summary()
    if args.json:
        print_json(summary)
        return EXIT_OK
    print(f"frozen {config.model.name} on {summary['episodes']} meta-test episodes "
          f"({summary['n_way']}-way {summary['k_shot']}-shot, {summary['seconds']:.1f} s):")
    for name, label in (("ncm", "nearest class mean"), ("logreg", "logistic regression")):
        print(f"  {label:<20} {summary[name]['accuracy'] * 100:6.2f}% ± {summary[name]['ci95'] * 100:.2f} (95% CI)")
    return EXIT_OK


def _stage(text: str) -> None:
    print(f"{text}...", file=sys.stderr, flush=True)


def add_commands(sub: Any) -> None:
    p = with_set(sub.add_parser(
        "baseline", help="score the frozen encoder (nearest class mean, logistic regression) on a config's meta-test episodes",
    ))
    p.add_argument("config", help="run configuration (TOML)")
    p.add_argument("--episodes", type=int, help="meta-test episodes (default: the config's task.test_episodes)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_baseline)
