"""The frozen encoder's NCM and logistic regression on the bundled datasets' meta-test episodes.

    OMP_NUM_THREADS=1 python benchmarks/dataset_baselines.py --datasets banking_support,intents --splits 0,1,2

The episodes are the engine's own (``build_task_data(...).test_sampler``, as every run of a
default config with that ``task.split_seed`` is tested on); the scores are
``engine.baseline``'s, as ``metalab-engine baseline`` gives. Each dataset is embedded once
(the encoder is frozen), so the table takes a minute, not one embedding pass per cell.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="banking_support,intents")
    parser.add_argument("--splits", default="0,1,2")
    parser.add_argument("--shots", default="1,5")
    parser.add_argument("--episodes", type=int, default=200)
    args = parser.parse_args()

    import torch

    from engine.baseline import embed_rows, score_episodes
    from engine.config import RunConfig
    from engine.models.encoder import load_encoder
    from engine.stats import mean_ci
    from engine.tasks import build_task_data

    torch.set_num_threads(1)
    encoder = load_encoder("bundled:all-MiniLM-L6-v2", max_length=64)
    print("| dataset | split seed | shots | NCM | logistic regression |\n|---|---|---|---|---|")
    for name in args.datasets.split(","):
        embeddings = None
        for split in (int(s) for s in args.splits.split(",")):
            for shots in (int(k) for k in args.shots.split(",")):
                config = RunConfig.from_dict({"dataset": {"path": f"bundled:{name}"},
                                              "task": {"k_shot": shots, "split_seed": split, "test_episodes": args.episodes}})
                data = build_task_data(config)
                if embeddings is None:
                    embeddings = embed_rows(encoder, data.dataset.texts, range(len(data.dataset.texts)))
                scores = score_episodes(embeddings, list(data.test_sampler.episodes(args.episodes)), data.n_way)
                cells = ["{:.3f} ± {:.3f}".format(*mean_ci(scores[ref])) for ref in ("ncm", "logreg")]
                print(f"| {name} | {split} | {shots} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
