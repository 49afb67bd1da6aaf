"""``metalab-engine`` (also ``python -m engine``): everything the GUI does, headless.

Each command calls one engine or store function. Exit codes: 0 success, 1 the run
failed, 2 bad input (one ``error: ...`` line on stderr, no traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from engine.errors import OutOfMemory, UserError
from engine.store import RUN_STATUSES

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, exit 2
        raise UserError(message)


def _db_path(args: argparse.Namespace) -> Path:
    from engine.paths import default_db_path

    return Path(args.db).expanduser() if args.db else default_db_path()


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _open_store(args: argparse.Namespace) -> Any:
    from engine.store import Store

    store = Store(_db_path(args))
    store.mark_stale_runs()  # a dead engine's run becomes 'interrupted' on the next CLI call
    return store


# --- commands ---------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    from engine.config import RunConfig

    config = RunConfig.load(args.config)
    overrides = dict(_parse_set(item) for item in args.set or [])
    if overrides:
        config = config.with_values(overrides)
    from engine.training.runner import run_experiment

    return _train(args, lambda **kw: run_experiment(config, run_id=args.run_id, **kw))


def cmd_resume(args: argparse.Namespace) -> int:
    from engine.training.continuation import resume_run

    return _train(args, lambda **kw: resume_run(args.id, **kw))


def cmd_fork(args: argparse.Namespace) -> int:
    from engine.training.continuation import fork_run

    overrides = dict(_parse_set(item) for item in args.set or [])
    return _train(args, lambda **kw: fork_run(args.id, overrides, step=args.step, **kw))


def _train(args: argparse.Namespace, start: Any) -> int:
    """What run, resume and fork share: the events wire, graceful stop, summary, run id last."""
    from engine.training.runner import StopFlag

    if args.events:
        _route_library_output_to_stderr()
    stop = StopFlag()
    stop.install()
    outcome = start(
        db_path=_db_path(args), events_stream=sys.stdout if args.events else None, stop=stop,
        progress_bar=not args.events and sys.stderr.isatty(),
    )
    if not args.events:
        _print_summary(outcome.final_metrics, outcome.status)
    print(outcome.run_id, flush=True)
    return EXIT_INTERRUPTED if outcome.status == "interrupted" else EXIT_OK


def _parse_set(item: str) -> tuple[str, Any]:
    import tomllib

    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set expects KEY=VALUE, got '{item}'")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word is a string
    return key.strip(), value


def _route_library_output_to_stderr() -> None:
    """With --events, stdout is the wire: library warnings go to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)  # engine info lines already travel as log events
    logging.getLogger().addHandler(handler)


def _print_summary(final: dict[str, Any], status: str) -> None:
    if status != "finished":
        print(f"run {status}", file=sys.stderr)
        return
    acc, ci = final.get("test_accuracy"), final.get("test_accuracy_ci95")
    if acc is not None:
        ci_text = f" ± {ci * 100:.2f}" if ci is not None else ""
        print(f"meta-test accuracy: {acc * 100:.2f}%{ci_text} (95% CI, {final.get('test_episodes', '?')} episodes)")
    if final.get("untrained_test_accuracy") is not None:
        print(
            f"untrained baseline: {final['untrained_test_accuracy'] * 100:.2f}% ± {final['untrained_test_accuracy_ci95'] * 100:.2f}"
            " (same model before training, same episodes)"
        )
    if final.get("gain_over_untrained") is not None:
        print(
            f"gain from training: {final['gain_over_untrained'] * 100:+.2f} points ± {final['gain_over_untrained_ci95'] * 100:.2f}"
            f" (paired over the same episodes, p = {final['gain_over_untrained_p_value']:.2g})"
        )
    if final.get("train_seconds") is not None:
        print(f"training: {final['train_episodes']} episodes in {final['train_seconds']:.1f} s")


RUN_LIST_FIELDS = ("id", "name", "status", "method", "model", "dataset", "task_mode", "n_way", "k_shot", "created_at", "finished_at", "study")


