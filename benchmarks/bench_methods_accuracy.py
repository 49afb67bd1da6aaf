"""Meta-test accuracy of every method next to frozen-encoder references, on the same episodes.

    python benchmarks/bench_methods_accuracy.py --shots 1,5 --train-episodes 100 --test-episodes 200 \
        --out benchmarks/results/accuracy.json

Every method trains through the runner (``run_experiment``) on the bundled intents data and
MiniLM, then is scored on the meta-test episodes; the references (frozen nearest class
mean, frozen logistic regression, SetFit fine-tuned per episode) are computed on the very
same episodes (the test sampler is a pure function of data, split seed, N, K, Q).

Per-episode accuracies go to ``--out`` as they are measured, one entry per (shots,
contender), so a long run can be split or resumed: contenders already in the file are
skipped. ``--report`` prints the Markdown table (mean ± 95% CI, and paired differences
against SetFit and frozen NCM) from that file without running anything.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._results import fmt_ci, fmt_diff, load, save  # noqa: E402

METHODS = {
    "protonet": {"lr": 3e-5},
    "finetune": {"lr": 3e-5},
    "maml": {"scope": "head", "meta_batch_size": 2},
    "fomaml": {"scope": "head", "meta_batch_size": 2},
    "anil": {"meta_batch_size": 2},
    "metasgd": {"scope": "head", "meta_batch_size": 2},
    "reptile": {"scope": "top_k_layers", "top_k": 1, "inner_steps": 1, "meta_batch_size": 1},
    # variants: the same method with the encoder's top layer or LoRA adapters adapted in the inner loop
    "maml_top1": {"method": "maml", "scope": "top_k_layers", "top_k": 1, "meta_batch_size": 2},
    "maml_lora": {"method": "maml", "scope": "lora", "meta_batch_size": 2},
}
REFERENCES = ("frozen_ncm", "frozen_logreg", "setfit")
LABELS = {"frozen_ncm": "frozen NCM", "frozen_logreg": "frozen logistic regression", "setfit": "SetFit"}


def frozen_references(k_shot: int, test_episodes: int) -> dict[str, list[float]]:
    import torch

    from benchmarks._common import build
    from engine.methods._base import class_means
    from engine.methods.finetune import fit_logreg
    from engine.methods.protonet import prototype_logits

    method, data = build("protonet", {"train_query": 15}, attn=None, k_shot=k_shot)
    episodes = list(data.test_sampler.episodes(test_episodes))
    method.begin_eval(sorted({r for ep in episodes for r in (*ep.support, *ep.query)}))
    ncm, logreg = [], []
    with torch.no_grad():
        for ep in episodes:
            y_s, y_q = method.targets(ep)
            s, q = method.cached_embeddings(ep.support), method.cached_embeddings(ep.query)
            logits = prototype_logits(q, class_means(s, y_s, 5), distance="cosine", temperature=10.0)
            ncm.append(float((logits.argmax(1) == y_q).float().mean()))
            with torch.enable_grad():
                logits = fit_logreg(s, y_s, q, 5, steps=100)
            logreg.append(float((logits.argmax(1) == y_q).float().mean()))
    return {"frozen_ncm": ncm, "frozen_logreg": logreg}


def setfit(k_shot: int, test_episodes: int) -> list[float]:
    import torch
    from datasets import Dataset  # setfit and datasets: installed only for this benchmark
    from setfit import SetFitModel, Trainer, TrainingArguments

    from benchmarks._common import config
    from engine.models.loading import bundled_model_dir
    from engine.tasks import build_task_data

    data = build_task_data(config("protonet", k_shot=k_shot))
    texts = data.dataset.texts
    accs = []
    for ep in data.test_sampler.episodes(test_episodes):
        model = SetFitModel.from_pretrained(str(bundled_model_dir("all-MiniLM-L6-v2")))
        train = Dataset.from_dict({"text": [texts[r] for r in ep.support], "label": list(ep.support_labels)})
        with tempfile.TemporaryDirectory() as scratch:  # the Trainer's checkpoints stay out of the repo
            args = TrainingArguments(
                output_dir=scratch, save_strategy="no", batch_size=16, num_epochs=1, num_iterations=5, seed=0,
                show_progress_bar=False,
            )
            Trainer(model=model, args=args, train_dataset=train).train()
        predicted = model.predict([texts[r] for r in ep.query])
        accs.append(float((torch.as_tensor(predicted) == torch.tensor(ep.query_labels)).float().mean()))
    return accs


def meta_trained(name: str, k_shot: int, train_episodes: int, test_episodes: int, db: Path) -> list[float]:
    from benchmarks._common import config
    from engine.store import Store
    from engine.training.runner import run_experiment

    params = {**METHODS[name], **({"train_query": 5} if name != "finetune" else {})}
    method = params.pop("method", name)
    cfg = config(method, params, k_shot=k_shot, episodes=train_episodes, eval_every=0)
    cfg = type(cfg).from_dict(cfg.to_dict() | {"task": cfg.to_dict()["task"] | {"test_episodes": test_episodes}})
    outcome = run_experiment(cfg, db_path=db)
    with Store(db) as store:
        return [row["accuracy"] for row in store.episodes(outcome.run_id)]


def report(results: dict) -> str:
    lines = []
    for setting, row in results.items():
        n = {len(v) for v in row.values()}
        lines += [f"#### {setting.replace('way', '-way ').replace('shot', '-shot')} ({', '.join(map(str, sorted(n)))} paired episodes)", ""]
        lines += ["| contender | accuracy (mean ± 95% CI) | vs SetFit (paired) | vs frozen NCM (paired) |", "|---|---|---|---|"]
        for name in [*REFERENCES, *METHODS]:
            if name not in row:
                continue
            label = LABELS.get(name) or (f"`{METHODS[name]['method']}` ({METHODS[name]['scope'].replace('top_k_layers', 'top layer')})"
                                         if "method" in METHODS.get(name, {}) else f"`{name}`")
            lines.append(f"| {label} | {fmt_ci(row[name])} | {fmt_diff(row.get('setfit'), row[name]) if name != 'setfit' else ''}"
                         f" | {fmt_diff(row.get('frozen_ncm'), row[name]) if name != 'frozen_ncm' else ''} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", default="1,5")
    parser.add_argument("--train-episodes", type=int, default=100)
    parser.add_argument("--test-episodes", type=int, default=200)
    parser.add_argument("--contenders", default=",".join([*REFERENCES, *[m for m in METHODS if "_" not in m]]),
                        help="comma-separated methods and references (frozen_ncm, frozen_logreg, setfit)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/accuracy.json"))
    parser.add_argument("--report", action="store_true", help="print the table from --out (and --also) and exit")
    parser.add_argument("--also", type=Path, nargs="*", default=[],
                        help="with --report: more result files (e.g. SetFit run in a second process) merged in")
    args = parser.parse_args()
    results = load(args.out)
    if args.report:
        for extra in args.also:
            for setting, row in load(extra).items():
                results.setdefault(setting, {}).update(row)
        print(report(results))
        return
    import torch

    torch.set_num_threads(args.threads)
    db = Path(tempfile.mkdtemp()) / "bench.db"
    wanted = [c for c in args.contenders.split(",") if c]
    for k_shot in [int(k) for k in args.shots.split(",")]:
        row = results.setdefault(f"5way{k_shot}shot", {})
        for name in wanted:
            if name in row and len(row[name]) == args.test_episodes:
                continue
            start = time.time()
            if name in ("frozen_ncm", "frozen_logreg"):
                row.update(frozen_references(k_shot, args.test_episodes))
            elif name == "setfit":
                row[name] = setfit(k_shot, args.test_episodes)
            else:
                row[name] = meta_trained(name, k_shot, args.train_episodes, args.test_episodes, db)
            save(args.out, results)
            print(k_shot, name, fmt_ci(row[name]), f"{time.time() - start:.0f}s", flush=True)
    print(report(results))


if __name__ == "__main__":
    main()
