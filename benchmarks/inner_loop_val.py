"""A finished run's test-time settings tried on its meta-VAL episodes (never meta-test).

    OMP_NUM_THREADS=1 python benchmarks/inner_loop_val.py --db /tmp/t19-maml.db RUN_ID \\
        --try inner_steps_test=0 --try inner_steps_test=10 --try head_inner_lr=2.0,inner_steps_test=10

Each ``--try`` is a set of ``method.params`` overrides (comma-separated KEY=VALUE) applied to
the run's own trained weights; the first row is always the run's own settings, and
each row's paired difference is against it, on the same val episodes. ``--untrained`` uses
the base model instead (seeded as the run was): what the inner loop does to a frozen encoder.
Settings that change what is trained (scope, LoRA rank) cannot be tried here.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _overrides(text: str) -> dict[str, object]:
    import tomllib

    out: dict[str, object] = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value.strip()  # a bare word: a choice such as zeros
    return out


def _open(db_path: Path, run_id: str):
    """``engine.inspection.open_run``, also for a run stored before ``bf16`` and ``gradient_checkpointing`` became choices."""
    from engine.config import RunConfig
    from engine.inference import weights_dir
    from engine.inspection._loading import InspectedRun
    from engine.store import Store
    from engine.training import devices
    from engine.training.runner import prepare

    with Store(db_path, readonly=True) as store:
        row = store.get_run(store.resolve_id(run_id))
    params = row["config"]["method"]["params"]
    for name in ("bf16", "gradient_checkpointing"):  # booleans before they became auto/on/off
        if isinstance(params.get(name), bool):
            params[name] = "on" if params[name] else "off"
    config = RunConfig.from_dict(row["config"])
    data, _ = prepare(config)
    return InspectedRun(row, config, weights_dir(db_path, row["id"]), data, devices.resolve_device("cpu"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_id")
    parser.add_argument("--db", required=True)
    parser.add_argument("--episodes", type=int, default=60, help="meta-val episodes (the same for every row)")
    parser.add_argument("--try", dest="tries", action="append", default=[], help="KEY=VALUE[,KEY=VALUE...] of method.params")
    parser.add_argument("--untrained", action="store_true", help="the base model, not the run's weights")
    args = parser.parse_args()

    from engine.stats import mean_ci, paired_difference
    from engine.training.evaluation import evaluate_episodes

    run = _open(Path(args.db), args.run_id)
    base = dict(run.config.method.params)
    print(f"run {run.run['id']} ({run.config.method.name}), {'untrained' if args.untrained else 'trained'} weights, "
          f"{args.episodes} meta-val episodes")
    reference: list[float] | None = None
    for label, extra in [("run's settings", {}), *((t, _overrides(t)) for t in args.tries)]:
        started = time.perf_counter()
        method = run.method(trained=not args.untrained, params=base | extra)
        _, results = evaluate_episodes(method, run.data.val_sampler, args.episodes)
        acc = [r["accuracy"] for r in results]
        mean, ci = mean_ci(acc)
        line = f"{label:<48} val {mean:.4f} ± {ci:.4f}"
        if reference is None:
            reference = acc
        else:
            d = paired_difference(reference, acc)
            line += f"   vs run's settings {d['mean_diff']:+.4f} ± {d['ci95']:.4f} (p = {d['p_value']:.2g})"
        print(f"{line}   [{time.perf_counter() - started:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
