"""Decoder meta-learning on CPU: episodes per second and peak memory of MAML (LoRA scope),
first-order MAML (LoRA scope) and plain causal-LM fine-tuning on the same tiny decoder
(bundled:tiny-gpt2) and the bundled 12-domain corpus, with held-out perplexity before and
after training on the same paired test episodes. One fresh process per method (peak RSS).

    nice -n 19 env OMP_NUM_THREADS=1 python benchmarks/bench_lm_decoder.py [--episodes 20]

The tiny model is random: its perplexities show the machinery works, not how a real model
does. For a real decoder pass --model <HF id or folder> (network or a local copy needed).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = {
    "maml-lora": ("maml", {"scope": "lora", "lr": 3e-3, "inner_lr": 0.05, "head_inner_lr": 0.5}),
    "fomaml-lora": ("fomaml", {"scope": "lora", "lr": 3e-3, "inner_lr": 0.05, "head_inner_lr": 0.5}),
    "finetune": ("finetune", {"lr": 3e-3, "batch_size": 8}),
}


def one(case: str, episodes: int, model: str, db: Path) -> dict:
    from engine.config import RunConfig
    from engine.training.runner import run_experiment

    method, params = CASES[case]
    raw = {
        "name": f"bench-lm-{case}",
        "dataset": {"path": "bundled:domains", "text_column": "text", "label_column": "domain"},
        "task": {"type": "language_modeling", "k_shot": 4, "query": 4, "test_episodes": 20, "val_episodes": 2, "meta_test_fraction": 0.25},
        "model": {"name": model, "max_length": 48},
        "method": {"name": method, "params": params},
        "train": {"episodes": episodes, "eval_every": 0, "device": "cpu", "seed": 0, "eval_untrained": True},
    }
    final = run_experiment(RunConfig.from_dict(raw), db_path=db).final_metrics
    return {
        "case": case,
        "episodes_per_second": final["train_episodes"] / final["train_seconds"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "untrained_test_perplexity": final["untrained_test_perplexity"],
        "test_perplexity": final["test_perplexity"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--model", default="bundled:tiny-gpt2")
    parser.add_argument("--case", choices=sorted(CASES))
    args = parser.parse_args()
    if args.case:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(one(args.case, args.episodes, args.model, Path(tmp) / "runs.db")))
        return
    for case in CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--case", case, "--episodes", str(args.episodes), "--model", args.model],
            capture_output=True, text=True, check=True,
        )
        print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
