"""Few-shot NER: entity micro-F1 of every method that serves token classification, next to
the frozen encoder's token prototypes on the same episodes; and the seconds of one NER
episode against one classification episode of the same N, K and Q.

    nice -n 19 python benchmarks/bench_ner.py accuracy --shots 1,5 --train-episodes 60 \
        --test-episodes 200 --out benchmarks/results/ner_accuracy.json
    python benchmarks/bench_ner.py accuracy --report --out benchmarks/results/ner_accuracy.json
    nice -n 19 python benchmarks/bench_ner.py speed --repeat 5 --threads 2

Accuracy: every method trains through the runner (``run_experiment``) on the bundled
``entities`` data (5-way, held-out entity types, ``meta_test_fraction`` 0.5) with MiniLM,
and is scored on the meta-test episodes, which are a pure function of data, split seed,
N, K and Q: every contender meets the very same 200 episodes. The reference, "frozen
token prototypes", is the protonet run's untrained evaluation (``train.eval_untrained``):
cosine similarity of each query word to the mean of the support words of each type and
of ``O``, with the encoder as downloaded. Per-episode F1 goes to ``--out`` as measured,
one entry per (shots, contender); contenders already there are skipped, so a long run
can be split or resumed. ``--report`` prints the Markdown table (mean ± 95% CI, and the
paired difference against the frozen reference).

Speed: one protonet training step (forward, backward, optimizer step) and one meta-test
episode (no gradient) on NER episodes and on classification episodes of the same N-way
K-shot Q-query, interleaved after a warm-up; medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._results import fmt_ci, fmt_diff, load, save  # noqa: E402

# Meta-learning settings per method (the rest are the method's defaults). MAML-family
# methods adapt the token head and the top layer in the inner loop.
METHODS = {
    "protonet": {"lr": 3e-5},
    "nnshot": {"lr": 3e-5},
    "finetune": {"lr": 3e-5},
    "maml": {"scope": "top_k_layers", "top_k": 1},
    "fomaml": {"scope": "top_k_layers", "top_k": 1},
    "anil": {},
    "metasgd": {"scope": "top_k_layers", "top_k": 1},
    "reptile": {"scope": "top_k_layers", "top_k": 1},
}
DEVICE = os.environ.get("METALAB_BENCH_DEVICE", "cpu")  # as the other method benchmarks
REFERENCE = "frozen_prototypes"
LABELS = {REFERENCE: "frozen token prototypes"}
N_WAY, QUERY = 5, 5


def run_config(method: str, params: dict, *, task_type: str, k_shot: int, episodes: int, test_episodes: int,
               eval_untrained: bool = False):
    from engine.config import RunConfig

    dataset = {"path": "bundled:entities"} if task_type == "token_classification" else {
        "path": "bundled:intents", "text_column": "text", "label_column": "label"}
    return RunConfig.from_dict({
        "name": f"bench-ner-{method}",
        "dataset": dataset,
        "task": {"type": task_type, "mode": "episodic", "n_way": N_WAY, "k_shot": k_shot, "query": QUERY,
                 "test_episodes": test_episodes, "meta_test_fraction": 0.5},
        "model": {"name": "bundled:all-MiniLM-L6-v2", "max_length": 64},
        "method": {"name": method, "params": params},
        "train": {"episodes": episodes, "eval_every": 0, "device": DEVICE, "seed": 0, "eval_untrained": eval_untrained},
    })


# --- accuracy ---------------------------------------------------------------------------

def meta_trained(name: str, k_shot: int, train_episodes: int, test_episodes: int, db: Path) -> dict[str, list[float]]:
    """Per-episode test F1 of the method (and of the frozen reference, from protonet's untrained pass)."""
    from engine.store import Store
    from engine.training.runner import run_experiment

    with_reference = name == "protonet"
    cfg = run_config(name, dict(METHODS[name]), task_type="token_classification", k_shot=k_shot,
                     episodes=train_episodes, test_episodes=test_episodes, eval_untrained=with_reference)
    outcome = run_experiment(cfg, db_path=db)
    with Store(db) as store:
        out = {name: [row["f1"] for row in store.episodes(outcome.run_id)]}
        if with_reference:
            out[REFERENCE] = [row["f1"] for row in store.episodes(outcome.run_id, split="untrained")]
    return out


def report(results: dict) -> str:
    lines = []
    for setting, row in results.items():
        n = sorted({len(v) for v in row.values()})
        lines += [f"#### {setting} ({', '.join(map(str, n))} paired episodes)", ""]
        lines += ["| contender | entity F1 (mean ± 95% CI) | vs frozen token prototypes (paired) |", "|---|---|---|"]
        for name in [REFERENCE, *METHODS]:
            if name in row:
                label = LABELS.get(name, f"`{name}`")
                diff = "" if name == REFERENCE else fmt_diff(row.get(REFERENCE), row[name])
                lines.append(f"| {label} | {fmt_ci(row[name])} | {diff} |")
        lines.append("")
    return "\n".join(lines)


def accuracy(args: argparse.Namespace) -> None:
    results = load(args.out)
    if args.report:
        print(report(results))
        return
    import torch

    torch.set_num_threads(args.threads)
    db = Path(tempfile.mkdtemp(prefix="bench-ner-")) / "bench.db"
    wanted = [m for m in args.methods.split(",") if m]
    if REFERENCE not in wanted and "protonet" in wanted:
        wanted.append(REFERENCE)
    for k_shot in [int(k) for k in args.shots.split(",")]:
        row = results.setdefault(f"5-way {k_shot}-shot", {})
        for name in wanted:
            if name == REFERENCE or (name in row and len(row[name]) == args.test_episodes):
                continue
            start = time.time()
            row.update(meta_trained(name, k_shot, args.train_episodes, args.test_episodes, db))
            save(args.out, results)
            print(k_shot, name, fmt_ci(row[name]), f"{time.time() - start:.0f}s", flush=True)
    print(report(results))


# --- speed ------------------------------------------------------------------------------

def build(task_type: str, k_shot: int):
    import torch

    from engine import methods
    from engine.catalog import get
    from engine.tasks import build_task_data

    cfg = run_config("protonet", {"lr": 3e-5, "train_query": QUERY}, task_type=task_type, k_shot=k_shot,
                     episodes=100, test_episodes=20)
    cls = methods.load("protonet")
    values = get("protonet").validate_params(dict(cfg.method.params))
    data = build_task_data(cfg, train_query=cls.train_query(cls.bind(values)))
    encoder = methods.build_run_model(cfg)
    method = cls(encoder, values, data, device=torch.device(DEVICE), seed=0, total_steps=100)
    method.setup()
    return method, data


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def speed(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    out: dict = {"threads": args.threads, "repeat": args.repeat, "n_way": N_WAY, "query": QUERY}
    for k_shot in [int(k) for k in args.shots.split(",")]:
        built = {kind: build(kind, k_shot) for kind in ("classification", "token_classification")}
        times: dict[str, dict[str, list[float]]] = {kind: {"train": [], "test": []} for kind in built}
        sizes: dict[str, list[int]] = {kind: [] for kind in built}
        for i in range(args.repeat + 1):
            order = list(built) if i % 2 == 0 else list(built)[::-1]  # a busy machine slows both alike
            for kind in order:
                method, data = built[kind]
                episode = data.test_sampler.episode(i)
                sizes[kind].append(len(episode.support) + len(episode.query))
                train = timed(lambda: method.train_step(i + 1))
                with torch.no_grad():
                    test = timed(lambda: method.predict(episode))
                if i:  # the first is a warm-up
                    times[kind]["train"].append(train)
                    times[kind]["test"].append(test)
        row = {}
        for kind in built:
            row[kind] = {
                "train_step_s": statistics.median(times[kind]["train"]),
                "test_episode_s": statistics.median(times[kind]["test"]),
                "sentences_per_episode": statistics.mean(sizes[kind]),
            }
        out[f"5-way {k_shot}-shot"] = row
        print(k_shot, json.dumps(row), flush=True)
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    acc = sub.add_parser("accuracy", help="entity F1 on 200 paired meta-test episodes")
    acc.add_argument("--shots", default="1,5")
    acc.add_argument("--train-episodes", type=int, default=60)
    acc.add_argument("--test-episodes", type=int, default=200)
    acc.add_argument("--methods", default=",".join(METHODS))
    acc.add_argument("--threads", type=int, default=2)
    acc.add_argument("--out", type=Path, default=Path("benchmarks/results/ner_accuracy.json"))
    acc.add_argument("--report", action="store_true", help="print the table from --out and exit")
    spd = sub.add_parser("speed", help="one NER episode against one classification episode of the same size")
    spd.add_argument("--shots", default="1,5")
    spd.add_argument("--repeat", type=int, default=5)
    spd.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    accuracy(args) if args.what == "accuracy" else speed(args)


if __name__ == "__main__":
    main()
