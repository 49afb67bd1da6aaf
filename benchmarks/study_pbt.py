"""Population-based training against random search and TPE at equal training episodes
(docs/BENCHMARKS.md, "Population-based training").

Every contender trains the same total number of episodes: PBT a population of P members
for E episodes each; random search and TPE P trials of E episodes each. Same base run,
same space (protonet's learning rate and temperature, as in ``study_samplers.py``), the
tiny random BERT by default. Reported per seed: the final val accuracy of the best
member / best trial and its meta-test accuracy (never the objective).

    python benchmarks/study_pbt.py --seeds 0 1 2 --population 8 --episodes 60 --ready-every 15
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from study_samplers import BASE, tiny_model  # noqa: E402

SPACE = """
"method.params.lr" = { low = 1e-5, high = 1e-1, log = true }
"method.params.temperature" = { low = 1.0, high = 100.0, log = true }
"""


def contender(out: Path, name: str, sampler: str, seed: int, args: argparse.Namespace) -> dict:
    from engine.store import Store
    from engine.study import run_study, show_study
    from engine.training.runner import StopFlag

    options = (
        f"sampler_options = {{ population = {args.population}, ready_every = {args.ready_every}, workers = {args.workers} }}\n"
        if sampler == "pbt" else f"n_trials = {args.population}\n"
    )
    options += (
        f"sampler_options = {{ n_startup_trials = {max(1, args.population // 3)} }}\n" if sampler == "tpe" else ""
    )
    path = out / f"{name}.toml"
    path.write_text(
        f'[study]\nname = "{name}"\nbase = "base.toml"\nsampler = "{sampler}"\npruner = "none"\nseed = {seed}\n'
        f'storage = "journal:studies.journal"\n{options}[study.space]\n{SPACE}',
        encoding="utf-8",
    )
    started = time.monotonic()
    run_study(path, db_path=out / "runs.db", stop=StopFlag())
    wall = time.monotonic() - started
    shown = show_study(name, f"journal:{out / 'studies.journal'}")
    with Store(out / "runs.db") as store:
        best = store.get_run(shown["best_run_id"])
        runs = store.list_runs(study=name)
    trained = sum(int((r.get("final_metrics") or {}).get("train_episodes") or 0) for r in runs if r["status"] == "finished")
    return {
        "name": name, "sampler": sampler, "seed": seed, "best_val": shown["best_value"],
        "best_test": best["final_metrics"].get("test_accuracy"), "best_params": shown["best_params"],
        "exploits": len((shown.get("population") or {}).get("events", [])), "wall_seconds": wall,
        "schedule": (shown.get("population") or {}).get("best_schedule"), "finished_runs_episodes": trained,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--ready-every", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2, help="PBT processes (the others run one trial at a time)")
    parser.add_argument("--val-episodes", type=int, default=30)
    parser.add_argument("--test-episodes", type=int, default=100)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--out", type=Path, default=Path("/tmp/metalab-pbt-bench"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = str(tiny_model(args.out / "tiny-bert")) if args.model == "tiny" else args.model
    (args.out / "base.toml").write_text(
        BASE.format(model=model, episodes=args.episodes, eval_every=args.ready_every, val_episodes=args.val_episodes,
                    test_episodes=args.test_episodes), encoding="utf-8")
    results = []
    for seed in args.seeds:
        for sampler in ("pbt", "random", "tpe"):
            results.append(contender(args.out, f"{sampler}-s{seed}", sampler, seed, args))
            (args.out / "results.json").write_text(json.dumps(results, indent=2))
            r = results[-1]
            print(f"{r['name']}: best val {r['best_val']:.4f}, its test {r['best_test']:.4f}, {r['wall_seconds']:.0f} s", flush=True)
    print("\n| seed | contender | best final val acc | its meta-test acc | exploits | wall s |\n|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['seed']} | {r['sampler']} | {r['best_val']:.4f} | {r['best_test']:.4f} | {r['exploits']} | {r['wall_seconds']:.0f} |")
    for sampler in ("pbt", "random", "tpe"):
        vals = [r["best_val"] for r in results if r["sampler"] == sampler]
        tests = [r["best_test"] for r in results if r["sampler"] == sampler]
        print(f"{sampler}: mean best val {statistics.mean(vals):.4f}, mean test {statistics.mean(tests):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
