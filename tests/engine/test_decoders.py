"""Loading causal LMs of any architecture ``AutoModelForCausalLM`` knows: a tiny random
GPT-2 and a tiny random Llama built in the test (nothing is downloaded), from a folder or
the Hugging Face cache; left-padded scoring; the CUDA defaults and 8/4-bit loading checks.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

from engine.config import RunConfig
from engine.errors import ConfigError, ModelError
from engine.models.encoder import load_encoder
from engine.models.loading import bundled_model_dir, model_info
from tests.conftest import REPO, run_cli


def _save_tokenizer(folder: Path, *, with_pad: bool) -> None:
    """The bundled WordPiece tokenizer; without [PAD] it is a bare fast tokenizer, as
    many decoders' are (GPT-2, Llama), whose [SEP] ends a document."""
    source = bundled_model_dir("all-MiniLM-L6-v2")
    if with_pad:
        for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
            if (source / name).exists():
                shutil.copy(source / name, folder / name)
        return
    spec = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
    spec["padding"] = None  # no pad token anywhere
    (folder / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "[SEP]"}))


def build_tiny_llama(folder: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    _save_tokenizer(folder, with_pad=False)
    config = LlamaConfig(
        vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=256, bos_token_id=101, eos_token_id=102,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_gpt2(folder: Path) -> Path:
    from engine.models.tiny import build_tiny_decoder

    return build_tiny_decoder(folder)


BUILDERS = {"gpt2": build_tiny_gpt2, "llama": build_tiny_llama}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def decoder_folder(request, tmp_path_factory) -> Path:
    return BUILDERS[request.param](tmp_path_factory.mktemp(f"tiny-{request.param}"))


def test_any_causal_lm_loads_as_a_decoder_with_left_padding(decoder_folder):
    info = model_info(str(decoder_folder))
    assert info["kind"] == "decoder" and info["layers"] == 2
    encoder = load_encoder(str(decoder_folder), max_length=32, causal_lm=True)
    assert encoder.kind == "decoder"
    assert encoder.tokenizer.padding_side == "left"
    assert encoder.tokenizer.pad_token_id is not None  # set to the end token where the tokenizer has none
    batch = encoder.tokenizer(["a short one", "a much longer text than the first"], padding=True)
    assert batch["attention_mask"][0][0] == 0 and batch["attention_mask"][0][-1] == 1


def test_a_tokenizer_without_pad_gets_its_end_token(tmp_path):
    encoder = load_encoder(str(build_tiny_llama(tmp_path / "llama")), max_length=32, causal_lm=True)
    assert encoder.tokenizer.pad_token == "[SEP]"


def test_left_padded_scoring_matches_each_text_alone(decoder_folder):
    encoder = load_encoder(str(decoder_folder), max_length=32, causal_lm=True).eval()
    ids = encoder.tokenize(["the harbor at dawn", "a boat", "ropes and sails and a tide that turns"])
    with torch.no_grad():
        together = encoder.next_token_logits(encoder.collate_left(ids))
        alone = torch.cat([encoder.next_token_logits(encoder.collate_left([seq])) for seq in ids])
    assert together.shape == (3, 30522)
    assert torch.allclose(together, alone, atol=1e-4)
    # the hidden states of a left-padded batch meet the same next-token head
    batch = encoder.collate_left(ids)
    last = torch.tensor([[row, batch["input_ids"].shape[1] - 1] for row in range(3)])
    with torch.no_grad():
        hidden = encoder(**batch, positions=last)
    assert torch.allclose(hidden @ encoder.output_weight().T, together, atol=1e-4)


def _lm_config(model: Path, method: str, params: dict, db_name: str = "") -> RunConfig:
    return RunConfig.from_dict({
        "name": f"lm-{method}",
        "dataset": {"path": "bundled:domains", "text_column": "text", "label_column": "domain"},
        "task": {"type": "language_modeling", "k_shot": 2, "query": 2, "test_episodes": 2, "val_episodes": 1,
                 "meta_test_fraction": 0.25},
        "model": {"name": str(model), "max_length": 24},
        "method": {"name": method, "params": params},
        "train": {"episodes": 1, "eval_every": 0, "device": "cpu", "seed": 0},
    })


def test_one_lm_episode_trains_on_each_architecture(decoder_folder, tmp_path):
    from engine.store import Store
    from engine.training.runner import run_experiment

    # checkpointing asked for on CPU: the runner applies it to the model, through MAML's double backward
    params = {"scope": "lora", "meta_batch_size": 1, "train_query": 2, "inner_steps_test": 1, "gradient_checkpointing": "on"}
    config = _lm_config(decoder_folder, "maml", params)
    outcome = run_experiment(config, db_path=tmp_path / "runs.db")
    assert outcome.status == "finished"
    perplexity = outcome.final_metrics["test_perplexity"]
    assert 1.0 < perplexity < 1e6  # a random 30,522-token model: near the vocabulary size
    logs = "\n".join(row["message"] for row in Store(tmp_path / "runs.db").logs(outcome.run_id))
    assert "compute: fp32, gradient checkpointing" in logs  # bf16 "auto" stays off on CPU


def _hub_cache(cache: Path, repo_id: str, folder: Path) -> None:
    """``folder`` laid out as the Hugging Face cache holds a downloaded model."""
    commit = "0" * 40
    root = cache / f"models--{repo_id.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    shutil.copytree(folder, root / "snapshots" / commit)


def test_a_hub_id_in_the_cache_loads_offline(tmp_path):
    folder = build_tiny_llama(tmp_path / "llama")
    cache = tmp_path / "hub"
    _hub_cache(cache, "metalab-test/tiny-llama", folder)
    env = {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    done = run_cli("model-info", "metalab-test/tiny-llama", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"] == "decoder"
    script = (
        "from engine.models.encoder import load_encoder\n"
        "e = load_encoder('metalab-test/tiny-llama', max_length=16, causal_lm=True)\n"
        "print(e.kind, type(e.backbone).__name__)\n"
    )
    import subprocess

    loaded = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, **env})
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.split() == ["decoder", "LlamaForCausalLM"]


def test_a_hub_id_offline_and_not_cached_is_one_line(tmp_path):
    done = run_cli("model-info", "metalab-test/not-downloaded", env={"HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "not in the Hugging Face cache" in lines[0] and "offline" in lines[0]
    typo = run_cli("model-info", "no such/folder/here")  # neither a folder nor a valid hub id
    assert typo.returncode == 2 and len(typo.stderr.strip().splitlines()) == 1
    assert "no such local folder, and not a Hugging Face id" in typo.stderr


# --- CUDA defaults ----------------------------------------------------------------------

def test_cuda_defaults_are_decided_once_for_decoders(monkeypatch):
    from engine.catalog import get
    from engine.training import precision

    maml = get("maml").bind({})
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(precision, "bf16_supported", lambda device: device.type == "cuda")
    assert precision.plan_compute(maml, model_kind="decoder", device=cuda) == precision.Compute(True, True)
    assert precision.plan_compute(maml, model_kind="encoder", device=cuda) == precision.Compute(False, False)
    assert precision.plan_compute(maml, model_kind="decoder", device=cpu) == precision.Compute(False, False)
    chosen = get("maml").bind({"bf16": "off", "gradient_checkpointing": "on"})
    assert precision.plan_compute(chosen, model_kind="decoder", device=cuda) == precision.Compute(False, True)
    assert precision.plan_compute(chosen, model_kind="encoder", device=cpu) == precision.Compute(False, True)
    # bf16 asked for where the device lacks it: fp32, said in the log
    monkeypatch.setattr(precision, "bf16_supported", lambda device: False)
    assert precision.plan_compute(get("maml").bind({"bf16": "on"}), model_kind="decoder", device=cuda).bf16 is False
    # LoRA is the default scope of the gradient methods
    assert maml.scope == "lora" and get("fomaml").bind({}).scope == "lora"


def test_bf16_and_checkpointing_apply_to_the_encoder(tmp_path):
    from engine.training.precision import Compute, apply_compute

    encoder = load_encoder(str(build_tiny_gpt2(tmp_path / "gpt2")), max_length=32, causal_lm=True)
    batch = encoder.collate(encoder.tokenize(["the harbor at dawn", "a boat"]))
    encoder.eval()
    with torch.no_grad():
        fp32 = encoder(**batch)
    apply_compute(encoder, Compute(bf16=True, gradient_checkpointing=True))  # CPU autocast has bf16 too
    assert encoder.backbone.is_activation_checkpointing
    with torch.no_grad():
        bf16 = encoder(**batch)
    assert bf16.dtype == torch.float32  # autocast inside the forward, float32 out
    assert not torch.equal(bf16, fp32) and torch.allclose(bf16, fp32, atol=0.1, rtol=0.05)
    encoder.train()
    loss = (encoder(**batch) @ encoder.output_weight().T).logsumexp(-1).mean()
    loss.backward()  # through the recomputed (checkpointed) layers
    assert encoder.backbone.transformer.h[0].attn.c_attn.weight.grad is not None


# --- 8/4-bit loading: an optional extra --------------------------------------------------

def _quantized(method: str = "maml", params: dict | None = None, device: str = "cuda", mode: str = "8bit") -> dict:
    return {"model": {"quantize": mode}, "method": {"name": method, "params": params or {}}, "train": {"device": device}}


def test_quantize_without_bitsandbytes_is_one_line():
    if __import__("importlib.util").util.find_spec("bitsandbytes") is not None:
        pytest.skip("bitsandbytes is installed here")
    with pytest.raises(ConfigError, match=r"model.quantize = '4bit' needs the bitsandbytes package: pip install 'metalab\[bnb\]'"):
        RunConfig.from_dict(_quantized(mode="4bit"))
    with pytest.raises(ConfigError, match="'model.quantize' must be one of none, 8bit, 4bit"):
        RunConfig.from_dict(_quantized(mode="2bit"))


def test_quantize_needs_cuda_and_a_lora_only_method(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "bitsandbytes" else real(name, *a))
    RunConfig.from_dict(_quantized())  # maml, LoRA scope (its default), on CUDA
    with pytest.raises(ConfigError, match="needs a CUDA device, but train.device = 'cpu'"):
        RunConfig.from_dict(_quantized(device="cpu"))
    with pytest.raises(ConfigError, match="method 'maml' would \\(scope = 'all'\\)"):
        RunConfig.from_dict(_quantized(params={"scope": "all"}))
    with pytest.raises(ConfigError, match="method 'finetune' would \\(it trains the base weights"):
        RunConfig.from_dict(_quantized("finetune"))
    # train.device = "auto" is checked where torch can tell: at validate and before a run
    from engine.models.loading import check_quantization

    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="needs a CUDA device; none is available here"):
            check_quantization("4bit", "auto")


def test_validate_cli_names_the_missing_extra(tmp_path):
    if __import__("importlib.util").util.find_spec("bitsandbytes") is not None:
        pytest.skip("bitsandbytes is installed here")
    config = tmp_path / "q.toml"
    config.write_text('[model]\nquantize = "8bit"\n')
    done = run_cli("validate", str(config))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "metalab[bnb]" in lines[0] and str(config) in lines[0]
