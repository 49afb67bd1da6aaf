"""Shared set-up for the method benchmarks: the bundled model, data and episodes.

``METALAB_BENCH_DEVICE=cuda`` runs them on a GPU (default: cpu); ``METALAB_BENCH_DATASET``
(default ``bundled:intents``) and ``METALAB_BENCH_SPLIT_SEED`` (default 0) choose the data.
"""

from __future__ import annotations

import os
import torch

from engine import methods
from engine.config import RunConfig
from engine.models.encoder import load_encoder
from engine.catalog import get
from engine.tasks import build_task_data

DEVICE = os.environ.get("METALAB_BENCH_DEVICE", "cpu")


DATASET = os.environ.get("METALAB_BENCH_DATASET", "bundled:intents")  # or bundled:banking_support
SPLIT_SEED = int(os.environ.get("METALAB_BENCH_SPLIT_SEED", "0"))


def config(method: str, params: dict | None = None, *, k_shot: int = 5, query: int = 15, max_length: int = 64, **train) -> RunConfig:
    return RunConfig.from_dict(
        {
            "name": f"bench-{method}",
            "dataset": {"path": DATASET, "text_column": "text", "label_column": "label"},
            "task": {"mode": "episodic", "n_way": 5, "k_shot": k_shot, "query": query, "test_episodes": 20,
                     "split_seed": SPLIT_SEED},
            "model": {"name": "bundled:all-MiniLM-L6-v2", "max_length": max_length},
            "method": {"name": method, "params": params or {}},
            "train": {"episodes": 10, "eval_every": 0, "device": DEVICE, "seed": 0} | train,
        }
    )


def build(method: str, params: dict | None = None, *, attn: str | None = "eager", **kw):
    cfg = config(method, params, **kw)
    cls = methods.load(method)
    values = get(method).validate_params(dict(cfg.method.params))
    data = build_task_data(cfg, train_query=cls.train_query(cls.bind(values)))
    encoder = load_encoder(cfg.model.name, max_length=cfg.model.max_length, attn_implementation=attn)
    m = cls(encoder, values, data, device=torch.device(DEVICE), seed=0, total_steps=100)
    m.setup()
    return m, data


