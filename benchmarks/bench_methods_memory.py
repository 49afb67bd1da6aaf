"""Peak resident memory (RSS) of one meta-training step, each case in a fresh process.

    python benchmarks/bench_methods_memory.py            # all cases, one process each
    python benchmarks/bench_methods_memory.py --case maml_all

Bundled MiniLM, 5-way 5-shot, 15 queries, max_length 64, CPU, eager attention.
The baseline of a fresh process (model loaded, nothing run) is reported too.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COMMON = {"train_query": 15, "meta_batch_size": 1, "head_init": "proto"}
CASES = {
    "loaded": ("protonet", {"train_query": 15}, 0),
    "finetune_step": ("finetune", {"batch_size": 100}, 1),
    "maml_all": ("maml", {**COMMON, "scope": "all", "inner_steps": 1}, 1),
    "fomaml_all": ("fomaml", {**COMMON, "scope": "all", "inner_steps": 1}, 1),
    "maml_lora": ("maml", {**COMMON, "scope": "lora", "inner_steps": 1}, 1),
    "maml_all_2steps": ("maml", {**COMMON, "scope": "all", "inner_steps": 2}, 1),
    "maml_all_2steps_ckpt": ("maml", {**COMMON, "scope": "all", "inner_steps": 2, "gradient_checkpointing": "on"}, 1),
}


def run_case(name: str) -> dict:
    import torch

    from benchmarks._common import build

    torch.set_num_threads(2)
    method, params, steps = CASES[name]
    m, _ = build(method, params)
    for step in range(1, steps + 1):
        m.train_step(step)
    return {"case": name, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    results = {}
    for name in CASES:
        out = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True, text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"]
        print(name, round(results[name]), "MB", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
