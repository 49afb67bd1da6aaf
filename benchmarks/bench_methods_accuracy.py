"""Meta-test accuracy of every method next to frozen-encoder references, on the same episodes.

    python benchmarks/bench_methods_accuracy.py --shots 1,5 --train-episodes 20 --test-episodes 20 --setfit-episodes 10

Every method trains through the runner (``run_experiment``) on the bundled intents data and
MiniLM, then is scored on the meta-test episodes; the references (frozen nearest class
mean, frozen logistic regression, SetFit fine-tuned per episode) are computed on the very
same episodes (the test sampler is a pure function of data, split seed, N, K, Q).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks._common import build, config  # noqa: E402
from engine.methods._base import class_means, episode_tensors  # noqa: E402
from engine.methods.finetune import fit_logreg  # noqa: E402
from engine.methods.protonet import prototype_logits  # noqa: E402
from engine.stats import mean_ci  # noqa: E402
from engine.training.runner import run_experiment  # noqa: E402

METHODS = {
    "protonet": {"lr": 3e-5},
    "finetune": {"lr": 3e-5},
    "maml": {"scope": "head", "meta_batch_size": 2},
    "fomaml": {"scope": "head", "meta_batch_size": 2},
    "anil": {"meta_batch_size": 2},
    "metasgd": {"scope": "head", "meta_batch_size": 2},
    "reptile": {"scope": "top_k_layers", "top_k": 1, "inner_steps": 1, "meta_batch_size": 1},
}


def references(k_shot: int, test_episodes: int, setfit_episodes: int) -> dict:
    method, data = build("protonet", {"train_query": 15}, attn=None, k_shot=k_shot)
    episodes = list(data.test_sampler.episodes(test_episodes))
    rows = sorted({r for ep in episodes for r in (*ep.support, *ep.query)})
    method.begin_eval(rows)
    ncm, logreg = [], []
    for ep in episodes:
        y_s, y_q = episode_tensors(ep, method.device)
        s, q = method.cached_embeddings(ep.support), method.cached_embeddings(ep.query)
        logits = prototype_logits(q, class_means(s, y_s, 5), distance="cosine", temperature=10.0)
        ncm.append(float((logits.argmax(1) == y_q).float().mean()))
        logits = fit_logreg(s, y_s, q, 5, steps=100)
        logreg.append(float((logits.argmax(1) == y_q).float().mean()))
    out = {"frozen_ncm": mean_ci(ncm), "frozen_logreg": mean_ci(logreg), "ncm_first": mean_ci(ncm[:setfit_episodes])}
    if setfit_episodes:
        out["setfit"] = setfit(data, episodes[:setfit_episodes])
    return out


def setfit(data, episodes) -> tuple[float, float] | str:
    try:
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
    except ImportError as exc:  # not a dependency: installed only for this benchmark
        return f"not installed ({exc})"
    from engine.models.loading import bundled_model_dir

    texts = data.dataset.texts
    accs = []
    for ep in episodes:
        model = SetFitModel.from_pretrained(str(bundled_model_dir("all-MiniLM-L6-v2")))
        train = Dataset.from_dict({"text": [texts[r] for r in ep.support], "label": list(ep.support_labels)})
        with tempfile.TemporaryDirectory() as scratch:  # the Trainer's checkpoints stay out of the repo
            args = TrainingArguments(
                output_dir=scratch, save_strategy="no", batch_size=16, num_epochs=1, num_iterations=5, seed=0, show_progress_bar=False
            )
            Trainer(model=model, args=args, train_dataset=train).train()
        predicted = model.predict([texts[r] for r in ep.query])
        accs.append(float((torch.as_tensor(predicted) == torch.tensor(ep.query_labels)).float().mean()))
    return mean_ci(accs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", default="1,5")
    parser.add_argument("--train-episodes", type=int, default=20)
    parser.add_argument("--test-episodes", type=int, default=20)
    parser.add_argument("--setfit-episodes", type=int, default=10)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated; empty for references only")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results: dict = {}
    db = Path(tempfile.mkdtemp()) / "bench.db"
    for k_shot in [int(k) for k in args.shots.split(",")]:
        row: dict = {}
        start = time.time()
        row.update(references(k_shot, args.test_episodes, args.setfit_episodes))
        print(k_shot, "references", row, f"{time.time() - start:.0f}s", flush=True)
        for name in [n for n in args.methods.split(",") if n]:
            start = time.time()
            cfg = config(name, {**METHODS[name], **({"train_query": 5} if name != "finetune" else {})}, k_shot=k_shot,
                         episodes=args.train_episodes, eval_every=0)
            cfg = type(cfg).from_dict(cfg.to_dict() | {"task": cfg.to_dict()["task"] | {"test_episodes": args.test_episodes}})
            outcome = run_experiment(cfg, db_path=db)
            final = outcome.final_metrics
            row[name] = (final["test_accuracy"], final["test_accuracy_ci95"])
            print(k_shot, name, row[name], f"{time.time() - start:.0f}s", flush=True)
        results[f"5way{k_shot}shot"] = row
    print(json.dumps(results))


if __name__ == "__main__":
    main()
