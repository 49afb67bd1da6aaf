"""In-context learning (``icl``) and MetaICL (``metaicl``) with tiny random GPT-2s built in
the test (the bundled WordPiece tokenizer; nothing is downloaded): prompts and their
scoring, calibration, the context-length check, pairing with an encoder method, and the
lifecycle every method has (resume, predict, export)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import torch

from engine.config import RunConfig
from engine.errors import UserError
from engine.methods import check_run_model
from engine.store import Store
from engine.tasks import build_task_data
from engine.training.runner import run_experiment
from tests.conftest import run_cli

from .conftest import DECODER_RUN, run_config


def icl_config(model: Path, data: Path, method: str = "icl", params: dict | None = None, **values) -> RunConfig:
    config = run_config(model, data, method, params).with_values({**DECODER_RUN, "task.n_way": 3, "task.query": 3})
    return config.with_values(values) if values else config


def toml_of(config: RunConfig, path: Path) -> Path:
    config.save(path)
    return path


# --- prompts and their scoring ------------------------------------------------------------

def test_the_prompt_is_demonstrations_then_the_query_up_to_its_label():
    from engine.methods._prompt import PromptFormat, template_problem

    fmt = PromptFormat("Input: {text}\nLabel: {label}\n\n", {"pos": "great"})
    prompt = fmt.prompt([("good film", "pos"), ("dull", "neg")], "fine")
    assert prompt == "Input: good film\nLabel: great\n\nInput: dull\nLabel: neg\n\nInput: fine\nLabel:"
    assert fmt.query("fine") == ("Input: fine\nLabel:", " ")  # the space goes with the verbaliser
    assert template_problem("{label} after {text}") is not None
    assert template_problem("Input: {text}") is not None
    assert template_problem("{text} => {label}\n") is None


def _scorer(decoder_dir: Path, **kwargs):
    from engine.methods._prompt import PromptFormat, PromptScorer
    from engine.models.encoder import load_encoder

    encoder = load_encoder(str(decoder_dir), max_length=128, causal_lm=True).eval()
    return PromptScorer.for_encoder(encoder, PromptFormat("Input: {text}\nLabel: {label}\n\n"), **kwargs)


DEMOS = [("apple pie please", "fruit"), ("the river bank", "water"), ("a ripe mango", "fruit"), ("ocean waves", "water and sea")]
QUERIES = ["apple juice", "a long quiet river under the old bridge", "sea"]
LABELS = ["fruit", "water and sea"]


@pytest.fixture(scope="module")
def tiny_llama_dir(tmp_path_factory) -> Path:
    """A random 2-layer Llama (rotary positions, another cache layout than GPT-2's) with the bundled tokenizer."""
    import shutil

    from transformers import LlamaConfig, LlamaForCausalLM

    from engine.models.loading import bundled_model_dir
    from engine.models.tiny import TOKENIZER_FILES

    folder = tmp_path_factory.mktemp("tiny-llama")
    for name in TOKENIZER_FILES:
        if (bundled_model_dir("all-MiniLM-L6-v2") / name).exists():
            shutil.copy(bundled_model_dir("all-MiniLM-L6-v2") / name, folder / name)
    config = LlamaConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=1, max_position_embeddings=256, bos_token_id=101, eos_token_id=102, pad_token_id=0)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.mark.parametrize("decoder", ["tiny_decoder_dir", "tiny_llama_dir"], ids=["gpt2", "llama"])
