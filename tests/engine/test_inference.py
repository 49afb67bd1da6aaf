"""predict and export-model on a tiny run trained through the CLI."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli, tiny_config_text


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model):
    from tests.conftest import write_keyword_dataset

    folder = tmp_path_factory.mktemp("infer")
    data = write_keyword_dataset(folder / "kw.csv")
    config = folder / "tiny.toml"
    config.write_text(tiny_config_text(tiny_model, data, episodes=3))
    db = folder / "runs.db"
    result = run_cli("run", str(config), "--db", str(db))
    assert result.returncode == 0, result.stderr
    return db, result.stdout.strip().splitlines()[-1], folder


def test_predict_gives_probabilities_per_query(trained):
    db, run_id, folder = trained
    request = {"support": [{"text": "apple apple pie", "label": "fruit"}, {"text": "river water flow", "label": "water"},
                           {"text": "apple tart", "label": "fruit"}],
               "query": ["apple juice", "the river bank"]}
    (folder / "req.json").write_text(json.dumps(request))
    result = run_cli("predict", run_id[:8], "--db", str(db), "--input", str(folder / "req.json"))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["run_id"] == run_id and out["classes"] == ["fruit", "water"]
    assert [p["text"] for p in out["predictions"]] == request["query"]
    for p in out["predictions"]:
        assert set(p["probabilities"]) == {"fruit", "water"}
        assert abs(sum(p["probabilities"].values()) - 1) < 1e-5
        assert p["label"] == max(p["probabilities"], key=p["probabilities"].get)


def test_predict_bad_input_is_one_line(trained):
    db, run_id, folder = trained
    (folder / "bad.json").write_text(json.dumps({"support": [{"text": "a", "label": "x"}], "query": ["b"]}))
    result = run_cli("predict", run_id, "--db", str(db), "--input", str(folder / "bad.json"))
    assert result.returncode == 2 and "two different labels" in result.stderr and "Traceback" not in result.stderr


def test_export_model_loads_with_automodel(trained, tmp_path):
    db, run_id, _ = trained
    out = tmp_path / "hf"
    result = run_cli("export-model", run_id, str(out), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists() and (out / "config.json").exists()
    from safetensors.torch import load_file
    from transformers import AutoModel

    model = AutoModel.from_pretrained(out, use_safetensors=True)
    saved = load_file(str(db.parent / "artifacts" / run_id / "weights" / "model.safetensors"))
    key = "encoder/backbone.embeddings.word_embeddings.weight"
    assert (model.embeddings.word_embeddings.weight.detach() == saved[key]).all()


def test_export_model_json_names_the_folder_and_its_files(trained, tmp_path):
    db, run_id, _ = trained
    result = run_cli("export-model", run_id[:6], str(tmp_path / "hf"), "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["run_id"] == run_id and answer["path"] == str((tmp_path / "hf").resolve())
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= set(answer["files"])


def test_merged_adapters_give_the_adapted_encoders_embeddings(tiny_model):
    """An encoder built with LoRA (as a run builds it), adapters merged: same embeddings, plain keys."""
    import torch

    from engine.models.adaptation import Adaptation, merge_adapters
    from engine.models.encoder import load_encoder

    adapted = load_encoder(str(tiny_model), max_length=16)
    Adaptation("lora", lora_rank=4, lora_alpha=8.0).apply(adapted, seed=0)
    with torch.no_grad():  # lora_B starts at zero: make the adapters matter
        for name, param in adapted.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    batch = adapted.collate(adapted.tokenize(["apple pie", "a river flows past the mill"]))
    with torch.no_grad():
        expected = adapted.eval()(**batch)
        merged = merge_adapters(adapted).eval()(**batch)
    assert torch.allclose(expected, merged, atol=1e-5)
    plain = load_encoder(str(tiny_model), max_length=16)
    assert set(adapted.state_dict()) == set(plain.state_dict())
    assert not torch.allclose(expected, plain.eval()(**batch), atol=1e-3)
