import shutil

import pytest
import torch

from engine.errors import ModelError
from engine.models.encoder import load_encoder, mean_pool
from engine.models.loading import model_info, resolve_model
from tests.conftest import TOKENIZER_FILES


def test_mean_pooling_ignores_padding(tiny_model):
    encoder = load_encoder(str(tiny_model), max_length=16).eval()
    texts = ["a short one", "a considerably longer sentence with many more words in it"]
    ids = encoder.tokenize(texts)
    with torch.no_grad():
        together = encoder.encode_batch(encoder.collate(ids))
        alone = encoder.encode_batch(encoder.collate(ids[:1]))
    assert together.shape == (2, 32)
    torch.testing.assert_close(together[0], alone[0], atol=1e-5, rtol=1e-4)


def test_mean_pool_by_hand():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert mean_pool(hidden, mask).tolist() == [[2.0, 3.0]]


def test_decoder_models_load_with_a_pad_token(tmp_path, tiny_model):
    from transformers import GPT2Config, GPT2Model

    folder = tmp_path / "tiny-gpt2"
    folder.mkdir()
    for name in TOKENIZER_FILES:
        if (tiny_model / name).exists():
            shutil.copy(tiny_model / name, folder / name)
    GPT2Model(GPT2Config(vocab_size=30522, n_embd=16, n_layer=2, n_head=2, n_positions=64)).save_pretrained(folder)
    encoder = load_encoder(str(folder), max_length=12)
    with torch.no_grad():
        out = encoder.encode_batch(encoder.collate(encoder.tokenize(["hello there", "hi"])))
    assert out.shape == (2, 16) and torch.isfinite(out).all()
    assert len(encoder.layers()) == 2


def test_trainable_layers_freeze_the_rest(tiny_model):
    encoder = load_encoder(str(tiny_model), max_length=8)
    encoder.set_trainable_layers(1)
    trainable = {n for n, p in encoder.named_parameters() if p.requires_grad}
    assert trainable and all(".layer.1." in n for n in trainable)
    encoder.set_trainable_layers(0)
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.set_trainable_layers(-1)
    assert all(p.requires_grad for p in encoder.parameters())


def test_model_info_reads_without_loading(tiny_model):
    info = model_info(str(tiny_model))
    assert info["layers"] == 2 and info["hidden_size"] == 32 and info["kind"] == "encoder"
    assert info["parameters"] == sum(p.numel() for p in load_encoder(str(tiny_model), max_length=8).parameters())


def test_pickle_weights_need_an_explicit_opt_in(tmp_path, tiny_model):
    from transformers import BertModel

    folder = tmp_path / "pickled"
    model = BertModel.from_pretrained(tiny_model)
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")  # the old pickle format
    for name in TOKENIZER_FILES:
        if (tiny_model / name).exists():
            shutil.copy(tiny_model / name, folder / name)
    assert not list(folder.glob("*.safetensors"))
    with pytest.raises(ModelError, match="allow_pickle"):
        resolve_model(str(folder))
    with pytest.raises(ModelError, match="allow_pickle"):
        load_encoder(str(folder), max_length=8)
    encoder = load_encoder(str(folder), max_length=8, allow_pickle=True)
    assert encoder.parameter_count() > 0


@pytest.mark.parametrize("name, message", [("./missing-model", "model folder not found"), ("bundled:nope", "no bundled model")])
def test_bad_model_names(name, message):
    with pytest.raises(ModelError, match=message):
        resolve_model(name)


def test_folder_without_weights(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="no weights"):
        resolve_model(str(tmp_path))
