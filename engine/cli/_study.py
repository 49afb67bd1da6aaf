"""``study run|create|worker|list|show``: each calls one function of ``engine.study``.

Exit codes as for ``run``: 0 done, 2 bad input (one ``error: ...`` line, nothing
written), 130 interrupted (the study resumes with the same ``study run``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from engine.cli._output import EXIT_INTERRUPTED, EXIT_OK, Parser, db_path, overrides, print_json, with_db, with_set
from engine.errors import UserError
from engine.storage_secret import STORAGE_ENV, has_password


def _storage_given(args: argparse.Namespace) -> str | None:
    """``--storage``, else the environment (how the GUI and PBT pass it: argv is readable by every local user)."""
    return args.storage or os.environ.get(STORAGE_ENV, "").strip() or None


def _storage_for(args: argparse.Namespace) -> str:
    from engine.study import default_storage

    return _storage_given(args) or default_storage(db_path(args))


def _print_trial(row: dict[str, Any]) -> None:
    value = f"{row['value']:.4f}" if row["value"] is not None else "-"
    params = ", ".join(f"{k.rsplit('.', 1)[-1]}={_short(v)}" for k, v in row["params"].items())
    extra = f"  ({row['error']})" if row.get("error") else ""
    print(f"trial {row['number']:3d}  {row['state']:11}  {value:>8}  run {row['run_id'] or '-':12}  {params}{extra}", flush=True)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def cmd_study_run(args: argparse.Namespace) -> int:
    from engine.study import run_study, show_study
    from engine.training.runner import StopFlag

    stop = StopFlag()
    stop.install()
    spec, url, outcome = run_study(
        args.study_file, db_path=db_path(args), stop=stop, overrides=overrides(args), storage=_storage_given(args),
        n_trials=args.n_trials, timeout=args.timeout, report=_print_trial,
    )
    summary = show_study(spec.name, url)
    if summary["best_value"] is not None:
        params = ", ".join(f"{k}={_short(v)}" for k, v in summary["best_params"].items())
        print(f"best: trial {summary['best_trial']}  {summary['metric']} {summary['best_value']:.4f}  run {summary['best_run_id']}  {params}")
    if outcome.interrupted:
        print(f"interrupted: run the same command again to resume study '{spec.name}'", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(spec.name, flush=True)
    return EXIT_OK


def cmd_study_create(args: argparse.Namespace) -> int:
    from engine.study import create_study

    info = create_study(
        args.study_file, db_path=db_path(args), storage=_storage_given(args), n_trials=args.n_trials, overrides=overrides(args)
    )
    print(f"study '{info['name']}' in {info['storage']}: {info['trials']} trials so far, budget {info['budget']}")
    if has_password(_storage_given(args) or ""):
        print(f"start workers with: {STORAGE_ENV}=URL metalab-engine study worker --study {info['name']}"
              " (the URL with its password, kept out of the process list)")
    else:
        print(f"start workers with: metalab-engine study worker --storage {info['storage']} --study {info['name']}")
    print(info["name"], flush=True)
    return EXIT_OK


def cmd_study_worker(args: argparse.Namespace) -> int:
    from engine.study import work
    from engine.training.runner import StopFlag

    storage = _storage_given(args)
    if storage is None:
        raise UserError(f"study worker needs the study's storage: --storage URL or the {STORAGE_ENV} environment variable")
    stop = StopFlag()
    stop.install()
    _, outcome = work(
        storage, args.study, db_path=db_path(args), stop=stop, n_trials=args.n_trials,
        timeout=args.timeout, report=_print_trial,
    )
    print(f"worker done: {outcome.started} trials run here", file=sys.stderr)
    return EXIT_INTERRUPTED if outcome.interrupted else EXIT_OK


def cmd_study_list(args: argparse.Namespace) -> int:
    from engine.study import list_studies

    rows = list_studies([_storage_for(args)])
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        print("no studies yet (start one with: metalab-engine study run STUDY.toml)")
        return EXIT_OK
    print(f"{'NAME':24}  {'SAMPLER':7}  {'TRIALS':>9}  {'BEST':>8}  METRIC")
    for row in rows:
        best = f"{row['best_value']:.4f}" if row["best_value"] is not None else "-"
        print(f"{row['name']:24}  {row['sampler'] or '-':7}  {row['n_trials']:4d}/{row['budget'] or '-':<4}  {best:>8}  {row['metric']}")
    return EXIT_OK


def cmd_study_show(args: argparse.Namespace) -> int:
    from engine.study import show_study

    data = show_study(args.name, _storage_for(args), importances=args.importances)
    if args.json:
        print_json(data)
        return EXIT_OK
    print(f"{data['name']}  ({data['sampler']} sampler, {data['pruner']} pruner, {data['direction']} {data['metric']})")
    print("  " + ", ".join(f"{n} {s}" for s, n in sorted(data["counts"].items())))
    if data["best_value"] is not None:
        print(f"best: trial {data['best_trial']}  {data['best_value']:.4f}  run {data['best_run_id']}")
        for key, value in data["best_params"].items():
            print(f"  {key:40} {_short(value)}")
    _print_importances(data)
    for row in data["trials"]:
        _print_trial(row)
    return EXIT_OK


def _print_importances(data: dict[str, Any]) -> None:
    if not data["importances_computed"]:
        print("parameter importances: not computed (add --importances)")
        return
    if not data["importances"]:
        print(f"parameter importances: not available ({data['importance_note']})")
        return
    sample = data["importance_sample"]
    on = f"{sample['used']:,} complete trials" + (f", a random sample of {sample['of']:,}" if sample["used"] < sample["of"] else "")
    print(f"parameter importances ({data['importance_evaluator']}, on {on}):")
    for key, value in data["importances"].items():
        print(f"  {key:40} {value:.3f}")


def add_commands(sub: Any) -> None:
    study = sub.add_parser("study", help="hyper-parameter studies with Optuna (docs/STUDIES.md)")
    cmds = study.add_subparsers(dest="study_command", required=True, parser_class=Parser)
    storage_help = (f"Optuna storage URL (journal:PATH, sqlite:///PATH, postgresql://...); else ${STORAGE_ENV} (keeps a password"
                    " out of the process list); default: studies.journal beside the run database")

    def budget(p: argparse.ArgumentParser) -> None:
        p.add_argument("--n-trials", type=int, help="the study's trial budget (all workers together)")
        p.add_argument("--timeout", type=float, metavar="SECONDS", help="start no new trial after this many seconds")

    p = with_db(cmds.add_parser("run", help="create or resume a study and run its trials here"))
    p.add_argument("study_file", help="study file (TOML)")
    p.add_argument("--storage", help=storage_help + " (overrides study.storage)")
    budget(p)
    with_set(p, "train.episodes=50 (the base run config) or study.sampler=random")
    p.set_defaults(func=cmd_study_run)
    p = with_db(cmds.add_parser("create", help="register a study in its storage without running trials (for workers)"))
    p.add_argument("study_file", help="study file (TOML)")
    p.add_argument("--storage", help=storage_help + " (overrides study.storage)")
    p.add_argument("--n-trials", type=int, help="the study's trial budget (all workers together)")
    with_set(p, "train.episodes=50 (the base run config) or study.sampler=random")
    p.set_defaults(func=cmd_study_create)
    p = with_db(cmds.add_parser("worker", help="join a study in a shared storage and run trials until its budget is spent"))
    p.add_argument("--storage", help=storage_help.split("; default")[0] + "; one of the two is needed")
    p.add_argument("--study", required=True, help="study name")
    budget(p)
    p.set_defaults(func=cmd_study_worker)
    p = with_db(cmds.add_parser("list", help="studies in a storage"))
    p.add_argument("--storage", help=storage_help)
    p.add_argument("--json", action="store_true", help="a JSON array")
    p.set_defaults(func=cmd_study_list)
    p = with_db(cmds.add_parser("show", help="a study's best trial, trials and parameter importances"))
    p.add_argument("name", help="study name")
    p.add_argument("--storage", help=storage_help)
    p.add_argument("--importances", action="store_true",
                   help="also compute parameter importances (fANOVA, on at most 1,000 complete trials drawn at random)")
    p.add_argument("--json", action="store_true", help="a JSON object")
    p.set_defaults(func=cmd_study_show)
