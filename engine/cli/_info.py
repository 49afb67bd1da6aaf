"""``methods``, ``config-schema`` and ``devices``: what the engine offers, for the GUI and scripts."""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli._output import EXIT_OK, print_json


def cmd_methods(args: argparse.Namespace) -> int:
    from engine.catalog import all_specs

    specs = all_specs()
    if args.json:
        print_json([s.to_json() for s in specs])
        return EXIT_OK
    for spec in specs:
        print(f"{spec.name:10} {spec.description}")
    return EXIT_OK


def cmd_config_schema(args: argparse.Namespace) -> int:
    from engine.config import schema

    print_json(schema())
    return EXIT_OK


def cmd_devices(args: argparse.Namespace) -> int:
    from engine.training.devices import list_devices

    found = list_devices()
    if args.json:
        print_json(found)
    else:
        for device in found:
            print(f"{device['name']:8} {device['label']}")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    p = sub.add_parser("methods", help="the methods and their hyper-parameter schemas")
    p.add_argument("--json", action="store_true", help="JSON, as the GUI reads it")
    p.set_defaults(func=cmd_methods)
    p = sub.add_parser("config-schema", help="every config key with type, default and help (JSON)")
    p.set_defaults(func=cmd_config_schema)
    p = sub.add_parser("devices", help="devices a run can use")
    p.add_argument("--json", action="store_true", help="a JSON array")
    p.set_defaults(func=cmd_devices)
