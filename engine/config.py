"""The run configuration: one typed, validated object, read from and written to TOML.

A key a person sets in the New-experiment form travels under the same dotted name
(``task.n_way``, ``method.params.lr``) through this config, the runner, the method,
the events, the store and the Compare page. Unknown keys are an error naming the key.

This module is torch-free: the GUI imports it.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from engine.errors import ConfigError

TASK_MODES = ("episodic", "supervised")
# Every numeric key has both bounds (a test checks it). Seeds fit a signed 32-bit integer
# (numpy's seeds and the GUI's spin boxes take them); counts stay far below what SQLite's
# 64-bit integers and memory allow.
MAX_SEED = 2**31 - 1
MAX_COUNT = 1_000_000
MAX_STEPS = 100_000_000
DEVICE_HINT = "auto | cpu | cuda | cuda:N | mps"
REPORT_TO = ("tensorboard", "mlflow")  # train.report_to (engine.training.reporters)
QUANTIZE = ("none", "8bit", "4bit")  # model.quantize (engine.models.loading)


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


@dataclass
class DatasetConfig:
    path: str = field(
        default="bundled:banking_support",
        metadata=_help("CSV/TSV/JSONL/Parquet file, a folder saved by HF datasets, a CoNLL file (.conll/.bio/.iob/.txt, token classification), or bundled:NAME"),
    )
    text_column: str = field(default="", metadata=_help("Column with the text (token classification: the list of tokens); empty = guess"))
    label_column: str = field(default="", metadata=_help("Column with the label (token classification: the list of BIO tags); empty = guess"))
    split: str = field(
        default="train", metadata=_help('Split of an HF DatasetDict folder; "all" = every split, with a "split" column')
    )


@dataclass
class TaskConfig:
    type: str = field(
        default="classification",
        metadata=_help(
            "What is learned: classification (a label per text), token_classification (a BIO tag per word, NER) "
            "or language_modeling (a decoder's next token in a new domain; label_column holds the domain)"
        ),
    )
    mode: str = field(default="episodic", metadata=_help("episodic (N-way K-shot on held-out classes) or supervised"))
    n_way: int = field(default=5, metadata=_help("Classes per episode", min=2, max=MAX_COUNT))
    k_shot: int = field(default=5, metadata=_help("Support examples per class", min=1, max=MAX_COUNT))
    query: int = field(default=15, metadata=_help("Query examples per class", min=1, max=MAX_COUNT))
    test_episodes: int = field(default=200, metadata=_help("Meta-test episodes (paired across runs)", min=1, max=MAX_COUNT))
    val_episodes: int = field(default=30, metadata=_help("Meta-val episodes at each evaluation", min=1, max=MAX_COUNT))
    meta_test_fraction: float = field(
        default=0.5, metadata=_help("Share of classes held out for meta-test, chosen by split_seed", min=0.0, max=1.0)
    )
    meta_val_fraction: float = field(
        default=0.3, metadata=_help("Share of the remaining classes kept for meta-validation", min=0.0, max=1.0)
    )
    split_seed: int = field(
        default=0, metadata=_help("Seed of the class split and of the test episodes (keep it to pair runs)", min=0, max=MAX_SEED)
    )


@dataclass
class ModelConfig:
    name: str = field(
        default="bundled:all-MiniLM-L6-v2", metadata=_help("bundled:NAME, a Hugging Face id, or a local folder")
    )
    max_length: int = field(default=64, metadata=_help("Tokens per text (longer texts are cut)", min=4, max=8192))
    allow_pickle: bool = field(
        default=False, metadata=_help("Allow pickle weight files (.bin/.pt); unsafe for untrusted models")
    )
    trust_remote_code: bool = field(
        default=False, metadata=_help("Run code shipped with the model; only for models you trust")
    )
    quantize: str = field(
        default="none",
        metadata=_help('Load the base weights in 8 or 4 bits with bitsandbytes ("none" | "8bit" | "4bit"): CUDA only, '
                       "pip install 'metalab[bnb]'; only LoRA adapters train on quantized weights"),
    )


@dataclass
class MethodConfig:
    name: str = field(default="protonet", metadata=_help("Method from the registry (metalab-engine methods)"))
    params: dict[str, Any] = field(default_factory=dict, metadata=_help("Hyper-parameters from the method's schema"))


@dataclass
class TrainConfig:
    episodes: int = field(
        default=300, metadata=_help("Meta-training episodes (episodic) / optimizer steps (supervised)", min=0, max=MAX_STEPS)
    )
    eval_every: int = field(
        default=50, metadata=_help("Evaluate on meta-val every N episodes (0 = only at the end)", min=0, max=MAX_STEPS)
    )
    device: str = field(default="auto", metadata=_help(DEVICE_HINT))
    seed: int = field(default=0, metadata=_help("Seed of training (initialisation, episode order)", min=0, max=MAX_SEED))
    eval_untrained: bool = field(
        default=False, metadata=_help("Also score the model before training on the same test episodes")
    )
    checkpoint_every: int = field(
        default=0, metadata=_help("Write a checkpoint every N episodes (0 = only at the end)", min=0, max=MAX_STEPS)
    )
    devices: int = field(
        default=1,
        metadata=_help("Data-parallel processes for this run, launched with torchrun: gloo on CPU, one GPU each on CUDA", min=1, max=1024),
    )
    report_to: list[str] = field(
        default_factory=list,
        metadata=_help('Also log live to these tools: "tensorboard", "mlflow" (a failing one is a warning, never stops the run)'),
    )


@dataclass
class RunConfig:
    name: str = field(default="run", metadata=_help("Run name shown in lists"))
    tags: list[str] = field(default_factory=list, metadata=_help("Free-form tags"))
    notes: str = field(default="", metadata=_help("Free-form notes"))
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    # --- conversions -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    def save(self, path: str | Path) -> None:
        from engine.fileio import atomic_write_text

        atomic_write_text(Path(path), self.to_toml())

    def get(self, dotted: str) -> Any:
        """Value of a dotted key such as ``task.n_way`` or ``method.params.lr``."""
        node: Any = self
        for part in dotted.split("."):
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        return node

    def with_values(self, values: dict[str, Any]) -> RunConfig:
        """A validated copy with dotted keys replaced (used by studies and the GUI)."""
        data = self.to_dict()
        for dotted, value in values.items():
            node = data
            parts = dotted.split(".")
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"unknown key '{dotted}'")
                node = node[part]
            node[parts[-1]] = value
        if data["method"].get("name") != self.method.name:
            _drop_other_methods_params(data["method"], self.method.name, kept={k for k in values if k.startswith("method.params.")})
        return RunConfig.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str | None = None) -> RunConfig:
        config = _build(cls, data, prefix="", source=source)
        validate(config, source=source)
        return config

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        from engine.fileio import read_user_text

        path = Path(path)
        text = read_user_text(path, error=ConfigError, what="a TOML file")  # a UTF-8 BOM is fine
        return cls.from_toml(text, source=str(path), base_dir=path.parent)

    @classmethod
    def from_toml(cls, text: str, *, source: str | None = None, base_dir: Path | None = None) -> RunConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid TOML: {exc}", source=source) from None
        config = cls.from_dict(data, source=source)
        if base_dir is not None:
            config.dataset.path = resolve_relative(config.dataset.path, base_dir)
            config.model.name = resolve_relative(config.model.name, base_dir, keep_if_missing=True)
        return config


def _drop_other_methods_params(method: dict[str, Any], previous: str, *, kept: set[str]) -> None:
    """Switching ``method.name`` drops the previous method's parameters that the new one
    lacks (a note says which), so ``--set method.name=finetune`` does not trip over a
    ``distance`` the user never set. Parameters set in the same call are kept and checked."""
    import logging

    from engine import catalog

    if not isinstance(method.get("params"), dict) or not isinstance(method.get("name"), str):
        return
    try:
        known = {p.name for p in catalog.get(method["name"]).params}
    except ConfigError:
        return  # the unknown method is reported by validation
    dropped = [n for n in method["params"] if n not in known and f"method.params.{n}" not in kept]
    for name in dropped:
        del method["params"][name]
    if dropped:
        logging.getLogger("engine.config").warning(
            "dropped %s: parameters of method '%s' that '%s' does not take",
            ", ".join(f"method.params.{n}" for n in dropped), previous, method["name"],
        )
    # A shared parameter that holds the previous method's default was filled in, not chosen:
    # the new method's own default applies (MAML must not train with protonet's lr).
    try:
        previous_defaults = {p.name: p.default for p in catalog.get(previous).params}
    except ConfigError:
        return
    reset = [n for n, v in method["params"].items()
             if n in previous_defaults and v == previous_defaults[n] and f"method.params.{n}" not in kept]
    for name in reset:
        del method["params"][name]


def resolve_relative(value: str, base_dir: Path, *, keep_if_missing: bool = False) -> str:
    """Paths in a config file are relative to that file; ``bundled:`` names stay as they are.

    With ``keep_if_missing`` a value that is no existing path is kept: a model name may be
    a Hugging Face id such as ``org/model``.
    """
    if not value or value.startswith("bundled:") or Path(value).expanduser().is_absolute():
        return value
    candidate = (base_dir / Path(value).expanduser()).resolve()
    if keep_if_missing and not candidate.exists():
        return value
    return str(candidate)


# --- building and checking ----------------------------------------------------------

def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is list:
        return "a list"
    if origin is dict:
        return "a table"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _check_type(value: Any, tp: Any, key: str, source: str | None) -> Any:
    origin = get_origin(tp)
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            value = float(value)
            ok = math.isfinite(value)
    elif tp is str:
        ok = isinstance(value, str)
    elif origin is list:
        (item,) = get_args(tp)
        ok = isinstance(value, list) and all(isinstance(v, item) for v in value)
    elif origin is dict:
        ok = isinstance(value, dict)
    else:  # pragma: no cover - a programming error, not user input
        raise TypeError(tp)
    if not ok:
        raise ConfigError(f"'{key}' must be {_type_name(tp)}, got {value!r}", source=source)
    return value


def _build(cls: type, data: Any, *, prefix: str, source: str | None) -> Any:
    where = prefix.rstrip(".") or "the top level"
    if not isinstance(data, dict):
        raise ConfigError(f"'{where}' must be a table", source=source)
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise ConfigError(f"unknown key '{prefix}{key}'", source=source)
    kwargs = {}
    for name, value in data.items():
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, value, prefix=f"{prefix}{name}.", source=source)
        else:
            kwargs[name] = _check_type(value, tp, f"{prefix}{name}", source)
    return cls(**kwargs)


def check_known_keys(
    data: dict[str, Any], *, source: str | None = None, cls: type | None = None, prefix: str = ""
) -> dict[str, Any]:
    """The keys of ``data`` that a run config has, type-checked as ``from_dict`` checks them;
    other keys are left as they are (an imported run's params from another tool). A whole
    float for an integer key becomes the integer: TensorBoard keeps every number as a float."""
    cls = cls or RunConfig
    hints = get_type_hints(cls)
    for name, tp in hints.items():
        if name not in data:
            continue
        key, value = f"{prefix}{name}", data[name]
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"'{key}' must be a table, got {value!r}", source=source)
            check_known_keys(value, source=source, cls=tp, prefix=f"{key}.")
            continue
        if tp is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        data[name] = _check_type(value, tp, key, source)
    return data


def _check_ranges(obj: Any, prefix: str, source: str | None) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            _check_ranges(value, f"{key}.", source)
            continue
        low, high = f.metadata.get("min"), f.metadata.get("max")
        if low is not None and value < low:
            raise ConfigError(f"'{key}' must be at least {low}, got {value}", source=source)
        if high is not None and value > high:
            raise ConfigError(f"'{key}' must be at most {high}, got {value}", source=source)


def validate(config: RunConfig, *, source: str | None = None) -> None:
    """Checks that need no data or model: ranges, choices, method parameters."""
    from engine import catalog, tasks

    _check_ranges(config, "", source)
    if config.task.mode not in TASK_MODES:
        raise ConfigError(f"'task.mode' must be one of {', '.join(TASK_MODES)}, got {config.task.mode!r}", source=source)
    if not config.name.strip():
        raise ConfigError("'name' must not be empty", source=source)
    if not config.dataset.path.strip():
        raise ConfigError("'dataset.path' must not be empty", source=source)
    if not config.model.name.strip():
        raise ConfigError("'model.name' must not be empty", source=source)
    if config.task.meta_test_fraction >= 1.0 or config.task.meta_test_fraction <= 0.0:
        raise ConfigError("'task.meta_test_fraction' must be between 0 and 1 (exclusive)", source=source)
    if config.task.meta_val_fraction >= 1.0:
        raise ConfigError("'task.meta_val_fraction' must be below 1", source=source)
    check_device_name(config.train.device, source=source)
    task_type = tasks.get(config.task.type, source=source)
    if config.task.mode not in task_type.modes:
        raise ConfigError(f"task.type {task_type.name!r} has no task.mode {config.task.mode!r}", source=source)
    for tool in config.train.report_to:
        if tool not in REPORT_TO:
            raise ConfigError(f"'train.report_to' takes {', '.join(REPORT_TO)}, got {tool!r}", source=source)
    spec = catalog.get(config.method.name, source=source)
    if task_type.name not in spec.tasks:
        raise ConfigError(
            f"method '{spec.name}' does not serve task.type = {task_type.name!r} (serves {', '.join(spec.tasks)})",
            source=source,
        )
    if config.task.mode not in spec.modes:
        raise ConfigError(
            f"method '{spec.name}' does not support task.mode = {config.task.mode!r} (supports {', '.join(spec.modes)})",
            source=source,
        )
    config.method.params = spec.validate_params(config.method.params, source=source)
    check_quantize(config, source=source)


def check_quantize(config: RunConfig, *, source: str | None = None) -> None:
    """8/4-bit weights need bitsandbytes and CUDA, and cannot be trained themselves: only a
    method that trains LoRA adapters alone (``scope = "lora"``), or none, can use them."""
    import importlib.util

    mode = config.model.quantize
    if mode == "none":
        return
    if mode not in QUANTIZE:
        raise ConfigError(f"'model.quantize' must be one of {', '.join(QUANTIZE)}, got {mode!r}", source=source)
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError(f"model.quantize = '{mode}' needs the bitsandbytes package: pip install 'metalab[bnb]'", source=source)
    if config.train.device in ("cpu", "mps"):
        raise ConfigError(f"model.quantize = '{mode}' needs a CUDA device, but train.device = '{config.train.device}'", source=source)
    params = config.method.params  # defaults filled in: read by their shared names
    scope = params.get("scope")
    if scope in ("top_k_layers", "all"):
        what = f"scope = '{scope}'"
    elif scope != "lora" and params.get("trainable_layers", 0) != 0:
        what = "it trains the base weights (trainable_layers)"
    else:
        return
    raise ConfigError(
        f"model.quantize = '{mode}': quantized weights cannot be trained, and method '{config.method.name}' would ({what}); "
        "use a method with scope = 'lora' (maml, fomaml, reptile) or model.quantize = 'none'",
        source=source,
    )


def check_device_name(device: str, *, source: str | None = None) -> None:
    ok = device in ("auto", "cpu", "cuda", "mps") or (
        device.startswith("cuda:") and device[5:].isdigit()
    )
    if not ok:
        raise ConfigError(f"'train.device' must be {DEVICE_HINT}, got {device!r}", source=source)


def schema() -> dict[str, Any]:
    """The config's keys with type, default and help, for forms and docs."""

    def describe(cls: type, prefix: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            if dataclasses.is_dataclass(tp):
                rows.extend(describe(tp, f"{prefix}{f.name}."))
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            rows.append(
                {
                    "key": f"{prefix}{f.name}",
                    "type": _type_name(tp),
                    "default": default,
                    **{k: v for k, v in f.metadata.items()},
                }
            )
        return rows

    return {"keys": describe(RunConfig, "")}