def cmd_runs_list(args: argparse.Namespace) -> int:
    with _open_store(args) as store:
        runs = store.list_runs(status=args.status, limit=args.limit)
    rows = []
    for run in runs:
        row = {k: run.get(k) for k in RUN_LIST_FIELDS}
        row["test_accuracy"] = run["final_metrics"].get("test_accuracy")
        row["tags"] = run["tags"]
        rows.append(row)
    if args.json:
        _print_json(rows)
        return EXIT_OK
    if not rows:
        print("no runs yet (start one with: metalab-engine run examples/quickstart.toml)")
        return EXIT_OK
    print(f"{'ID':12}  {'STATUS':11}  {'METHOD':9}  {'TEST ACC':>8}  {'CREATED':19}  NAME")
    for row in rows:
        acc = f"{row['test_accuracy'] * 100:7.2f}%" if row["test_accuracy"] is not None else "       -"
        print(f"{row['id']:12}  {row['status']:11}  {row['method'] or '-':9}  {acc}  {row['created_at'][:19]:19}  {row['name']}")
    return EXIT_OK


def cmd_runs_show(args: argparse.Namespace) -> int:
    with _open_store(args) as store:
        run = store.get_run(args.id)
        run["metric_names"] = store.metric_names(run["id"])
        run["artifacts"] = store.artifacts(run["id"])
    if args.json:
        _print_json(run)
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

    with _open_store(args) as store:
        text = export_run(store, args.id, args.format)
    if args.output:
        from engine.fileio import atomic_write_text

        atomic_write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_runs_delete(args: argparse.Namespace) -> int:
    with _open_store(args) as store:
        result = store.delete_run(args.id)
    print(f"deleted {result['id']}")
    return EXIT_OK


def cmd_runs_compare(args: argparse.Namespace) -> int:
    from engine.compare import compare_runs

    with _open_store(args) as store:
        result = compare_runs(store, args.ref, args.ids)
    if args.json:
        _print_json(result)
        return EXIT_OK
    names = {r["id"]: r for r in result["runs"]}
    print(f"{'RUN':12}  {'NAME':24}  {'TEST ACCURACY':>18}")
    for run in result["runs"]:
        acc = run["metrics"].get("test_accuracy")
        text = f"{acc['mean'] * 100:6.2f}% ± {acc['ci95'] * 100:5.2f}" if acc else "-"
        print(f"{run['id']:12}  {run['name'][:24]:24}  {text:>18}")
    print(f"\nagainst {result['reference']} ({names[result['reference']]['name']}):")
    for c in result["comparisons"]:
        kind = f"paired over {c['n']} episodes" if c["paired"] else f"NOT paired ({c.get('reason', '')}): Welch's t-test"
        print(f"  {c['id']:12} {c['mean_diff'] * 100:+6.2f} points ± {c['ci95'] * 100:.2f}, p = {c['p_value']:.3g}  [{kind}]")
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    from engine.fileio import read_json_request
    from engine.inference import load_trained_encoder, predict

    request = read_json_request(args.input)
    with _open_store(args) as store:
        run_id = store.resolve_id(args.id)
    _route_library_output_to_stderr()
    encoder = load_trained_encoder(_db_path(args), run_id, device=args.device)
    result = predict(encoder, request)
    result["run_id"] = run_id
    _print_json(result)
    return EXIT_OK


def cmd_export_model(args: argparse.Namespace) -> int:
    from engine.inference import export_model

    with _open_store(args) as store:
        run_id = store.resolve_id(args.id)
    _route_library_output_to_stderr()
    out = export_model(_db_path(args), run_id, Path(args.out_dir))
    if args.json:
        _print_json({"run_id": run_id, "path": str(out.resolve()), "files": sorted(f.name for f in out.iterdir())})
    else:
        print(out)
    return EXIT_OK


def cmd_methods(args: argparse.Namespace) -> int:
    from engine.specs import all_specs

    specs = all_specs()
    if args.json:
        _print_json([s.to_json() for s in specs])
        return EXIT_OK
    for spec in specs:
        print(f"{spec.name:10} {spec.description}")
    return EXIT_OK


def cmd_config_schema(args: argparse.Namespace) -> int:
    from engine.config import schema

    _print_json(schema())
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from engine.config import RunConfig
    from engine.data import check_task, load_dataset

    config = RunConfig.load(args.config)
    dataset = load_dataset(config.dataset.path, config.dataset.text_column, config.dataset.label_column)
    checks = check_task(dataset, config.task)
    from engine.models.loading import resolve_model

    resolve_model(config.model.name, allow_pickle=config.model.allow_pickle)
    for check in checks:
        print(("ok    " if check.ok else "ERROR ") + check.message)
    bad = next((c for c in checks if not c.ok), None)
    if bad:
        raise UserError(bad.message, source=dataset.source)
    return EXIT_OK


def cmd_devices(args: argparse.Namespace) -> int:
    from engine.training.devices import list_devices

    found = list_devices()
    if args.json:
        _print_json(found)
    else:
        for device in found:
            print(f"{device['name']:8} {device['label']}")
    return EXIT_OK


