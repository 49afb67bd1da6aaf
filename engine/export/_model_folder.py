"""``export-model``: a trained run (or one of its checkpoints) as a folder other tools open.

The folder is at once:

- a plain Hugging Face model (``AutoModel`` / ``AutoTokenizer``: config, safetensors, tokenizer);
- a sentence-transformers model that embeds exactly as MetaLab's predict path does;
- a model card (``README.md``) and the run's config (``metalab_run.toml``).

A LoRA run exports merged weights (``W + alpha/r * B A``); with ``adapter_only`` its
adapter alone, as a PEFT folder. A supervised run adds its trained head
(``head.safetensors``) and its class names (``id2label`` in ``config.json``).
Task types with a head register a writer in ``HEAD_WRITERS`` (NER: token classification).
The folder is written beside the target and renamed into place: all or nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.fileio import usual_permissions

CONFIG_FILE = "metalab_run.toml"
SENTENCE_TASK = "classification"  # task.type whose runs embed whole texts (the sentence-transformers pipeline)


def export_model(db_path: Path, run_id: str, out_dir: Path, *, step: int | None = None, adapter_only: bool = False) -> Path:
    from engine.config import RunConfig
    from engine.exports import export_run
    from engine.store import Store
    from engine.training.checkpoints import load_checkpoint

    source = _source_folder(db_path, run_id, step)
    weights, meta, _ = load_checkpoint(source)
    config = RunConfig.from_dict(meta["config"])
    with Store(db_path) as store:
        run = store.get_run(run_id)
        config_toml = export_run(store, run_id, "toml")
    out_dir = Path(out_dir)
    _check_target(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        usual_permissions(tmp)  # a folder for other tools, not mkdtemp's 0700
        labels = None
        if adapter_only:
            from engine.export._peft import write_adapter

            params = config.method.params
            write_adapter(tmp, weights.get("encoder", {}), rank=int(params.get("lora_rank", 8)),
                          alpha=float(params.get("lora_alpha", 16.0)), base_model=_base_model(config), run_id=run_id)
        else:
            labels = _write_model(tmp, db_path, run_id, source, config, weights)
        from engine.export._card import model_card

        (tmp / "README.md").write_text(
            model_card(run, config, supervised_labels=labels, adapter_only=adapter_only, folder=str(out_dir)), encoding="utf-8"
        )
        (tmp / CONFIG_FILE).write_text(config_toml, encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _source_folder(db_path: Path, run_id: str, step: int | None) -> Path:
    from engine.inference import weights_dir
    from engine.paths import artifacts_dir
    from engine.training.checkpoints import list_checkpoints

    if step is None:
        return weights_dir(db_path, run_id)
    run_dir = artifacts_dir(db_path) / run_id
    found = dict(list_checkpoints(run_dir))
    if step not in found:
        steps = ", ".join(str(s) for s in sorted(found)) or "none"
        raise UserError(f"run {run_id} has no checkpoint at step {step} (checkpoints: {steps})", source=str(run_dir))
    return found[step]


def _check_target(out_dir: Path) -> None:
    """An empty or missing folder, or an earlier export (replaced); never someone's other files."""
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / CONFIG_FILE).exists())):
        raise UserError("exists and is not an empty folder or an earlier export: choose another folder", source=str(out_dir))


def _write_model(folder: Path, db_path: Path, run_id: str, source: Path, config: Any, weights: dict[str, Any]) -> list[str] | None:
    from engine.export._sentence_transformers import write_pipeline
    from engine.inference import load_trained_encoder

    encoder = load_trained_encoder(db_path, run_id, folder=source)  # LoRA adapters merged
    labels = _write_head(folder, config, weights, encoder)
    encoder.backbone.save_pretrained(folder, safe_serialization=True)
    encoder.tokenizer.model_max_length = config.model.max_length
    encoder.tokenizer.save_pretrained(folder)
    if config.task.type == SENTENCE_TASK:  # a token-level run (NER) has no sentence embedding to offer
        write_pipeline(folder, hidden_size=encoder.hidden_size, max_length=config.model.max_length)
    return labels


def _write_head(folder: Path, config: Any, weights: dict[str, Any], encoder: Any) -> list[str] | None:
    """The trained head of a task mode that has one, and its class names (None: classes at use time).

    The hook for task types: a mode with a head adds its writer to ``HEAD_WRITERS``
    (NER: a token-classification head, ``AutoModelForTokenClassification``-style ``id2label``).
    """
    writer = HEAD_WRITERS.get(config.task.mode)
    head = weights.get("head")
    return writer(folder, config, head, encoder) if writer and head else None


def _write_sequence_head(folder: Path, config: Any, head: dict[str, Any], encoder: Any) -> list[str]:
    """A linear head on the mean-pooled embedding: ``head.safetensors`` and ``id2label`` in config.json."""
    from safetensors.torch import save_file

    labels = _supervised_labels(config)
    if len(labels) != head["weight"].shape[0]:
        raise UserError(f"the dataset now has {len(labels)} classes, the run's head {head['weight'].shape[0]}",
                        source=config.dataset.path)
    save_file({k: v.contiguous() for k, v in head.items()}, str(folder / "head.safetensors"))
    encoder.backbone.config.id2label = dict(enumerate(labels))
    encoder.backbone.config.label2id = {label: i for i, label in enumerate(labels)}
    return labels


HEAD_WRITERS = {"supervised": _write_sequence_head}


def _supervised_labels(config: Any) -> list[str]:
    """The head's classes: the dataset's labels, sorted, as the run ordered them (engine.tasks)."""
    from engine import tasks

    return sorted(set(tasks.get(config.task.type).load_dataset(config).labels))


def _base_model(config: Any) -> str:
    from engine.models.loading import resolve_model

    source = resolve_model(config.model.name, allow_pickle=config.model.allow_pickle)
    return str(source.path)
