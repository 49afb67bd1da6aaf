"""``runs list|show|export|compare|delete``: the run database, read and tidied."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.cli._output import EXIT_OK, Parser, open_store, print_json, with_db
from engine.store import RUN_STATUSES

RUN_LIST_FIELDS = ("id", "name", "status", "method", "model", "dataset", "task_mode", "n_way", "k_shot", "created_at", "finished_at", "study")


def cmd_runs_list(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        runs = store.list_runs(status=args.status, limit=args.limit)
    rows = []
    for run in runs:
        row = {k: run.get(k) for k in RUN_LIST_FIELDS}
        row["test_accuracy"] = run["final_metrics"].get("test_accuracy")
        # The run's task headline (test_accuracy, or test_f1 for NER) and its value.
        row["headline_metric"] = run["final_metrics"].get("headline_metric", "test_accuracy")
        row["headline"] = run["final_metrics"].get(row["headline_metric"])
        row["headline_direction"] = run["final_metrics"].get("headline_direction", "maximize")
        row["tags"] = run["tags"]
        rows.append(row)
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        print("no runs yet (start one with: metalab-engine run examples/quickstart.toml)")
        return EXIT_OK
    print(f"{'ID':12}  {'STATUS':11}  {'METHOD':9}  {'TEST':>13}  {'CREATED':19}  NAME")
    for row in rows:
        short = row["headline_metric"].removeprefix("test_")[:4]
        share = row["headline_direction"] == "maximize"  # accuracy and F1 are shares; perplexity is not
        value = row["headline"]
        acc = (f"{short:>4} {value * 100:7.2f}%" if share else f"{short:>4} {value:8.2f}") if isinstance(value, (int, float)) else f"{'-':>13}"
        print(f"{row['id']:12}  {row['status']:11}  {row['method'] or '-':9}  {acc}  {row['created_at'][:19]:19}  {row['name']}")
    return EXIT_OK


def cmd_runs_show(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        run = store.get_run(args.id)
        run["metric_names"] = store.metric_names(run["id"])
        run["artifacts"] = store.artifacts(run["id"])
    if args.json:
        print_json(run)
        return EXIT_OK
    print(f"{run['name']}  ({run['id']}, {run['status']})")
    print(f"method {run['method']} · model {run['model']} · dataset {run['dataset']} · device {run['device'] or '-'}")
    for key, value in sorted(run["final_metrics"].items()):
        print(f"  {key:32} {value}")
    if run.get("error"):
        print(f"error: {run['error']}")
    return EXIT_OK


def cmd_runs_export(args: argparse.Namespace) -> int:
    from engine.exports import export_run

    with open_store(args) as store:
        text = export_run(store, args.id, args.format)
    if args.output:
        from engine.fileio import atomic_write_text

        atomic_write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_runs_delete(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        result = store.delete_run(args.id)
    print(f"deleted {result['id']}")
    return EXIT_OK


def cmd_runs_compare(args: argparse.Namespace) -> int:
    from engine.compare import compare_runs

    with open_store(args) as store:
        result = compare_runs(store, args.ref, args.ids)
    if args.json:
        print_json(result)
        return EXIT_OK
    names = {r["id"]: r for r in result["runs"]}
    metric = result["metric"]  # the reference's task headline: test_accuracy, test_f1 (NER), test_perplexity
    share = result.get("higher_is_better", True)  # accuracy and F1 in percent; perplexity as it is
    scale, unit, points = (100, "%", " points") if share else (1, "", "")
    print(f"{'RUN':12}  {'NAME':24}  {metric.replace('_', ' ').upper():>18}" + ("" if share else "  (lower is better)"))
    for run in result["runs"]:
        acc = run["metrics"].get(metric)
        text = f"{acc['mean'] * scale:6.2f}{unit} ± {(acc['ci95'] or 0) * scale:5.2f}" if acc else "-"
        print(f"{run['id']:12}  {run['name'][:24]:24}  {text:>18}")
    print(f"\nagainst {result['reference']} ({names[result['reference']]['name']}):")
    for c in result["comparisons"]:
        kind = f"paired over {c['n']} episodes" if c["paired"] else f"NOT paired ({c.get('reason', '')}): Welch's t-test"
        print(f"  {c['id']:12} {c['mean_diff'] * scale:+6.2f}{points} ± {c['ci95'] * scale:.2f}, p = {c['p_value']:.3g}  [{kind}]")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    runs = sub.add_parser("runs", help="list, show, export or delete runs").add_subparsers(dest="runs_command", required=True, parser_class=Parser)
    p = with_db(runs.add_parser("list", help="runs, newest first"))
    p.add_argument("--json", action="store_true", help="a JSON array")
    p.add_argument("--status", choices=RUN_STATUSES, help="only runs with this status")
    p.add_argument("--limit", type=int, help="at most this many")
    p.set_defaults(func=cmd_runs_list)
    p = with_db(runs.add_parser("show", help="one run with its config and final metrics"))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.add_argument("--json", action="store_true", help="a JSON object")
    p.set_defaults(func=cmd_runs_show)
    p = with_db(runs.add_parser("export", help="a run's metrics (csv), everything (json) or its config (toml)"))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.add_argument("--format", choices=("csv", "json", "toml"), default="csv", help="output format")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_runs_export)
    # argparse formats help with %: a literal percent sign is written %%.
    p = with_db(runs.add_parser("compare", help="runs against a reference: metrics with 95%% CI, paired differences"))
    p.add_argument("ref", help="reference run id")
    p.add_argument("ids", nargs="+", help="run ids to compare with the reference")
    p.add_argument("--json", action="store_true", help="a JSON object")
    p.set_defaults(func=cmd_runs_compare)
    p = with_db(runs.add_parser("delete", help="delete a run, its rows and its artifacts"))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.set_defaults(func=cmd_runs_delete)
