"""``run``, ``resume``, ``fork`` and ``validate``: one experiment, from a config or a checkpoint."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.cli._output import (
    EXIT_INTERRUPTED, EXIT_OK, db_path, overrides, print_json, route_library_output_to_stderr, with_db, with_set,
)
from engine.errors import UserError


def load_config(args: argparse.Namespace) -> Any:
    """The run config from ``args.config`` with the ``--set`` keys applied."""
    from engine.config import RunConfig

    config = RunConfig.load(args.config)
    changed = overrides(args)
    return config.with_values(changed) if changed else config


def cmd_run(args: argparse.Namespace) -> int:
    config = load_config(args)
    from engine.distributed import under_torchrun

    processes = args.nproc or config.train.devices
    if processes > 1 and not under_torchrun():
        from engine.training.launch import launch_data_parallel

        return launch_data_parallel(args, processes, device=config.train.device)
    from engine.training.runner import run_experiment

    return _train(args, lambda **kw: run_experiment(config, run_id=args.run_id, **kw))


def cmd_resume(args: argparse.Namespace) -> int:
    from engine.training.continuation import resume_run

    _refuse_under_torchrun("resume")
    return _train(args, lambda **kw: resume_run(args.id, allow_changed_data=args.allow_changed_data, **kw))


def cmd_fork(args: argparse.Namespace) -> int:
    from engine.training.continuation import fork_run

    _refuse_under_torchrun("fork")
    changed = overrides(args)
    return _train(
        args, lambda **kw: fork_run(args.id, changed, step=args.step, allow_changed_data=args.allow_changed_data, **kw)
    )


def _refuse_under_torchrun(command: str) -> None:
    from engine.distributed import under_torchrun

    if under_torchrun():
        raise UserError(f"'{command}' runs in one process: a data-parallel run cannot {command} yet")


def _train(args: argparse.Namespace, start: Any) -> int:
    """What run, resume and fork share: the events wire, graceful stop, summary, run id last."""
    from engine.training.runner import StopFlag

    if args.events:
        route_library_output_to_stderr()
    stop = StopFlag()
    stop.install()
    outcome = start(
        db_path=db_path(args), events_stream=sys.stdout if args.events else None, stop=stop,
        progress_bar=not args.events and sys.stderr.isatty(),
    )
    if outcome.status == "follower":  # a data-parallel rank other than 0: rank 0 reports
        return EXIT_OK
    if not args.events:
        _print_summary(outcome.final_metrics, outcome.status)
    print(outcome.run_id, flush=True)
    return EXIT_INTERRUPTED if outcome.status == "interrupted" else EXIT_OK


def _print_summary(final: dict[str, Any], status: str) -> None:
    if status != "finished":
        print(f"run {status}", file=sys.stderr)
        return
    # The task's headline metric: test_accuracy for classification, test_f1 (entity F1) for NER,
    # test_perplexity for language modelling (lower is better: a plain number, not a share).
    key = final.get("headline_metric", "test_accuracy")
    title = key.removeprefix("test_").replace("_", " ")
    share = final.get("headline_direction", "maximize") == "maximize"
    scale, unit, gain_unit = (100, "%", " points") if share else (1, "", "")
    value, ci = final.get(key), final.get(f"{key}_ci95")
    if value is not None:
        ci_text = f" ± {ci * scale:.2f}" if ci is not None else ""
        print(f"meta-test {title}: {value * scale:.2f}{unit}{ci_text} (95% CI, {final.get('test_episodes', '?')} episodes)")
    if final.get(f"untrained_{key}") is not None:
        print(
            f"untrained baseline: {final[f'untrained_{key}'] * scale:.2f}{unit} ± {final[f'untrained_{key}_ci95'] * scale:.2f}"
            " (same model before training, same episodes)"
        )
    if final.get("gain_over_untrained") is not None:
        print(
            f"gain from training: {final['gain_over_untrained'] * scale:+.2f}{gain_unit} ± {final['gain_over_untrained_ci95'] * scale:.2f}"
            f" (paired over the same episodes, p = {final['gain_over_untrained_p_value']:.2g}"
            + ("" if share else "; lower is better") + ")"
        )
    if final.get("train_seconds") is not None:
        print(f"training: {final['train_episodes']} episodes in {final['train_seconds']:.1f} s")


def cmd_validate(args: argparse.Namespace) -> int:
    from engine import tasks
    from engine.models.loading import check_quantization, check_weights_fit, resolve_model

    config = load_config(args)
    task = tasks.get(config.task.type)
    dataset = task.load_dataset(config)
    checks = task.check(dataset, config.task, train_query=tasks.requested_train_query(config))

    source = resolve_model(config.model.name, allow_pickle=config.model.allow_pickle)
    check_weights_fit(source, trust_remote_code=config.model.trust_remote_code)
    check_quantization(config.model.quantize, config.train.device)
    if not args.json:
        for check in checks:
            print(("ERROR " if not check.ok else "WARN  " if check.warning else "ok    ") + check.message)
    bad = next((c for c in checks if not c.ok), None)
    if bad:
        raise UserError(bad.message, source=dataset.source)
    from engine.methods import check_run_model

    # the model the method needs (a decoder for icl) and the method's fit (prompt length)
    lines = check_run_model(config, tasks.build_task_data(config, train_query=tasks.requested_train_query(config)))
    if args.json:
        print_json({"ok": True, "checks": [c.message for c in checks] + list(lines),
                    "warnings": [c.message for c in checks if c.warning]})
        return EXIT_OK
    for line in lines:
        print("ok    " + line)
    return EXIT_OK


def _with_allow_changed_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-changed-data", action="store_true",
        help="continue although the dataset or model folder changed since the run was trained (curves then mix both)",
    )


def add_commands(sub: Any) -> None:
    p = with_set(with_db(sub.add_parser("run", help="run one experiment from a TOML config")))
    p.add_argument("config", help="run configuration (TOML)")
    p.add_argument("--events", action="store_true", help="write JSON-line events on stdout (docs/EVENTS.md)")
    p.add_argument("--run-id", help="use this already-queued run row (the GUI creates it)")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="data-parallel processes (launches torchrun; default: train.devices)")
    p.set_defaults(func=cmd_run)

    p = with_db(sub.add_parser("resume", help="continue an interrupted or failed run from its newest checkpoint"))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.add_argument("--events", action="store_true", help="write JSON-line events on stdout")
    _with_allow_changed_data(p)
    p.set_defaults(func=cmd_resume)
    p = with_db(sub.add_parser("fork", help="start a new run from a checkpoint of an earlier run, with changed settings"))
    p.add_argument("id", help="the parent run's id")
    p.add_argument("--step", type=int, help="the checkpoint's step (default: the newest)")
    with_set(p, "method.params.lr=1e-5")
    p.add_argument("--events", action="store_true", help="write JSON-line events on stdout")
    _with_allow_changed_data(p)
    p.set_defaults(func=cmd_fork)

    p = with_set(sub.add_parser("validate", help="check a config, its dataset and its model path without running"))
    p.add_argument("config", help="run configuration (TOML)")
    p.add_argument("--json", action="store_true", help="on success, the passed checks as JSON (errors stay one line, exit 2)")
    p.set_defaults(func=cmd_validate)
