"""Issue #17, cases 5 and 12: model folders that would train to garbage, and broken model files."""

from __future__ import annotations

import shutil

import pytest

from engine.errors import ModelError
from engine.models.encoder import load_encoder
from engine.models.loading import TOKENIZER_FILES, check_weights_fit, model_info, resolve_model


def _without_tokenizer(tmp_path, tiny_model):
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_model / name, folder / name)
    return folder


def test_a_folder_without_a_tokenizer_is_refused(tmp_path, tiny_model):
    folder = _without_tokenizer(tmp_path, tiny_model)
    for attempt in (lambda: resolve_model(str(folder)), lambda: load_encoder(str(folder), max_length=8)):
        with pytest.raises(ModelError, match=rf"^{folder}: no tokenizer in the model folder \(expected one of tokenizer.json"):
            attempt()


def _bert_config_over_gpt2_weights(tmp_path, tiny_model):
    from transformers import GPT2Config, GPT2Model

    folder = tmp_path / "mixed"
    GPT2Model(GPT2Config(vocab_size=30522, n_embd=32, n_layer=2, n_head=2, n_positions=64)).save_pretrained(folder)
    shutil.copy(tiny_model / "config.json", folder / "config.json")  # a BERT config over GPT-2 weights
    for name in TOKENIZER_FILES:
        if (tiny_model / name).exists():
            shutil.copy(tiny_model / name, folder / name)
    return folder


def test_weights_of_another_architecture_are_refused(tmp_path, tiny_model):
    folder = _bert_config_over_gpt2_weights(tmp_path, tiny_model)
    source = resolve_model(str(folder))
    with pytest.raises(ModelError, match=r"the weights do not fit config.json \(BertModel\): \d+% of the parameters are missing"):
        check_weights_fit(source)
    with pytest.raises(ModelError, match="do not fit config.json"):
        load_encoder(str(folder), max_length=8)


def test_weights_of_another_size_are_refused(tmp_path, tiny_model):
    from transformers import BertConfig

    folder = shutil.copytree(tiny_model, tmp_path / "resized")
    config = BertConfig.from_pretrained(folder)
    config.hidden_size = 64  # the weights are 32 wide
    config.save_pretrained(folder)
    with pytest.raises(ModelError, match="missing or of another shape"):
        check_weights_fit(resolve_model(str(folder)))


def test_a_task_head_checkpoint_still_loads(tmp_path, tiny_model):
    """A BertForMaskedLM save has a prefix and a head: the encoder's weights are all there."""
    from transformers import BertConfig, BertForMaskedLM

    folder = tmp_path / "mlm"
    BertForMaskedLM(BertConfig.from_pretrained(tiny_model)).save_pretrained(folder)
    for name in TOKENIZER_FILES:
        if (tiny_model / name).exists():
            shutil.copy(tiny_model / name, folder / name)
    check_weights_fit(resolve_model(str(folder)))
    check_weights_fit(resolve_model("bundled:all-MiniLM-L6-v2"))


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "\xff\xfe"])
def test_a_broken_config_json_is_one_line(tmp_path, tiny_model, text):
    folder = shutil.copytree(tiny_model, tmp_path / "broken")
    (folder / "config.json").write_bytes(text.encode("latin-1"))
    for attempt in (lambda: model_info(str(folder)), lambda: resolve_model(str(folder))):
        with pytest.raises(ModelError, match=r"config.json: (config.json is not valid JSON|config.json must hold a JSON object)") as caught:
            attempt()
        assert "\n" not in str(caught.value)


def test_a_hub_id_missing_offline_is_not_found(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="^nobody-metalab/no-such-model: model not found"):
        model_info("nobody-metalab/no-such-model")
