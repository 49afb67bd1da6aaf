"""Samplers and pruners compared on the bundled intents dataset (docs/BENCHMARKS.md, "Studies").

Each study searches the same four protonet hyper-parameters for a given number of trials
(30 by default), on the same base run, with a fixed training seed, so a trial's value is
a function of its parameters only. Reported: the best meta-val accuracy each sampler
reached (and after how many trials), and the wall time of TPE with the median pruner
against TPE with no pruner.

The default model is a tiny random BERT (2 layers, hidden size 32, the bundled
tokenizer) trained from scratch, so that 150 trials fit in well under an hour on 2 busy CPU cores;
``--model bundled:all-MiniLM-L6-v2`` runs the same search on the real bundled encoder.

    python benchmarks/study_samplers.py --trials 30 --seeds 0 1 --out /tmp/study-bench
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPACE = """
"method.params.lr" = { low = 1e-5, high = 1e-1, log = true }
"method.params.temperature" = { low = 1.0, high = 100.0, log = true }
"method.params.weight_decay" = { low = 0.0, high = 0.3 }
"method.params.warmup_fraction" = { low = 0.0, high = 0.5 }
"""

BASE = """\
name = "bench"
[task]
mode = "episodic"
n_way = 5
k_shot = 5
query = 5
test_episodes = {test_episodes}
val_episodes = {val_episodes}
[model]
name = "{model}"
max_length = 16
[method]
name = "protonet"
[method.params]
train_query = 5
[train]
episodes = {episodes}
eval_every = {eval_every}
device = "cpu"
seed = 0
"""


def tiny_model(folder: Path) -> Path:
    import transformers

    from engine.models.loading import bundled_model_dir

    if (folder / "config.json").exists():
        return folder
    source = bundled_model_dir("all-MiniLM-L6-v2")
    tokenizer = transformers.AutoTokenizer.from_pretrained(source)
    transformers.set_seed(0)
    config = transformers.BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=len(tokenizer)
    )
    transformers.BertModel(config).save_pretrained(folder, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(source / name, folder / name)
    return folder


def run_one(out: Path, name: str, sampler: str, pruner: str, seed: int, trials: int) -> dict:
    from engine.study import run_study, show_study
    from engine.training.runner import StopFlag

    path = out / f"{name}.toml"
    path.write_text(
        f'[study]\nname = "{name}"\nbase = "base.toml"\nsampler = "{sampler}"\npruner = "{pruner}"\n'
        f'n_trials = {trials}\nseed = {seed}\nstorage = "journal:studies.journal"\n[study.space]\n{SPACE}',
        encoding="utf-8",
    )
    started = time.monotonic()
    run_study(path, db_path=out / "runs.db", stop=StopFlag(), report=lambda row: print(f"  {name} trial {row['number']}: {row['state']} {row['value']}", flush=True))
    wall = time.monotonic() - started
    shown = show_study(name, f"journal:{out / 'studies.journal'}")
    values = [t["value"] if t["state"] == "complete" else None for t in shown["trials"]]
    best_so_far, best, first_best = [], None, None
    for i, v in enumerate(values):
        if v is not None and (best is None or v > best):
            best, first_best = v, i
        best_so_far.append(best)
    return {
        "name": name, "sampler": sampler, "pruner": pruner, "seed": seed, "trials": len(values),
        "best_value": shown["best_value"], "best_params": shown["best_params"], "best_at_trial": first_best,
        "best_after_10": best_so_far[min(9, len(values) - 1)], "wall_seconds": wall,
        "mean_value": statistics.mean(v for v in values if v is not None),
        "pruned": shown["counts"].get("pruned", 0), "failed": shown["counts"].get("fail", 0),
        "importances": shown["importances"],
        # load on a shared machine moves wall time; episodes trained do not
        "episodes_trained": sum(t["last_step"] or 0 for t in shown["trials"]),
        "trial_seconds": sum(t["duration_seconds"] or 0.0 for t in shown["trials"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--samplers", nargs="+", default=["random", "tpe", "cmaes", "nsga2"])
    parser.add_argument("--model", default="tiny", help="'tiny' (a random 2-layer BERT) or any model.name")
    parser.add_argument("--episodes", type=int, default=15)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--val-episodes", type=int, default=10)
    parser.add_argument("--test-episodes", type=int, default=1, help="meta-test is not the objective; keep it short")
    parser.add_argument("--no-pruner-study", action="store_true", help="skip TPE + median (the pruner comparison)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/metalab-study-bench"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    args.out.mkdir(parents=True, exist_ok=True)
    model = str(tiny_model(args.out / "tiny-bert")) if args.model == "tiny" else args.model
    (args.out / "base.toml").write_text(
        BASE.format(model=model, episodes=args.episodes, eval_every=args.eval_every, val_episodes=args.val_episodes, test_episodes=args.test_episodes), encoding="utf-8"
    )
    results = []
    for seed in args.seeds:
        for sampler in args.samplers:
            results.append(run_one(args.out, f"{sampler}-none-s{seed}", sampler, "none", seed, args.trials))
            (args.out / "results.json").write_text(json.dumps(results, indent=2))
        if not args.no_pruner_study:
            results.append(run_one(args.out, f"tpe-median-s{seed}", "tpe", "median", seed, args.trials))
            (args.out / "results.json").write_text(json.dumps(results, indent=2))

    print("\n| study | sampler | pruner | seed | trials | best val acc | best at trial | best after 10 | mean of complete trials | pruned | episodes trained | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['name']} | {r['sampler']} | {r['pruner']} | {r['seed']} | {r['trials']} | {r['best_value']:.4f} | "
            f"{r['best_at_trial']} | {r['best_after_10']:.4f} | {r['mean_value']:.4f} | {r['pruned']} | {r['episodes_trained']} | {r['wall_seconds']:.0f} |"
        )
    by_sampler: dict[str, list[float]] = {}
    for r in results:
        if r["pruner"] == "none":
            by_sampler.setdefault(r["sampler"], []).append(r["best_value"])
    print("\nmean best over seeds: " + ", ".join(f"{k} {statistics.mean(v):.4f}" for k, v in by_sampler.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
