"""In-context learning against MetaICL against protonet on the bundled classification data,
on the same 200 paired meta-test episodes (the quickstart's task: bundled:intents, 5-way
1-shot, 15 queries per class). Each case is one run; per-episode accuracies are kept in
benchmarks/results/icl.json (a finished case is not rerun) and the table is printed with
paired differences against protonet on the bundled MiniLM.

    nice -n 19 env OMP_NUM_THREADS=1 python benchmarks/bench_icl.py [--decoder bundled:tiny-gpt2]

The default decoder is a tiny random GPT-2: its in-context scores are near chance and
say that the machinery works (paired episodes, prompts, calibration, meta-training), not
what in-context learning does. Pass --decoder <HF id or folder of a causal LM> for that
(network or a local copy needed), with --max-length to fit its context.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._results import fmt_ci, fmt_diff, load, save

RESULTS = Path(__file__).resolve().parent / "results" / "icl.json"
TASK = {"n_way": 5, "k_shot": 1, "query": 15, "test_episodes": 200, "val_episodes": 10, "meta_test_fraction": 0.5}
ENCODER = "bundled:all-MiniLM-L6-v2"

# (title, model: "encoder" or "decoder", method, params, training episodes)
CASES = {
    "protonet-minilm": ("protonet, MiniLM (pretrained encoder)", "encoder", "protonet", {"lr": 3e-5, "train_query": 5}, 60),
    "protonet-decoder": ("protonet, the decoder as a mean-pooled encoder", "decoder", "protonet", {"lr": 1e-3, "train_query": 5}, 200),
    "icl": ("icl, calibration none", "decoder", "icl", {"calibration": "none"}, 0),
    "icl-contextual": ("icl, contextual calibration", "decoder", "icl", {"calibration": "contextual"}, 0),
    "metaicl": ("metaicl, all weights", "decoder", "metaicl",
                {"scope": "all", "lr": 3e-3, "meta_batch_size": 2, "train_query": 2, "calibration": "none"}, 200),
}


def run_case(case: str, decoder: str, max_length: int, db: Path) -> dict:
    from engine.config import RunConfig
    from engine.store import Store
    from engine.training.runner import run_experiment

    _, kind, method, params, episodes = CASES[case]
    raw = {
        "name": f"bench-icl-{case}",
        "dataset": {"path": "bundled:intents", "text_column": "text", "label_column": "label"},
        "task": dict(TASK),
        "model": {"name": ENCODER if kind == "encoder" else decoder, "max_length": 64 if kind == "encoder" else max_length},
        "method": {"name": method, "params": params},
        "train": {"episodes": episodes, "eval_every": 0, "device": "cpu", "seed": 0},
    }
    started = time.time()
    outcome = run_experiment(RunConfig.from_dict(raw), db_path=db)
    with Store(db) as store:
        episodes_run = sorted(store.episodes(outcome.run_id, split="test"), key=lambda e: e["episode"])
        key = store.get_run(outcome.run_id)["episodes_key"]
    return {"accuracy": [e["accuracy"] for e in episodes_run], "episodes_key": key, "seconds": time.time() - started,
            "train_episodes": outcome.final_metrics["train_episodes"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decoder", default="bundled:tiny-gpt2")
    parser.add_argument("--max-length", type=int, default=256, help="the decoder's prompt budget (model.max_length)")
    parser.add_argument("--db", default="/tmp/bench-icl.db")
    args = parser.parse_args()
    results = load(RESULTS)
    for case in CASES:
        if case in results and results[case].get("decoder") in (None, args.decoder):
            continue
        print(f"running {case}...", flush=True)
        results[case] = {**run_case(case, args.decoder, args.max_length, Path(args.db)), "decoder": args.decoder}
        save(RESULTS, results)
    keys = {r["episodes_key"] for r in results.values()}
    assert len(keys) == 1, "the cases were not scored on the same episodes"
    reference = results["protonet-minilm"]["accuracy"]
    print("| case | training episodes | accuracy (200 episodes, 95% CI) | paired difference against protonet/MiniLM | run time |")
    print("|---|---|---|---|---|")
    for case, (title, *_rest) in CASES.items():
        r = results[case]
        diff = "reference" if case == "protonet-minilm" else fmt_diff(reference, r["accuracy"])
        print(f"| {title} | {r['train_episodes']} | {fmt_ci(r['accuracy'])} | {diff} | {r['seconds']:.0f} s |")


if __name__ == "__main__":
    main()
