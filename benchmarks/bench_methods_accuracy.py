"""Meta-test accuracy of every method next to frozen-encoder references, on the same episodes.

    python benchmarks/bench_methods_accuracy.py --shots 1,5 --train-episodes 30 --test-episodes 200 \
        --out benchmarks/results/accuracy.json

Every method trains once through the runner (``run_experiment``) at 5-way ``--train-shot``
shots (default 5) with its catalog defaults, on ``METALAB_BENCH_DATASET`` (default the
bundled intents data) and MiniLM; the trained weights are then scored on the meta-test
episodes of every shot count in ``--shots``. The references (frozen nearest class mean,
frozen logistic regression, SetFit fine-tuned per episode) are computed on the very same
episodes (the test sampler is a pure function of data, split seed, N, K, Q).

Per-episode accuracies go to ``--out`` as they are measured, one entry per (shots,
contender), so a long run can be split or resumed: contenders already in the file are
skipped. ``--report`` prints the Markdown table (mean ± 95% CI, and paired differences
against SetFit and frozen NCM) from that file without running anything; ``--pooled``
reports several split files together (each episode paired within its split).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._results import fmt_ci, load, save  # noqa: E402
from benchmarks._results import fmt_diff as _fmt_diff  # noqa: E402

# Catalog defaults, but for the MAML family's inner-loop scope: their default (LoRA) runs a
# backward pass through all six layers for every test episode (about 10 s each on one CPU
# core), so the tables adapt the head (Reptile, which has no head-only scope: the top
# layer); their LoRA defaults have their own paired rows in docs/BENCHMARKS.md.
METHODS = {
    "protonet": {},
    "nnshot": {},
    "finetune": {},
    "anil": {},
    "maml": {"scope": "head"},
    "fomaml": {"scope": "head"},
    "metasgd": {"scope": "head"},
    "reptile": {"scope": "top_k_layers"},
    # variants: the same method with the encoder's top layer or LoRA adapters adapted in the inner loop
    "maml_top1": {"method": "maml", "scope": "top_k_layers", "top_k": 1},
    "maml_lora": {"method": "maml", "scope": "lora"},
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


def meta_trained(name: str, shots: list[int], train_shot: int, train_episodes: int, test_episodes: int, db: Path) -> dict[int, list[float]]:
    """Trains ``name`` once at ``train_shot`` shots; its accuracy on the test episodes of each of ``shots``."""
    from benchmarks._common import config
    from engine.inference import weights_dir
    from engine.inspection._loading import InspectedRun
    from engine.store import Store
    from engine.training import devices
    from engine.training.evaluation import evaluate_episodes
    from engine.training.runner import prepare, run_experiment

    params = dict(METHODS[name])
    method = params.pop("method", name)
    cfg = config(method, params, k_shot=train_shot, episodes=train_episodes, eval_every=0)
    cfg = type(cfg).from_dict(cfg.to_dict() | {"task": cfg.to_dict()["task"] | {"test_episodes": test_episodes}})
    outcome = run_experiment(cfg, db_path=db)
    with Store(db) as store:
        row = store.get_run(outcome.run_id)
        accs = {train_shot: [r["accuracy"] for r in store.episodes(outcome.run_id)]}
    for k_shot in shots:
        if k_shot in accs:
            continue
        shot_cfg = type(cfg).from_dict(cfg.to_dict() | {"task": cfg.to_dict()["task"] | {"k_shot": k_shot}})
        data, _ = prepare(shot_cfg)
        run = InspectedRun(row, shot_cfg, weights_dir(db, row["id"]), data, devices.resolve_device("cpu"))
        _, results = evaluate_episodes(run.method(trained=True), data.test_sampler, test_episodes)
        accs[k_shot] = [r["accuracy"] for r in results]
    return {k: accs[k] for k in shots}


def fmt_diff(ref: list[float] | None, values: list[float]) -> str:
    """Paired difference on the episodes both have: SetFit, fine-tuned per episode, may be
    scored on the first ``--setfit-episodes`` only (the episodes are the same in order)."""
    if ref is None:
        return "—"
    n = min(len(ref), len(values))
    cell = _fmt_diff(ref[:n], values[:n])
    return cell if n == max(len(ref), len(values)) else f"{cell}, first {n}"


SCOPE_LABELS = {"head": "head", "top_k_layers": "top layer", "lora": "LoRA"}


def label(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    params = METHODS[name]
    scope = f" ({SCOPE_LABELS[params['scope']]})" if "scope" in params else ""
    return f"`{params.get('method', name)}`{scope}"


def report(results: dict) -> str:
    lines = []
    for setting, row in results.items():
        n = {len(v) for v in row.values()}
        lines += [f"#### {setting.replace('way', '-way ').replace('shot', '-shot')} ({', '.join(map(str, sorted(n)))} paired episodes)", ""]
        lines += ["| contender | accuracy (mean ± 95% CI) | vs SetFit (paired) | vs frozen NCM (paired) |", "|---|---|---|---|"]
        for name in [*REFERENCES, *METHODS]:
            if name not in row:
                continue
            lines.append(f"| {label(name)} | {fmt_ci(row[name])} | {fmt_diff(row.get('setfit'), row[name]) if name != 'setfit' else ''}"
                         f" | {fmt_diff(row.get('frozen_ncm'), row[name]) if name != 'frozen_ncm' else ''} |")
        lines.append("")
    return "\n".join(lines)


def _pooled_diff(rows: list[dict], ref: str, name: str) -> str:
    """Paired difference over all splits: each split contributes the episodes both have."""
    pairs = [(r, v) for row in rows for r, v in zip(row[ref], row[name])]
    return fmt_diff([r for r, _ in pairs], [v for _, v in pairs])


def pooled_report(splits: list[dict]) -> str:
    """One table per shot count: each split's mean ± CI, then all splits' episodes pooled
    (an episode is paired with the same episode of its own split)."""
    lines = []
    for setting in sorted({s for split in splits for s in split}):
        rows = [split.get(setting, {}) for split in splits]
        names = [n for n in [*REFERENCES, *METHODS] if all(n in row for row in rows)]
        pooled = {n: [a for row in rows for a in row[n]] for n in names}
        episodes = sorted({len(v) for v in pooled.values()})
        lines += [f"#### {setting.replace('way', '-way ').replace('shot', '-shot')}, {len(splits)} class splits"
                  f" ({' or '.join(map(str, episodes))} episodes pooled)", ""]
        head = " | ".join(f"split {i}" for i in range(len(splits)))
        lines += [f"| contender | {head} | pooled | pooled vs SetFit (paired) | pooled vs frozen NCM (paired) |",
                  "|---|" + "---|" * (len(splits) + 3)]
        for n in names:
            cells = " | ".join(fmt_ci(row[n]) for row in rows)
            vs_setfit = _pooled_diff(rows, "setfit", n) if n != "setfit" and "setfit" in names else ""
            vs_ncm = _pooled_diff(rows, "frozen_ncm", n) if n != "frozen_ncm" and "frozen_ncm" in names else ""
            lines.append(f"| {label(n)} | {cells} | {fmt_ci(pooled[n])} | {vs_setfit} | {vs_ncm} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", default="1,5")
    parser.add_argument("--train-episodes", type=int, default=30)
    parser.add_argument("--train-shot", type=int, default=5, help="shots of the training episodes (one training per method)")
    parser.add_argument("--test-episodes", type=int, default=200)
    parser.add_argument("--contenders", default=",".join([*REFERENCES, *[m for m in METHODS if "_" not in m]]),
                        help="comma-separated methods and references (frozen_ncm, frozen_logreg, setfit)")
    parser.add_argument("--setfit-episodes", type=int, default=0,
                        help="score SetFit (one fine-tuning per episode) on the first N test episodes only (0: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/accuracy.json"))
    parser.add_argument("--report", action="store_true", help="print the table from --out (and --also) and exit")
    parser.add_argument("--also", type=Path, nargs="*", default=[],
                        help="with --report: more result files (e.g. SetFit run in a second process) merged in")
    parser.add_argument("--pooled", type=Path, nargs="*", default=[],
                        help="print one table over these result files (one per class split) and exit")
    args = parser.parse_args()
    if args.pooled:
        print(pooled_report([load(path) for path in args.pooled]))
        return
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
    shots = [int(k) for k in args.shots.split(",")]
    rows = {k: results.setdefault(f"5way{k}shot", {}) for k in shots}
    setfit_episodes = args.setfit_episodes or args.test_episodes
    for name in wanted:
        wanted_len = setfit_episodes if name == "setfit" else args.test_episodes
        todo = [k for k in shots if len(rows[k].get(name, [])) < wanted_len]
        if not todo:
            continue
        start = time.time()
        if name in REFERENCES:
            for k_shot in todo:
                rows[k_shot].update(frozen_references(k_shot, args.test_episodes) if name != "setfit"
                                    else {"setfit": setfit(k_shot, setfit_episodes)})
                save(args.out, results)
        else:
            for k_shot, accs in meta_trained(name, todo, args.train_shot, args.train_episodes, args.test_episodes, db).items():
                rows[k_shot][name] = accs
            save(args.out, results)
        print(name, *(f"{k}-shot {fmt_ci(rows[k][name])}" for k in todo), f"{time.time() - start:.0f}s", flush=True)
    print(report(results))


if __name__ == "__main__":
    main()
