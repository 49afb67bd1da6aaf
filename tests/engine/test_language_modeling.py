"""Causal language modelling (task.type = "language_modeling") with a tiny random GPT-2
built in the test (the bundled MiniLM WordPiece tokenizer; nothing is downloaded).

The corpus is synthetic: each domain has its own words among function words shared by all,
so training on some domains teaches the shared part and the document frame, and adapting
on a held-out domain's support documents teaches its words."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from engine.config import RunConfig
from engine.errors import ConfigError
from engine.training.runner import run_experiment

DOMAIN_WORDS = {
    "kitchen": "bread butter onion garlic pepper oven",
    "harbor": "boat anchor sail rope tide dock",
    "garden": "rose tulip soil seed rain leaf",
    "school": "teacher pupil lesson chalk desk book",
    "music": "violin drum piano song choir note",
    "forest": "pine moss deer owl branch trail",
    "market": "price coin stall fruit buyer cart",
    "winter": "snow ice frost sled coat scarf",
}
SHARED = "the a of and to in is with".split()


@pytest.fixture(scope="session")
def tiny_decoder(tmp_path_factory) -> Path:
    from engine.models.tiny import build_tiny_decoder

    return build_tiny_decoder(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def domains_csv(tmp_path_factory) -> Path:
    rng = random.Random(0)
    path = tmp_path_factory.mktemp("lm-data") / "domains.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "domain"])
        for domain, words in DOMAIN_WORDS.items():
            for _ in range(12):
                writer.writerow([" ".join(rng.choice(words.split() + SHARED) for _ in range(10)), domain])
    return path


def lm_config(model: Path, data: Path, method: str, params: dict | None = None, **train) -> RunConfig:
    raw = {
        "name": f"lm-{method}",
        "dataset": {"path": str(data), "text_column": "text", "label_column": "domain"},
        "task": {"type": "language_modeling", "k_shot": 2, "query": 2, "test_episodes": 8, "val_episodes": 2,
                 "meta_test_fraction": 0.25},
        "model": {"name": str(model), "max_length": 24},
        "method": {"name": method, "params": params or {}},
        "train": {"device": "cpu", "seed": 0, **train},
    }
    return RunConfig.from_dict(raw)


def test_items_are_next_token_positions(tiny_decoder, domains_csv):
    from engine.models.encoder import load_encoder
    from engine.tasks import build_task_data

    data = build_task_data(lm_config(tiny_decoder, domains_csv, "finetune"))
    encoder = load_encoder(str(tiny_decoder), max_length=24, causal_lm=True)
    assert encoder.kind == "decoder"
    batcher = data.task.batcher(encoder, data.dataset)
    rows = [0, 5, 13]
    ids = batcher.ids(rows)
    batch = batcher(rows)
    assert batcher.item_counts(rows) == [len(seq) - 1 for seq in ids]
    assert len(batch["positions"]) == sum(batcher.item_counts(rows))
    targets = data.task.row_targets(batcher, rows, [])
    # the target at (row, t) is the token at t + 1 of that row
    got = [int(batch["input_ids"][r, t + 1]) for r, t in batch["positions"].tolist()]
    assert got == targets.tolist()


def test_episodes_hold_documents_of_one_held_out_domain(tiny_decoder, domains_csv):
    from engine.tasks import build_task_data

    data = build_task_data(lm_config(tiny_decoder, domains_csv, "maml"))
    labels = data.dataset.labels
    train_domains = {labels[r] for r in data.train_rows}
    for index in range(5):
        episode = data.test_sampler.episode(index)
        assert len(episode.support) == 2 and len(episode.query) == 2
        (domain,) = {labels[r] for r in (*episode.support, *episode.query)}
        assert domain not in train_domains
        assert data.test_sampler.episode(index) == episode  # seeded: paired across runs


def test_a_corpus_that_cannot_make_episodes_is_named(tiny_decoder, tmp_path):
    from engine.errors import DatasetError
    from engine.tasks import build_task_data

    path = tmp_path / "two.csv"
    path.write_text("text,domain\n" + "".join(f"doc {i},{'ab'[i % 2]}\n" for i in range(10)))
    with pytest.raises(DatasetError, match="at least 3 domains"):
        build_task_data(lm_config(tiny_decoder, path, "maml"))
    path.write_text("text,domain\n" + "".join(f"doc {i},{'abc'[i % 3]}\n" for i in range(9)))
    with pytest.raises(DatasetError, match="domain 'a' has 3 documents, 2 support \\+ 2 query documents need 4"):
        build_task_data(lm_config(tiny_decoder, path, "maml"))


def test_metric_methods_do_not_serve_language_modeling(tiny_decoder, domains_csv):
    from engine.config import validate

    with pytest.raises(ConfigError, match="'protonet' does not serve task.type = 'language_modeling'"):
        validate(lm_config(tiny_decoder, domains_csv, "protonet"))


def test_an_encoder_cannot_model_language(tiny_model, domains_csv, tmp_path):
    from engine.errors import ModelError

    with pytest.raises(ModelError, match="needs a decoder .* this is bert encoder"):
        run_experiment(lm_config(tiny_model, domains_csv, "finetune", episodes=1, eval_every=0), db_path=tmp_path / "r.db")


# Settings under which the tiny decoder learns in 30 steps. Every run is scored on the
# same 8 held-out-domain episodes before (untrained) and after training.
LEARNING = {
    "finetune": {"lr": 3e-3, "batch_size": 8},
    "maml": {"lr": 3e-3, "scope": "lora", "inner_lr": 0.05, "head_inner_lr": 0.5},
    "fomaml": {"lr": 3e-3, "scope": "top_k_layers", "inner_lr": 0.05, "head_inner_lr": 0.5},
    "anil": {"lr": 3e-3, "head_inner_lr": 0.5},
    "reptile": {"lr": 0.5, "scope": "top_k_layers", "top_k": 2, "inner_lr": 0.1, "head_inner_lr": 0.5, "inner_steps": 3},
}


def test_every_lm_method_has_learning_settings():
    from engine.catalog import all_specs

    assert {s.name for s in all_specs() if "language_modeling" in s.tasks} == set(LEARNING)


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(LEARNING))
def test_meta_training_lowers_held_out_perplexity(method, tiny_decoder, domains_csv, tmp_path):
    config = lm_config(tiny_decoder, domains_csv, method, LEARNING[method], episodes=30, eval_every=0, eval_untrained=True)
    outcome = run_experiment(config, db_path=tmp_path / "runs.db")
    final = outcome.final_metrics
    assert outcome.status == "finished", outcome.error
    assert final["headline_metric"] == "test_perplexity" and final["headline_direction"] == "minimize"
    assert final["test_perplexity"] < 0.5 * final["untrained_test_perplexity"], final
    assert final["gain_over_untrained"] < 0 and final["gain_over_untrained_p_value"] < 0.05, final


def test_the_inner_loop_reports_perplexity_per_step(tiny_decoder, domains_csv, tmp_path):
    import math

    from engine.store import Store

    params = {"lr": 3e-3, "scope": "lora", "inner_steps_test": 2}
    outcome = run_experiment(lm_config(tiny_decoder, domains_csv, "fomaml", params, episodes=2, eval_every=2), db_path=tmp_path / "r.db")
    with Store(tmp_path / "r.db") as store:
        names = set(store.metric_names(outcome.run_id))
        steps = [store.metrics(outcome.run_id, f"inner_support_perplexity_step_{i}")[-1]["value"] for i in range(3)]
        losses = [store.metrics(outcome.run_id, f"inner_support_loss_step_{i}")[-1]["value"] for i in range(3)]
    assert {"val_perplexity", "inner_query_perplexity_before", "inner_query_perplexity_after"} <= names
    assert steps == pytest.approx([math.exp(v) for v in losses], rel=1e-3)  # the store keeps float32
    assert steps[-1] < steps[0]  # adapting on the support documents lowers their perplexity


def test_the_lm_quickstart_validates_and_builds_its_tiny_decoder(capsys):
    from engine.cli import main
    from engine.models.loading import model_info

    example = Path(__file__).resolve().parents[2] / "examples" / "lm_quickstart.toml"
    assert main(["validate", str(example)]) == 0, capsys.readouterr().err
    info = model_info("bundled:tiny-gpt2")  # built on first use into the (test's) data folder
    assert info["kind"] == "decoder" and info["parameters"] > 0


def test_the_cli_summary_prints_perplexity_as_a_number(capsys):
    from engine.cli._run import _print_summary

    final = {"headline_metric": "test_perplexity", "headline_direction": "minimize", "test_perplexity": 12.5,
             "test_perplexity_ci95": 1.25, "test_episodes": 8}
    _print_summary(final, "finished")
    assert "meta-test perplexity: 12.50 ± 1.25 (95% CI, 8 episodes)" in capsys.readouterr().out


def test_compare_reads_lower_perplexity_as_better(tmp_path, capsys):
    from engine.cli import main
    from engine.compare import compare_runs
    from engine.store import Store

    config = {"name": "lm", "method": {"name": "maml"}, "task": {"type": "language_modeling"}}
    db = tmp_path / "runs.db"
    with Store(db) as store:
        ids = []
        for name, values in (("ref", [40.0, 50.0, 60.0]), ("better", [30.0, 41.0, 49.0])):
            run_id = store.create_run({**config, "name": name})
            store.add_episodes(run_id, [{"episode": i, "perplexity": v, "key": f"e{i}"} for i, v in enumerate(values)])
            store.update_run(run_id, episodes_key="same", status="finished",
                             final_metrics={"headline_metric": "test_perplexity", "headline_direction": "minimize", "test_perplexity": sum(values) / 3})
            ids.append(run_id)
        result = compare_runs(store, ids[0], ids[1:])
    assert result["metric"] == "test_perplexity" and result["higher_is_better"] is False
    (comparison,) = result["comparisons"]
    assert comparison["paired"] and comparison["mean_diff"] == pytest.approx(-10.0)
    assert main(["runs", "compare", ids[0], ids[1], "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "(lower is better)" in out and "-10.00 ±" in out and "%" not in out.split("against")[0]
    assert main(["runs", "list", "--db", str(db)]) == 0
    assert "perp    50.00" in capsys.readouterr().out
