"""Decoder meta-learning: speed and peak memory of MAML with the LoRA scope, first-order
MAML (LoRA) and plain causal-LM fine-tuning on the same data, one fresh process per method.
It also reports the held-out perplexity before and after training on the same paired test
episodes.

CPU (the default): the tiny random decoder ``bundled:tiny-gpt2`` and the bundled
12-domain corpus; peak memory is the process's maximum resident set (``ru_maxrss``).

    nice -n 19 env OMP_NUM_THREADS=1 python benchmarks/bench_decoder.py [--episodes 10]

CUDA (for those who have a GPU; none was lent when this was written): peak memory is
``torch.cuda.max_memory_allocated``. bf16 autocast and gradient checkpointing are on by the
decoder defaults (``--compute off`` turns both off, to see what they buy):

    python benchmarks/bench_decoder.py --device cuda --model gpt2 --max-length 256 --episodes 50
    python benchmarks/bench_decoder.py --device cuda --model Qwen/Qwen2.5-0.5B --max-length 256 --episodes 50

Same batches: MAML and first-order MAML train on the identical stream of episodes (same
seed, same sampler: ``meta_batch_size`` episodes of K support + Q query documents per step).
Fine-tuning trains on the very same documents, step by step: here its batch is the
documents of the episodes MAML sees at that step (``same_documents``; in a normal run it
draws ``batch_size`` documents at random). Every run is scored on the same test episodes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

K_SHOT, QUERY, META_BATCH = 4, 4, 2
LORA = {"scope": "lora", "lr": 3e-3, "inner_lr": 0.05, "head_inner_lr": 0.5, "meta_batch_size": META_BATCH, "train_query": QUERY}
CASES = {
    "maml-lora": ("maml", LORA),
    "fomaml-lora": ("fomaml", LORA),
    "finetune": ("finetune", {"lr": 3e-3, "batch_size": META_BATCH * (K_SHOT + QUERY)}),
}


def same_documents() -> None:
    """Fine-tuning's step ``s`` trains on the documents of MAML's episodes at step ``s``: its
    batch_size is their number, so its random pick takes them all (in another order)."""
    from engine.methods.finetune import FineTune

    original = FineTune.train_step

    def train_step(self, step: int) -> dict[str, float]:
        first = (step - 1) * META_BATCH
        episodes = [self.data.train_sampler.episode(first + j) for j in range(META_BATCH)]
        every_row, self.data.train_rows = self.data.train_rows, [r for e in episodes for r in (*e.support, *e.query)]
        try:
            return original(self, step)
        finally:
            self.data.train_rows = every_row

    FineTune.train_step = train_step


def one(case: str, args: argparse.Namespace, db: Path) -> dict:
    from engine.config import RunConfig
    from engine.training.runner import run_experiment

    method, params = CASES[case]
    params = dict(params)
    if method == "finetune":
        same_documents()
    if args.compute == "off":
        params.update(bf16="off", gradient_checkpointing="off")
    raw = {
        "name": f"bench-decoder-{case}",
        "dataset": {"path": "bundled:domains", "text_column": "text", "label_column": "domain"},
        "task": {"type": "language_modeling", "k_shot": K_SHOT, "query": QUERY, "test_episodes": args.test_episodes,
                 "val_episodes": 2, "meta_test_fraction": 0.25},
        "model": {"name": args.model, "max_length": args.max_length, "quantize": args.quantize},
        "method": {"name": method, "params": params},
        "train": {"episodes": args.episodes, "eval_every": 0, "device": args.device, "seed": 0, "eval_untrained": True},
    }
    if args.device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()
    final = run_experiment(RunConfig.from_dict(raw), db_path=db).final_metrics
    if args.device == "cuda":
        import torch

        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "case": case,
        "episodes_per_second": final["train_episodes"] / final["train_seconds"],
        "train_seconds": final["train_seconds"],
        "peak_mib": peak,
        "untrained_test_perplexity": final["untrained_test_perplexity"],
        "test_perplexity": final["test_perplexity"],
    }


def table(rows: list[dict], device: str) -> str:
    base = next((r for r in rows if r["case"] == "finetune"), None)
    memory = "peak GPU memory" if device == "cuda" else "peak RSS"
    lines = [f"| method | steps/s | x finetune | {memory} | x finetune | held-out perplexity, untrained -> trained |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        speed = r["episodes_per_second"] / base["episodes_per_second"] if base else float("nan")
        mem = r["peak_mib"] / base["peak_mib"] if base else float("nan")
        lines.append(f"| {r['case']} | {r['episodes_per_second']:.3f} | {speed:.2f} | {r['peak_mib']:.0f} MiB | {mem:.2f} | "
                     f"{r['untrained_test_perplexity']:,.0f} -> {r['test_perplexity']:,.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=10, help="training steps (outer steps / optimizer steps)")
    parser.add_argument("--test-episodes", type=int, default=20)
    parser.add_argument("--model", default="bundled:tiny-gpt2")
    parser.add_argument("--max-length", type=int, default=48)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--compute", choices=("auto", "off"), default="auto", help="bf16 / gradient checkpointing: the defaults, or both off")
    parser.add_argument("--quantize", choices=("none", "8bit", "4bit"), default="none",
                        help="8/4-bit base weights (CUDA, pip install 'metalab[bnb]'); finetune trains every weight, so it is skipped")
    parser.add_argument("--case", choices=sorted(CASES), help="run one case in this process (the parent runs each in its own)")
    args = parser.parse_args()
    if args.case:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(one(args.case, args, Path(tmp) / "runs.db")))
        return
    rows = []
    for case in CASES:
        if args.quantize != "none" and case == "finetune":
            continue
        command = [sys.executable, __file__, "--case", case, "--episodes", str(args.episodes), "--test-episodes",
                   str(args.test_episodes), "--model", args.model, "--max-length", str(args.max_length), "--device", args.device,
                   "--compute", args.compute, "--quantize", args.quantize]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    print(table(rows, args.device))


if __name__ == "__main__":
    main()