def cmd_model_info(args: argparse.Namespace) -> int:
    from engine.models.loading import model_info

    info = model_info(args.name, allow_pickle=args.allow_pickle)
    if args.json:
        _print_json(info)
    else:
        for key, value in info.items():
            print(f"{key:12} {value}")
    return EXIT_OK


# --- parser -------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="metalab-engine", description="MetaLab's headless engine: run, list and export experiments.")
    parser.add_argument("--version", action="version", version=f"metalab-engine {__import__('engine').__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--db", help="run database (default: $METALAB_DB or the user data folder)")
        return p

    p = with_db(sub.add_parser("run", help="run one experiment from a TOML config"))
    p.add_argument("config", help="run configuration (TOML)")
    p.add_argument("--events", action="store_true", help="write JSON-line events on stdout (docs/EVENTS.md)")
    p.add_argument("--run-id", help="use this already-queued run row (the GUI creates it)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key, e.g. --set train.episodes=50")
    p.set_defaults(func=cmd_run)

    p = with_db(sub.add_parser("resume", help="continue an interrupted or failed run from its newest checkpoint"))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.add_argument("--events", action="store_true", help="write JSON-line events on stdout")
    p.set_defaults(func=cmd_resume)
    p = with_db(sub.add_parser("fork", help="start a new run from a checkpoint of an earlier run, with changed settings"))
    p.add_argument("id", help="the parent run's id")
    p.add_argument("--step", type=int, help="the checkpoint's step (default: the newest)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a changed config key, e.g. --set method.params.lr=1e-5")
    p.add_argument("--events", action="store_true", help="write JSON-line events on stdout")
    p.set_defaults(func=cmd_fork)

    runs = sub.add_parser("runs", help="list, show, export or delete runs").add_subparsers(dest="runs_command", required=True, parser_class=_Parser)
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
    p = with_db(runs.add_parser("compare", help="runs against a reference: metrics with 95% CI, paired differences"))
    p.add_argument("ref", help="reference run id")
    p.add_argument("ids", nargs="+", help="run ids to compare with the reference")
    p.add_argument("--json", action="store_true", help="a JSON object")
    p.set_defaults(func=cmd_runs_compare)
    p = with_db(runs.add_parser("delete", help="delete a run, its rows and its artifacts"))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.set_defaults(func=cmd_runs_delete)

    p = with_db(sub.add_parser("predict", help="label query texts with a trained run, adapted to a few labelled examples"))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.add_argument("--input", required=True, help='JSON file {"support": [{"text", "label"}...], "query": [texts]}, or - for stdin')
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    p.set_defaults(func=cmd_predict)
    p = with_db(sub.add_parser("export-model", help="a trained run's encoder as a Hugging Face folder (safetensors + tokenizer)"))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.add_argument("out_dir", help="folder to write")
    p.add_argument("--json", action="store_true", help="print {run_id, path, files} as JSON (the GUI reads it)")
    p.set_defaults(func=cmd_export_model)

    p = sub.add_parser("methods", help="the methods and their hyper-parameter schemas")
    p.add_argument("--json", action="store_true", help="JSON, as the GUI reads it")
    p.set_defaults(func=cmd_methods)
    p = sub.add_parser("config-schema", help="every config key with type, default and help (JSON)")
    p.set_defaults(func=cmd_config_schema)
    p = sub.add_parser("validate", help="check a config, its dataset and its model path without running")
    p.add_argument("config", help="run configuration (TOML)")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("devices", help="devices a run can use")
    p.add_argument("--json", action="store_true", help="a JSON array")
    p.set_defaults(func=cmd_devices)
    p = sub.add_parser("model-info", help="parameter count and size of a model, without loading it")
    p.add_argument("name", help="bundled:NAME, a local folder or a Hugging Face id")
    p.add_argument("--allow-pickle", action="store_true", help="accept pickle weight files")
    p.add_argument("--json", action="store_true", help="a JSON object")
    p.set_defaults(func=cmd_model_info)

    from engine.study._cli import add_commands as add_study_commands

    add_study_commands(sub, with_db, _Parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OutOfMemory as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # a full disk, a read-only data folder
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    except sqlite3.OperationalError as exc:
        print(f"error: the run database could not be written ({exc})", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # an engine bug: say so in one line, keep the traceback for the log
        import traceback

        traceback.print_exc(file=sys.stderr)
        print(f"error: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
