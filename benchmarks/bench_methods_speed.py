"""Seconds per meta-training episode: ours against a `higher` reference, protonet against
its floor, vmap-batched against sequential head-only inner loops.

    python benchmarks/bench_methods_speed.py [--repeat 2] [--threads 2]

Settings (issue 3): bundled MiniLM, 5-way 5-shot, 15 queries, 1 inner step, max_length 64,
scope "all" (every weight adapted, as `higher` does), head from zeros, eager attention for
every contender. Runs are interleaved (A B A B ...) after one warm-up each, so a busy
machine slows all contenders alike; the median is reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks._common import build  # noqa: E402

PARAMS = {"scope": "all", "head_init": "zeros", "inner_steps": 1, "meta_batch_size": 1, "train_query": 15, "inner_lr": 1e-3}


class HeadModel(nn.Module):
    def __init__(self, encoder, n_way):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.hidden_size, n_way)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, ids, mask):
        return self.head(F.normalize(self.encoder(ids, mask), dim=-1))


def higher_step(method, model, episode, first_order: bool) -> None:
    """One MAML episode with `higher`: innerloop_ctx over a copy-free functional model."""
    import higher

    y_s, y_q = method.targets(episode)
    s, q = method.batch(list(episode.support)), method.batch(list(episode.query))
    inner = torch.optim.SGD(model.parameters(), lr=1e-3)
    model.zero_grad(set_to_none=True)
    with higher.innerloop_ctx(model, inner, copy_initial_weights=False, track_higher_grads=not first_order) as (fmodel, diffopt):
        diffopt.step(F.cross_entropy(fmodel(s["input_ids"], s["attention_mask"]), y_s))
        F.cross_entropy(fmodel(q["input_ids"], q["attention_mask"]), y_q).backward()


def median(xs):
    return statistics.median(xs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--only", default="maml,protonet,vmap")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"threads": args.threads, "repeat": args.repeat}
    only = set(args.only.split(","))

    if "maml" in only:
        for order, name in ((False, "maml"), (True, "fomaml")):
            method, data = build(name, PARAMS)
            model = HeadModel(method.encoder, 5)
            episodes = [data.train_sampler.episode(i) for i in range(args.repeat + 1)]
            ours, ref = [], []
            for i, episode in enumerate(episodes):
                # alternate who goes first: the second of a pair runs on a warmed allocator and caches
                if i % 2:
                    t_ref = timed_call(lambda: higher_step(method, model, episode, order))
                    t_ours = timed_call(lambda: (method.optimizer.zero_grad(set_to_none=True), method.meta_gradient([episode])))
                else:
                    t_ours = timed_call(lambda: (method.optimizer.zero_grad(set_to_none=True), method.meta_gradient([episode])))
                    t_ref = timed_call(lambda: higher_step(method, model, episode, order))
                if i:  # the first is a warm-up
                    ours.append(t_ours)
                    ref.append(t_ref)
            results[name] = {"ours_s": median(ours), "higher_s": median(ref), "ratio": median(ours) / median(ref)}
            print(name, results[name], flush=True)

    if "protonet" in only:
        method, data = build("protonet", {"train_query": 15}, attn=None)
        episodes = [data.train_sampler.episode(i) for i in range(args.repeat + 1)]

        def floor(episode):
            rows = list(episode.support) + list(episode.query)
            method.optimizer.zero_grad(set_to_none=True)
            method.embed(rows).pow(2).mean().backward()

        ours, bare = [], []
        for i, episode in enumerate(episodes):
            t_bare = timed_call(lambda: floor(episode))
            t_ours = timed_call(lambda: method.train_step(i + 1))
            if i:
                ours.append(t_ours)
                bare.append(t_bare)
        results["protonet"] = {"ours_s": median(ours), "floor_s": median(bare), "ratio": median(ours) / median(bare)}
        print("protonet", results["protonet"], flush=True)

    if "vmap" in only:
        for name in ("anil",):
            out = {}
            for use_vmap in (True, False):
                method, _ = build(name, {"vmap_tasks": use_vmap, "meta_batch_size": 4, "inner_steps": 5, "train_query": 15}, attn=None)
                method.vmap_on_cpu = True  # measure the batched path even here (CUDA-only by default)
                times = [timed_call(lambda s=s: method.train_step(s)) for s in range(1, args.repeat + 2)][1:]
                out["vmap_s" if use_vmap else "sequential_s"] = median(times)
            out["speedup"] = out["sequential_s"] / out["vmap_s"]
            results[f"{name}_vmap"] = out
            print(name, out, flush=True)
    print(json.dumps(results))


def timed_call(fn) -> float:
    import time

    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
