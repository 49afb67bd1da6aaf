"""Data-parallel throughput: the same run on 1 and on 2 processes (docs/BENCHMARKS.md).

Episodes per second of meta-training, from the runs' own ``final_metrics``, for MAML with a
meta-batch of 4 (each rank takes 2 tasks) and supervised fine-tuning (each rank takes half
the batch), on the bundled model by default. On a 2-core CPU the two processes share the
cores that one process used with 2 threads, so expect little or no gain; the command is the
same on GPUs (``--device cuda``, one GPU per process).

    python benchmarks/bench_data_parallel.py --episodes 20
    python benchmarks/bench_data_parallel.py --device cuda --nproc 1 2 4
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
name = "dp-bench"
[dataset]
path = "bundled:intents"
[task]
mode = "{mode}"
n_way = 5
k_shot = 5
query = 5
test_episodes = 5
val_episodes = 2
[model]
name = "{model}"
max_length = 32
[method]
name = "{method}"
[method.params]
{params}
[train]
episodes = {episodes}
eval_every = 0
device = "{device}"
seed = 0
"""

CASES = {"maml": ("episodic", "meta_batch_size = 4"), "finetune": ("supervised", "batch_size = 32")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled:all-MiniLM-L6-v2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--methods", nargs="+", default=list(CASES))
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="metalab-dp-"))
    rows = []
    for method in args.methods:
        mode, params = CASES[method]
        config = out / f"{method}.toml"
        config.write_text(CONFIG.format(mode=mode, model=args.model, method=method, params=params,
                                        episodes=args.episodes, device=args.device))
        for nproc in args.nproc:
            db = out / f"{method}-{nproc}.db"
            done = subprocess.run([sys.executable, "-m", "engine", "run", str(config), "--db", str(db), "--nproc", str(nproc)],
                                  cwd=ROOT, capture_output=True, text=True)
            if done.returncode:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            shown = subprocess.run([sys.executable, "-m", "engine", "runs", "show", done.stdout.split()[-1], "--db", str(db), "--json"],
                                   cwd=ROOT, capture_output=True, text=True)
            final = json.loads(shown.stdout)["final_metrics"]
            rows.append({"method": method, "nproc": nproc, "episodes_per_second": final["episodes_per_second"],
                         "train_seconds": final["train_seconds"]})
            print(rows[-1], flush=True)
    print("\n| method | processes | steps/s | train s | vs 1 process |\n|---|---|---|---|---|")
    for r in rows:
        one = next(x for x in rows if x["method"] == r["method"] and x["nproc"] == 1)
        print(f"| {r['method']} | {r['nproc']} | {r['episodes_per_second']:.3f} | {r['train_seconds']:.1f} | "
              f"{r['episodes_per_second'] / one['episodes_per_second']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