@pytest.mark.parametrize("prefix_cache", [True, False], ids=["cached-demonstrations", "whole-prompts"])
def test_batched_left_padded_scores_equal_one_sequence_at_a_time(decoder, prefix_cache, request):
    """Left padding, the attention mask and position ids (and the demonstrations' cached keys
    and values, repeated over a batch) leave every prompt's scores as if it were read alone."""
    scorer = _scorer(request.getfixturevalue(decoder), batch_size=4, prefix_cache=prefix_cache)
    batched = scorer.label_scores(DEMOS, QUERIES, LABELS)
    model = scorer.model
    expected = torch.zeros(len(QUERIES), len(LABELS))
    with torch.no_grad():
        for i, query in enumerate(QUERIES):
            for j, label in enumerate(LABELS):
                context, continuation = scorer.context(DEMOS, query), scorer.continuation(query, label)
                ids = torch.tensor([context + continuation])
                logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
                expected[i, j] = sum(logp[len(context) + t - 1, tok] for t, tok in enumerate(continuation))
    assert len({len(scorer.context(DEMOS, q)) for q in QUERIES}) == 3  # prompts of three lengths share a batch
    assert torch.allclose(batched, expected, atol=1e-4)


def test_contextual_calibration_divides_by_the_content_free_probabilities(tiny_decoder_dir):
    scorer = _scorer(tiny_decoder_dir)
    plain = scorer.classify(DEMOS, QUERIES, LABELS, calibration="none")
    calibrated = scorer.classify(DEMOS, QUERIES, LABELS, calibration="contextual")
    content_free = scorer.label_scores(DEMOS, ["N/A"], LABELS)
    assert torch.allclose(plain, scorer.label_scores(DEMOS, QUERIES, LABELS))
    expected = torch.log_softmax(plain, -1) - torch.log_softmax(content_free, -1)
    assert torch.allclose(calibrated, expected, atol=1e-5)
    assert not torch.allclose(torch.softmax(calibrated, -1), torch.softmax(plain, -1), atol=1e-3)


# --- runs -------------------------------------------------------------------------------------

def test_icl_skips_training_and_pairs_with_protonet_episode_by_episode(tiny_decoder_dir, tiny_model_dir, keyword_csv, tmp_path, capsys):
    from engine.cli import main
    from engine.compare import compare_runs

    db = tmp_path / "runs.db"
    icl = run_experiment(icl_config(tiny_decoder_dir, keyword_csv, "icl", {"calibration": "contextual"}), db_path=db)
    proto_config = run_config(tiny_model_dir, keyword_csv, "protonet", {"train_query": 2}).with_values(
        {"task.n_way": 3, "task.query": 3, "task.k_shot": 1})
    proto = run_experiment(proto_config, db_path=db)
    assert icl.status == proto.status == "finished"
    assert icl.final_metrics["train_episodes"] == 0 and icl.final_metrics["calibration"] == "contextual"
    with Store(db) as store:
        assert not store.metrics(icl.run_id, "train_loss")  # straight to the meta-test,
        assert [m["step"] for m in store.metrics(icl.run_id, "val_accuracy")] == [0]  # after one meta-val (studies)
        assert store.get_run(icl.run_id)["episodes_key"] == store.get_run(proto.run_id)["episodes_key"]
        assert [e["key"] for e in store.episodes(icl.run_id)] == [e["key"] for e in store.episodes(proto.run_id)]
        result = compare_runs(store, proto.run_id, [icl.run_id])
    (comparison,) = result["comparisons"]
    assert comparison["paired"] and comparison["n"] == 10
    assert main(["runs", "compare", proto.run_id, icl.run_id, "--db", str(db)]) == 0
    assert "paired" in capsys.readouterr().out


def test_icl_refuses_an_encoder_and_a_bad_template_in_one_line(tiny_model_dir, tiny_decoder_dir, keyword_csv, tmp_path):
    path = toml_of(icl_config(tiny_model_dir, keyword_csv), tmp_path / "encoder.toml")
    result = run_cli("validate", str(path))  # the real command line: exit 2, one line, no traceback
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "method 'icl' needs a decoder (a causal language model); this is bert encoder" in line
    path = toml_of(icl_config(tiny_decoder_dir, keyword_csv, params={"template": "{label}: {text}"}), tmp_path / "bad.toml")
    with pytest.raises(UserError, match="must put {text} before {label}"):
        check_run_model(RunConfig.load(path), build_task_data(RunConfig.load(path)))


