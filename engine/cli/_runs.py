"""``runs list|show|export|compare|delete``: the run database, read and tidied."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.cli._output import EXIT_OK, Parser, db_path, open_store, print_json, route_library_output_to_stderr, with_db
from engine.cli._terminal import escape
from engine.errors import UserError
from engine.store import RUN_STATUSES

RUN_LIST_FIELDS = ("id", "name", "status", "method", "model", "dataset", "task_mode", "n_way", "k_shot", "created_at", "finished_at", "study")


def cmd_runs_list(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        runs = store.list_runs(status=args.status, limit=args.limit)
    rows = []
    for run in runs:
        row = {k: run.get(k) for k in RUN_LIST_FIELDS}
        row["test_accuracy"] = run["final_metrics"].get("test_accuracy")
        row.update(headline_fields(run["final_metrics"]))
        row["tags"] = run["tags"]
        row["damaged"] = run["damaged"]  # what another program left that is not as the schema says
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
        status = "damaged" if row["damaged"] else row["status"]
        print(f"{row['id']:12}  {status:11}  {escape(row['method'] or '-'):9}  {acc}  {row['created_at'][:19]:19}  {escape(row['name'])}"
              + (f"  ({damage_note(row['damaged'])})" if row["damaged"] else ""))
    return EXIT_OK


def headline_fields(final: dict[str, Any]) -> dict[str, Any]:
    """The run's task headline (test_accuracy, or test_f1 for NER), its value and direction;
    a headline name that is not text (written by another program) reads as test_accuracy."""
    name = final.get("headline_metric")
    name = name if isinstance(name, str) and name else "test_accuracy"
    direction = final.get("headline_direction")
    direction = direction if direction in ("maximize", "minimize") else "maximize"
    return {"headline_metric": name, "headline": final.get(name), "headline_direction": direction}


def cmd_runs_show(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        run = store.get_run(args.id)
        run["metric_names"] = store.metric_names(run["id"])
        run["artifacts"] = store.artifacts(run["id"])
    if args.json:
        print_json(run)
        return EXIT_OK
    print(f"{escape(run['name'])}  ({run['id']}, {escape(run['status'])})")
    print(f"method {escape(run['method'])} · model {escape(run['model'])} · dataset {escape(run['dataset'])}"
          f" · device {escape(run['device'] or '-')}")
    if run.get("tags"):
        print(f"tags {', '.join(escape(t) for t in run['tags'])}")
    for key, value in sorted(run["final_metrics"].items()):
        print(f"  {escape(key):32} {escape(value)}")
    if run.get("error"):
        print(f"error: {escape(run['error'])}")
    if run["damaged"]:
        print(damage_note(run["damaged"]))
    return EXIT_OK


def damage_note(damaged: list[str]) -> str:
    """``damaged: config is not JSON; pid is not a process id``."""
    return f"damaged: {'; '.join(damaged)}"


def cmd_runs_export(args: argparse.Namespace) -> int:
    if args.to_mlflow or args.format == "tensorboard":
        return _export_to_tools(args)
    from engine.exports import export_run
    from engine.fileio import check_output_file

    if len(args.ids) > 1:
        raise UserError(f"--format {args.format} exports one run; several go to --format tensorboard or --to-mlflow")
    if args.output:
        check_output_file(Path(args.output))  # before reading anything
    with open_store(args) as store:
        text = export_run(store, args.ids[0], args.format)
    if args.output:
        from engine.fileio import atomic_write_text

        atomic_write_text(Path(args.output), text)  # a folder or a file in the way is one line, exit 2
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _export_to_tools(args: argparse.Namespace) -> int:
    """TensorBoard event folders (``-o DIR``) and/or MLflow runs (``--to-mlflow URI``)."""
    from engine.export._runs import read_runs

    if args.format == "tensorboard" and not args.output:
        raise UserError("--format tensorboard writes a folder: give it with -o DIR")
    with open_store(args) as store:
        records = read_runs(store, args.ids)
    answer: dict[str, Any] = {}
    if args.format == "tensorboard":
        from engine.export._tensorboard import export_tensorboard

        answer["tensorboard"] = [str(folder) for folder in export_tensorboard(records, Path(args.output))]
    if args.to_mlflow:
        from engine.export._mlflow import export_mlflow

        route_library_output_to_stderr()
        answer["mlflow"] = export_mlflow(records, args.to_mlflow, experiment=args.experiment, model_folder=_model_folder_for(args))
    if args.json:
        print_json(answer)
        return EXIT_OK
    for folder in answer.get("tensorboard", []):
        print(folder)
    for run_id, mlflow_id in answer.get("mlflow", {}).items():
        print(f"{run_id} -> mlflow run {mlflow_id}")
    return EXIT_OK


def _model_folder_for(args: argparse.Namespace) -> Any:
    """The trained model, exported for MLflow when the run has weights (``--no-model``: never)."""
    if args.no_model:
        return None

    def write(run_id: str, into: Path) -> Path | None:
        from engine.export import export_model
        from engine.paths import artifacts_dir

        if not (artifacts_dir(db_path(args)) / run_id / "weights" / "model.safetensors").exists():
            return None
        return export_model(db_path(args), run_id, into)

    return write


def cmd_runs_import(args: argparse.Namespace) -> int:
    """TensorBoard event folders (PATH...) and/or MLflow runs (--from-mlflow URI) as external runs."""
    from engine.external import import_runs

    if not args.paths and not args.from_mlflow:
        raise UserError("give TensorBoard folders (PATH...) or --from-mlflow URI")
    found = []
    if args.paths:
        from engine.external._tensorboard import find_event_folders, read_folder

        for path in map(Path, args.paths):
            found += [read_folder(folder, root=path) for folder in find_event_folders(path)]
    if args.from_mlflow:
        from engine.external._mlflow import read_runs

        route_library_output_to_stderr()
        found += read_runs(args.from_mlflow, experiment=args.experiment, run_ids=args.mlflow_run)
    with open_store(args) as store:
        ids = import_runs(store, found, again=args.again)  # all or nothing
    if args.json:
        print_json({"imported": ids})
    else:
        print("\n".join(ids))
    return EXIT_OK


def cmd_runs_delete(args: argparse.Namespace) -> int:
    """Every id is resolved before anything is deleted. Several runs, or an id given only
    by a prefix, are confirmed: a question on a terminal, ``--yes`` in a script."""
    with open_store(args) as store:
        runs = {run["id"]: run for run in (store.get_run(given) for given in args.ids)}  # two prefixes, one run: once
        by_prefix = any(given not in runs for given in args.ids)
        live = [run for run in runs.values() if is_live(run)]
        if live and not args.stop:
            raise UserError(f"{_live_text(live[0])}: stop it first, or give --stop to stop it and then delete it (nothing deleted)")
        if (len(runs) > 1 or by_prefix) and not args.yes:
            _confirm_delete(list(runs.values()))
        if live:
            stop_runs(store, live)
        for run_id in runs:
            result = store.delete_run(run_id)
            print(f"deleted {result['id']}")
            if result.get("kept"):
                print(f"kept its artifacts: {result['kept']}", file=sys.stderr)
    return EXIT_OK


def is_live(run: dict[str, Any]) -> bool:
    """Running, or queued by a program that is alive (``open_store`` has marked the dead ones)."""
    return run["status"] == "running" or (run["status"] == "queued" and run.get("pid") is not None)


def _live_text(run: dict[str, Any]) -> str:
    where = f"pid {run['pid']} on {run.get('host') or 'an unknown host'}" if run.get("pid") else "no pid"
    return f"run {run['id']} is {run['status']} ({where})"


def stop_runs(store: Any, runs: list[dict[str, Any]]) -> None:
    """SIGTERM to each run's engine, as the GUI's Stop; returns when every run has ended."""
    from engine.cli._stop import stop_engine

    for run in runs:
        if run["status"] == "queued":  # its owner may be the GUI: never signalled from here
            raise UserError(f"{_live_text(run)}: --stop stops running runs only; delete it when it has started and stopped")
    for run in runs:
        stop_engine(store, run)


def _confirm_delete(runs: list[dict[str, Any]]) -> None:
    listed = ", ".join(f"{r['id']} ({escape(r['name'])})" for r in runs)  # input() writes its prompt to the tty itself
    why = f"{len(runs)} runs" if len(runs) > 1 else f"run {runs[0]['id']}, given by the prefix of its id,"
    if not sys.stdin.isatty():
        raise UserError(f"deleting {why} needs --yes when not asked on a terminal ({listed})")
    try:
        answer = input(f"delete {listed} with their artifacts? [y/N] ").strip().lower()
    except EOFError:
        answer = ""
    if answer not in ("y", "yes"):
        raise UserError("nothing deleted")


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
        print(f"{run['id']:12}  {escape(run['name'])[:24]:24}  {text:>18}" + (f"  ({damage_note(run['damaged'])})" if run["damaged"] else ""))
    print(f"\nagainst {result['reference']} ({escape(names[result['reference']]['name'])}):")
    for c in result["comparisons"]:
        if c.get("reason") == "no per-episode results":  # an imported run, or one without a meta-test
            print(f"  {c['id']:12} no paired statistics without per-episode results")
            continue
        kind = f"paired over {c['n']} episodes" if c["paired"] else f"NOT paired ({c.get('reason', '')}): Welch's t-test"
        print(f"  {c['id']:12} {c['mean_diff'] * scale:+6.2f}{points} ± {c['ci95'] * scale:.2f}, p = {c['p_value']:.3g}  [{kind}]")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    runs = sub.add_parser("runs", help="list, show, export, import, compare or delete runs").add_subparsers(dest="runs_command", required=True, parser_class=Parser)
    p = with_db(runs.add_parser("list", help="runs, newest first"))
    p.add_argument("--json", action="store_true", help="a JSON array")
    p.add_argument("--status", choices=RUN_STATUSES, help="only runs with this status")
    p.add_argument("--limit", type=int, help="at most this many")
    p.set_defaults(func=cmd_runs_list)
    p = with_db(runs.add_parser("show", help="one run with its config and final metrics"))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.add_argument("--json", action="store_true", help="a JSON object")
    p.set_defaults(func=cmd_runs_show)
    p = with_db(runs.add_parser(
        "export", help="a run's metrics (csv), everything (json) or its config (toml); runs to TensorBoard or MLflow"
    ))
    p.add_argument("ids", nargs="+", metavar="ID", help="run id (a unique prefix is enough); several for tensorboard and MLflow")
    p.add_argument("--format", choices=("csv", "json", "toml", "tensorboard"), default="csv", help="output format")
    p.add_argument("-o", "--output", help="write to this file instead of stdout (tensorboard: the folder, one sub-folder per run)")
    p.add_argument("--to-mlflow", metavar="URI", help="log the runs to this MLflow tracking URI (sqlite:///mlflow.db, a server)")
    p.add_argument("--experiment", default="metalab", help="the MLflow experiment (default: metalab)")
    p.add_argument("--no-model", action="store_true", help="MLflow: leave out the trained model folder")
    p.add_argument("--json", action="store_true", help="tensorboard/MLflow: print {tensorboard: [folders], mlflow: {id: mlflow id}}")
    p.set_defaults(func=cmd_runs_export)
    # argparse formats help with %: a literal percent sign is written %%.
    p = with_db(runs.add_parser("compare", help="runs against a reference: metrics with 95%% CI, paired differences"))
    p.add_argument("ref", help="reference run id")
    p.add_argument("ids", nargs="+", help="run ids to compare with the reference")
    p.add_argument("--json", action="store_true", help="a JSON object")
    p.set_defaults(func=cmd_runs_compare)
    p = with_db(runs.add_parser("import", help="TensorBoard event folders or MLflow runs as external runs (status imported)"))
    p.add_argument("paths", nargs="*", metavar="PATH", help="a TensorBoard log folder: each sub-folder with event files is one run")
    p.add_argument("--from-mlflow", metavar="URI", help="import MLflow runs from this tracking URI")
    p.add_argument("--experiment", help="MLflow: only this experiment (default: all)")
    p.add_argument("--mlflow-run", action="append", metavar="RUN_ID", help="MLflow: only this run (repeatable)")
    p.add_argument("--again", action="store_true", help="import a source imported before a second time (else refused)")
    p.add_argument("--json", action="store_true", help='print {"imported": [new run ids]}')
    p.set_defaults(func=cmd_runs_import)
    p = with_db(runs.add_parser("delete", help="delete runs, their rows and their artifacts"))
    p.add_argument("ids", nargs="+", metavar="id", help="run id; several runs, or a prefix, are confirmed on a terminal or need --yes")
    p.add_argument("--yes", action="store_true", help="delete without asking (scripts)")
    p.add_argument("--stop", action="store_true",
                   help="a running run: stop its engine first (SIGTERM, as the GUI's Stop), wait for it, then delete it")
    p.set_defaults(func=cmd_runs_delete)
