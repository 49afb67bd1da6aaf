"""``export-model``: a trained run (or one of its checkpoints) as a folder other tools open.

The folder is at once:

- a plain Hugging Face model (``AutoModel`` / ``AutoTokenizer``: config, safetensors, tokenizer);
- a sentence-transformers model that embeds exactly as MetaLab's predict path does;
- a model card (``README.md``) and the run's config (``metalab_run.toml``).

A LoRA run exports merged weights (``W + alpha/r * B A``); with ``adapter_only`` its
adapter alone, as a PEFT folder. A supervised run adds its trained head and its class
names (``id2label`` in ``config.json``): sentence classification as ``head.safetensors``
on the mean-pooled embedding, NER as an ``AutoModelForTokenClassification`` folder.
Task types with a head register a writer in ``HEAD_WRITERS``.
The folder is written beside the target and put in place by ``_placement``: all or nothing,
and never over files MetaLab did not write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.export._placement import building, check_target, place

CONFIG_FILE = "metalab_run.toml"
SENTENCE_TASK = "classification"  # task.type whose runs embed whole texts (the sentence-transformers pipeline)


def export_model(db_path: Path, run_id: str, out_dir: Path, *, step: int | None = None, adapter_only: bool = False) -> Path:
    from engine.config import RunConfig
    from engine.exports import export_run
    from engine.store import Store
    from engine.training.checkpoints import load_checkpoint

    target = check_target(out_dir)  # refused before any work
    source = _source_folder(db_path, run_id, step)
    weights, meta, _ = load_checkpoint(source)
    config = RunConfig.from_dict(meta["config"])
    with Store(db_path) as store:
        run = store.get_run(run_id)
        config_toml = export_run(store, run_id, "toml")
    with building(target) as tmp:
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
        place(tmp, target, run_id=run_id)
    return target


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


def _write_model(folder: Path, db_path: Path, run_id: str, source: Path, config: Any, weights: dict[str, Any]) -> list[str] | None:
    from engine.export._sentence_transformers import write_pipeline
    from engine.inference import load_trained_encoder

    encoder = load_trained_encoder(db_path, run_id, folder=source)  # LoRA adapters merged
    model, labels = encoder.backbone, None
    writer = HEAD_WRITERS.get(config.task.type) if config.task.mode == "supervised" else None
    if writer is not None and weights.get("head"):
        labels = _head_labels(config, weights["head"])
        model = writer(folder, encoder, weights["head"], labels)
    model.save_pretrained(folder, safe_serialization=True)
    encoder.tokenizer.model_max_length = config.model.max_length
    encoder.tokenizer.save_pretrained(folder)
    if config.task.type == SENTENCE_TASK:  # a token-level run (NER) has no sentence embedding to offer
        write_pipeline(folder, hidden_size=encoder.hidden_size, max_length=config.model.max_length)
    return labels


def _head_labels(config: Any, head: dict[str, Any]) -> list[str]:
    """The head's classes, as the run ordered them (``Task.head_labels``), checked against the head."""
    from engine import tasks

    task = tasks.get(config.task.type)
    labels = task.head_labels(task.load_dataset(config))
    if len(labels) != head["weight"].shape[0]:
        raise UserError(f"the dataset now has {len(labels)} classes, the run's head {head['weight'].shape[0]}",
                        source=config.dataset.path)
    return labels


def _name_labels(model_config: Any, labels: list[str]) -> None:
    model_config.id2label = dict(enumerate(labels))
    model_config.label2id = {label: i for i, label in enumerate(labels)}


def _write_sequence_head(folder: Path, encoder: Any, head: dict[str, Any], labels: list[str]) -> Any:
    """A linear head on the mean-pooled embedding: ``head.safetensors`` beside the plain model.

    Not an ``AutoModelForSequenceClassification``: those classify the first token's pooled
    state, MetaLab's head the mean over tokens, so their logits would differ."""
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in head.items()}, str(folder / "head.safetensors"))
    _name_labels(encoder.backbone.config, labels)
    return encoder.backbone


def _write_token_head(folder: Path, encoder: Any, head: dict[str, Any], labels: list[str]) -> Any:
    """The backbone and its word head as one ``AutoModelForTokenClassification``.

    MetaLab's token head is a linear layer on each word's first word-piece state, which is
    what ``…ForTokenClassification`` computes (its dropout is off in eval). Labels are IO tags
    (``O``, ``I-TYPE``), which the token-classification pipeline groups into entities. An
    architecture with no such class keeps the plain model and ``head.safetensors``."""
    from transformers import AutoModelForTokenClassification

    backbone = encoder.backbone
    config = backbone.config.__class__.from_dict(backbone.config.to_dict())
    config.num_labels = len(labels)
    _name_labels(config, [label if label == OUTSIDE else f"I-{label}" for label in labels])
    try:
        model = AutoModelForTokenClassification.from_config(config)
    except ValueError:  # no token-classification class for this architecture
        return _write_sequence_head(folder, encoder, head, labels)
    classifier = getattr(model, "classifier", None) or getattr(model, "score", None)
    missing, _ = model.base_model.load_state_dict(backbone.state_dict(), strict=False)  # the pooler is not used
    if missing or not hasattr(classifier, "weight") or classifier.weight.shape != head["weight"].shape:
        return _write_sequence_head(folder, encoder, head, labels)
    classifier.load_state_dict({k: v.to(classifier.weight.dtype) for k, v in head.items()})
    return model.eval()


OUTSIDE = "O"
# task type -> writer of a supervised run's head; it returns the model to save.
HEAD_WRITERS = {"classification": _write_sequence_head, "token_classification": _write_token_head}


def _base_model(config: Any) -> str:
    from engine.models.loading import resolve_model

    source = resolve_model(config.model.name, allow_pickle=config.model.allow_pickle)
    return str(source.path)