def test_methods_json_says_which_models_a_method_needs(capsys):
    from engine.cli import main

    assert main(["methods", "--json"]) == 0
    kinds = {m["name"]: m["model_kinds"] for m in json.loads(capsys.readouterr().out)}
    assert kinds["icl"] == kinds["metaicl"] == ["decoder"]
    assert kinds["protonet"] == ["encoder", "decoder"]


def test_a_prompt_longer_than_max_length_is_a_validate_error_naming_tokens_and_k(tiny_decoder_dir, keyword_csv, tmp_path, capsys):
    from engine.cli import main
    from engine.methods._prompt import demonstrations

    config = icl_config(tiny_decoder_dir, keyword_csv, **{"task.k_shot": 3})
    data = build_task_data(config)
    scorer = _scorer(tiny_decoder_dir)
    needed = 0  # the longest sequence of the run's meta-test and meta-val episodes, counted here
    for sampler, count in ((data.test_sampler, 10), (data.val_sampler, 4)):
        for episode in sampler.episodes(count):
            demos = demonstrations(episode, data.dataset.texts)
            for row in episode.query:
                text = data.dataset.texts[row]
                for label in episode.classes:
                    needed = max(needed, len(scorer.context(demos, text)) + len(scorer.continuation(text, label)))
    (fits,) = check_run_model(config.with_values({"model.max_length": needed}), data)  # exactly enough
    assert fits.endswith(f"the longest needs {needed} of {needed} tokens (model.max_length)")
    path = toml_of(config.with_values({"model.max_length": needed - 1}), tmp_path / "long.toml")
    capsys.readouterr()
    assert main(["validate", str(path)]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"needs {needed} tokens but model.max_length is {needed - 1}" in line
    assert "fewer demonstrations per class: task.k_shot = 2 fits" in line


# A synthetic task a random decoder cannot guess and a meta-trained one learns: a text holds a
# colour and an animal among filler words; its label is two words, one fixed word per colour and
# one per animal. Held-out classes are held-out pairs, so what transfers is the word mapping and
# reading it off the query, not the demonstrations' labels.
COLOURS = dict(zip("red blue green yellow black white".split(), "one two three four five six".split()))
ANIMALS = dict(zip("cat dog cow pig owl fox".split(), "north south east west up down".split()))


def _pairs_csv(path: Path) -> Path:
    rng = random.Random(0)
    filler = "the of and to in for".split()
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for colour, first in COLOURS.items():
            for animal, second in ANIMALS.items():
                for _ in range(8):
                    words = [rng.choice(filler) for _ in range(3)]
                    words.insert(rng.randrange(4), colour)
                    words.insert(rng.randrange(5), animal)
                    writer.writerow([" ".join(words), f"{first} {second}"])
    return path


@pytest.mark.slow
def test_metaicl_beats_icl_where_the_answer_is_learnable(tmp_path):
    from engine.models.tiny import build_tiny_decoder

    model = build_tiny_decoder(tmp_path / "gpt2-64", hidden=64, heads=4)
    data = _pairs_csv(tmp_path / "pairs.csv")
    common = {"task.k_shot": 2, "task.test_episodes": 20, "task.meta_test_fraction": 0.3, "train.eval_every": 0}
    icl = run_experiment(icl_config(model, data, "icl", **common), db_path=tmp_path / "runs.db").final_metrics
    params = {"scope": "all", "lr": 3e-3, "meta_batch_size": 2}
    meta = run_experiment(icl_config(model, data, "metaicl", params, **common, **{"train.episodes": 200, "train.eval_untrained": True}),
                          db_path=tmp_path / "runs.db").final_metrics
    # measured: icl 0.33 (chance), metaicl 1.00 on the same 20 episodes
    assert meta["test_accuracy"] > icl["test_accuracy"] + 0.3, (icl, meta)
    # before training, metaicl is icl with the same model: its paired gain is the gain over icl
    assert meta["untrained_test_accuracy"] == pytest.approx(icl["test_accuracy"])
    assert meta["gain_over_untrained"] > 0.3 and meta["gain_over_untrained_p_value"] < 0.05, meta


# --- the lifecycle every method has ----------------------------------------------------------

@pytest.mark.parametrize("method", ["icl", "metaicl"])
def test_a_default_run_predicts_with_its_prompt_and_exports(method, tiny_decoder_dir, keyword_csv, tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    from engine.cli import main
    from engine.export import export_model
    from engine.inference import load_trained_encoder

    db = tmp_path / "runs.db"
    outcome = run_experiment(icl_config(tiny_decoder_dir, keyword_csv, method, **{"train.episodes": 2}), db_path=db)
    assert outcome.status == "finished"
    request = {"support": [{"text": "apple pie", "label": "fruit"}, {"text": "river water", "label": "water"}],
               "query": ["apple juice", "a river"]}
    (tmp_path / "request.json").write_text(json.dumps(request))
    capsys.readouterr()
    assert main(["predict", outcome.run_id, "--input", str(tmp_path / "request.json"), "--db", str(db)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["classes"] == ["fruit", "water"] and answer["calibration"] == "none"
    first = answer["predictions"][0]
    assert first["prompt"] == "Input: apple pie\nLabel: fruit\n\nInput: river water\nLabel: water\n\nInput: apple juice\nLabel:"
    assert sum(first["probabilities"].values()) == pytest.approx(1.0) and first["label"] in ("fruit", "water")
    assert main(["predict", outcome.run_id, "--input", str(tmp_path / "request.json"), "--db", str(db), "--explain"]) == 2
    assert "--explain is for nearest-class-mean answers" in capsys.readouterr().err
    assert main(["inspect", outcome.run_id, "--db", str(db), "--json"]) == 0  # through the run's own method
    view = json.loads(capsys.readouterr().out)
    assert view["method"] == method and view["views"]["after"]["accuracy"] == pytest.approx(view["stored_accuracy"])

    encoder = load_trained_encoder(db, outcome.run_id)
    out = export_model(db, outcome.run_id, tmp_path / "hf")
    exported = AutoModelForCausalLM.from_pretrained(out, use_safetensors=True).eval()
    ids = torch.tensor([encoder.tokenizer("apple pie by the river", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(encoder.backbone(input_ids=ids).logits, exported(input_ids=ids).logits, atol=1e-5)


def test_a_stopped_metaicl_lora_run_resumes_as_if_unbroken(tiny_decoder_dir, keyword_csv, tmp_path):
    from engine.training.continuation import resume_run
    from tests.engine.test_continuation import StopAfter

    db = tmp_path / "runs.db"
    config = icl_config(tiny_decoder_dir, keyword_csv, "metaicl", {"lr": 1e-2},
                        **{"train.episodes": 4, "train.eval_every": 0, "train.checkpoint_every": 2})
    assert config.method.params.get("scope", "lora") == "lora"  # the default: the saved model has adapters
    unbroken = run_experiment(config, db_path=db)
    stopped = run_experiment(config, db_path=db, stop=StopAfter(2))
    resumed = resume_run(stopped.run_id, db_path=db)
    assert resumed.status == "finished"
    with Store(db) as store:
        losses = [m["value"] for m in store.metrics(resumed.run_id, "train_loss")]
        expected = [m["value"] for m in store.metrics(unbroken.run_id, "train_loss")]
    assert len(expected) == 4 and losses == pytest.approx(expected, rel=1e-5)
    assert resumed.final_metrics["test_accuracy"] == pytest.approx(unbroken.final_metrics["test_accuracy"])


def test_a_max_length_beyond_the_models_positions_is_one_line(tiny_decoder_dir, keyword_csv):
    config = icl_config(tiny_decoder_dir, keyword_csv, **{"model.max_length": 512})
    with pytest.raises(UserError, match="model.max_length is 512 but this model reads at most 256 tokens"):
        check_run_model(config, build_task_data(config))
