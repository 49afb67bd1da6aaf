"""Trying a language-modelling run: ``generate`` (greedy / sampled, batched with left
padding) and ``perplexity`` (a text before and after the run's method adapts to a few
documents), on tiny decoder runs trained here (nothing is downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from tests.engine.test_language_modeling import DOMAIN_WORDS, LEARNING, domains_csv, lm_config, tiny_decoder  # noqa: F401

KITCHEN = DOMAIN_WORDS["kitchen"].split()


@pytest.fixture(scope="module")
def lm_runs(tiny_decoder, domains_csv, tmp_path_factory) -> tuple[Path, dict[str, str]]:  # noqa: F811
    """A database with short fomaml (top layers adapt per domain), maml (LoRA) and finetune runs."""
    from engine.training.runner import run_experiment

    db = tmp_path_factory.mktemp("lm-runs") / "runs.db"
    runs = {}
    for method in ("fomaml", "maml", "finetune"):
        config = lm_config(tiny_decoder, domains_csv, method, LEARNING[method], episodes=8, eval_every=0)
        outcome = run_experiment(config, db_path=db)
        assert outcome.status == "finished", outcome.error
        runs[method] = outcome.run_id
    return db, runs


def cli_json(capsys, *args: str) -> dict:
    assert main([*args, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_left_padding_puts_every_prompt_end_in_the_last_column():
    from engine.generation import left_padded

    ids, mask = left_padded([[5, 6, 7], [8]], pad=0)
    assert ids == [[5, 6, 7], [0, 0, 8]]
    assert mask == [[1, 1, 1], [0, 0, 1]]


def test_greedy_generation_of_a_batch_matches_each_prompt_alone(lm_runs, capsys):
    """Left padding (and the mask's position ids): a short prompt beside a long one continues
    exactly as it does alone."""
    db, runs = lm_runs
    short, long = "bread and", "the rose of the garden is with a tulip in the"
    common = ("generate", runs["fomaml"], "--db", str(db), "--max-new-tokens", "6", "--min-new-tokens", "6")
    both = cli_json(capsys, *common, "--prompt", short, "--prompt", long)
    alone = [cli_json(capsys, *common, "--prompt", p)["continuations"][0] for p in (short, long)]
    assert [c["prompt"] for c in both["continuations"]] == [short, long]
    assert both["continuations"] == alone
    assert all(c["tokens"] == 6 and c["continuation"].strip() for c in alone)
    assert both["settings"] == {"max_new_tokens": 6, "min_new_tokens": 6, "sample": False, "seed": 0}


def test_sampling_follows_its_seed(lm_runs, capsys):
    db, runs = lm_runs
    common = ("generate", runs["fomaml"], "--db", str(db), "--prompt", "the", "--max-new-tokens", "12",
              "--min-new-tokens", "12", "--sample", "--temperature", "2.0", "--top-p", "0.99")
    first = cli_json(capsys, *common, "--seed", "1")["continuations"][0]["continuation"]
    again = cli_json(capsys, *common, "--seed", "1")["continuations"][0]["continuation"]
    other = cli_json(capsys, *common, "--seed", "2")["continuations"][0]["continuation"]
    assert first == again and first != other


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--max-new-tokens", "0", "--prompt", "x"), "--max-new-tokens must be between 1"),
        (("--prompt", "  "), "non-empty prompt"),
        (("--prompt", "x", "--sample", "--temperature", "0"), "--temperature must be above 0"),
        (("--prompt", "x", "--sample", "--top-p", "1.5"), "--top-p must be in"),
        (("--prompt", "x", "--max-new-tokens", "3", "--min-new-tokens", "4"), "--min-new-tokens must be between 0"),
    ],
)
def test_bad_generation_settings_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    assert main(["generate", "abcd", "--db", str(tmp_path / "none.db"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_adapting_on_a_domains_documents_lowers_its_perplexity(lm_runs, capsys):
    db, runs = lm_runs
    documents = [" ".join(KITCHEN * 2), " ".join(reversed(KITCHEN)) + " the bread", "garlic and onion with butter in the oven"]
    text = "the pepper and the garlic in the oven with bread"
    out = cli_json(capsys, "perplexity", runs["fomaml"], "--db", str(db), "--text", text,
                   *[a for d in documents for a in ("--document", d)])
    assert out["method"] == "fomaml" and out["documents"] == 3 and out["truncated"] is False
    from engine.catalog import get

    steps = LEARNING["fomaml"].get("inner_steps_test", get("fomaml").param("inner_steps_test").default)
    assert out["adaptation"] == f"{steps} inner steps on scope 'top_k_layers'"
    assert out["tokens"] == 10 + 1  # ten words (one token each) framed by [CLS] ... [SEP]: eleven next tokens
    assert out["after"]["perplexity"] < out["before"]["perplexity"], out
    assert out["after"]["loss"] == pytest.approx(__import__("math").log(out["after"]["perplexity"]))


def test_a_lora_run_adapts_its_adapters_unmerged(lm_runs, capsys):
    """MAML's LoRA scope: the method is rebuilt with its adapters (not merged, as predict
    does), so the inner loop has them to adapt."""
    db, runs = lm_runs
    out = cli_json(capsys, "perplexity", runs["maml"], "--db", str(db), "--text", " ".join(KITCHEN),
                   "--document", " ".join(KITCHEN[::-1]), "--document", "garlic bread in the oven")
    assert out["adaptation"].endswith("on scope 'lora'")
    assert out["after"]["perplexity"] < out["before"]["perplexity"], out


def test_a_method_that_does_not_adapt_scores_the_same_before_and_after(lm_runs, tmp_path, capsys):
    db, runs = lm_runs
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"text": "snow and ice on the sled", "documents": ["the rose in the soil"]}))
    out = cli_json(capsys, "perplexity", runs["finetune"], "--db", str(db), "--input", str(request))
    assert out["adaptation"].startswith("none")
    assert out["after"]["perplexity"] == pytest.approx(out["before"]["perplexity"], rel=1e-5)


def test_a_text_longer_than_max_length_is_said_to_be_cut(lm_runs, capsys):
    db, runs = lm_runs
    out = cli_json(capsys, "perplexity", runs["finetune"], "--db", str(db), "--text", " ".join(KITCHEN * 10), "--document", "bread")
    assert out["truncated"] is True and out["tokens"] == out["max_length"] - 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--document", "a"), '"text" must be a non-empty text'),
        (("--text", "a"), '"documents" must be a non-empty list'),
        (("--text", "a", "--document", " "), "document 1 is empty"),
        (("--text", "a", "--input", "x.json"), "give --input, or --text with --document, not both"),
    ],
)
def test_bad_perplexity_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    assert main(["perplexity", "abcd", "--db", str(tmp_path / "none.db"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_perplexity_needs_a_language_modelling_run(tmp_path, capsys, tiny_model, keyword_csv):
    from engine.config import RunConfig
    from engine.training.runner import run_experiment
    from tests.conftest import tiny_config_text

    path = tmp_path / "c.toml"
    path.write_text(tiny_config_text(tiny_model, keyword_csv, episodes=1))
    outcome = run_experiment(RunConfig.load(path), db_path=tmp_path / "runs.db")
    args = ["--db", str(tmp_path / "runs.db")]
    assert main(["perplexity", outcome.run_id, *args, "--text", "a b", "--document", "c d"]) == 2
    assert "perplexity needs a language-modelling run" in capsys.readouterr().err
    assert main(["generate", outcome.run_id, *args, "--prompt", "a b"]) == 2
    assert "only a decoder (a causal LM) continues text" in capsys.readouterr().err
