"""Trying a trained run: its saved encoder adapts to a few labelled examples and labels queries.

The generic adaptation works for every method: embed the support examples with the run's
trained encoder, average them per class, and give each query the softmax of its
temperature-scaled cosine similarity to each class mean (nearest class mean). Weights come
from ``artifacts/<run_id>/weights`` (safetensors, written at the end of a run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.paths import artifacts_dir

TEMPERATURE = 10.0  # cosine similarities in [-1, 1] scaled before the softmax


def weights_dir(db_path: Path, run_id: str) -> Path:
    folder = artifacts_dir(db_path) / run_id / "weights"
    if not (folder / "model.safetensors").exists():
        raise UserError(f"run {run_id} has no saved weights (only finished runs have them)", source=str(folder))
    return folder


def load_trained_encoder(db_path: Path, run_id: str, *, device: str = "cpu") -> Any:
    """The run's encoder with its trained weights, in eval mode."""
    from engine.config import RunConfig
    from engine.models.encoder import load_encoder
    from engine.models.lora_merge import has_lora, merge_lora_state
    from engine.training.checkpoints import load_checkpoint

    weights, meta, _ = load_checkpoint(weights_dir(db_path, run_id))
    config = RunConfig.from_dict(meta["config"])
    encoder = load_encoder(config.model.name, max_length=config.model.max_length,
                           allow_pickle=config.model.allow_pickle, trust_remote_code=config.model.trust_remote_code)
    if "encoder" not in weights:
        raise UserError(f"run {run_id}'s weights hold no encoder")
    state = weights["encoder"]
    if has_lora(state):  # a LoRA-scope run: fold its adapters into the plain encoder
        params = config.method.params
        state = merge_lora_state(state, rank=int(params["lora_rank"]), alpha=float(params["lora_alpha"]))
    encoder.load_state_dict(state)
    return encoder.to(device).eval()


def check_request(request: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(support texts, support labels, queries) from {"support": [{"text", "label"}...], "query": [...]}."""
    support = request.get("support")
    queries = request.get("query")
    if not isinstance(support, list) or not support:
        raise UserError('"support" must be a non-empty list of {"text": ..., "label": ...}')
    if not isinstance(queries, list) or not queries or not all(isinstance(q, str) and q.strip() for q in queries):
        raise UserError('"query" must be a non-empty list of texts')
    texts, labels = [], []
    for i, item in enumerate(support):
        if not isinstance(item, dict) or not str(item.get("text", "")).strip() or str(item.get("label", "")).strip() == "":
            raise UserError(f"support example {i + 1} needs a text and a label")
        texts.append(str(item["text"]))
        labels.append(str(item["label"]))
    if len(set(labels)) < 2:
        raise UserError("the support examples need at least two different labels")
    return texts, labels, [str(q) for q in queries]


def predict(encoder: Any, request: dict[str, Any], *, temperature: float = TEMPERATURE) -> dict[str, Any]:
    """Nearest-class-mean cosine probabilities for each query."""
    import torch
    import torch.nn.functional as F

    texts, labels, queries = check_request(request)
    classes = list(dict.fromkeys(labels))
    with torch.no_grad():
        emb = F.normalize(_embed(encoder, texts + queries), dim=-1)
        support, query = emb[: len(texts)], emb[len(texts) :]
        index = torch.tensor([classes.index(label) for label in labels])
        means = torch.stack([support[index == c].mean(0) for c in range(len(classes))])
        probs = torch.softmax(temperature * query @ F.normalize(means, dim=-1).T, dim=-1)
    out = []
    for text, row in zip(queries, probs.tolist(), strict=True):
        ranked = sorted(zip(classes, row, strict=True), key=lambda kv: -kv[1])
        out.append({"text": text, "label": ranked[0][0], "probabilities": dict(ranked)})
    return {"classes": classes, "temperature": temperature, "predictions": out}


def _embed(encoder: Any, texts: list[str], batch_size: int = 64) -> Any:
    import torch

    parts = []
    for start in range(0, len(texts), batch_size):
        batch = encoder.collate(encoder.tokenize(texts[start : start + batch_size]))
        parts.append(encoder(**batch).float().cpu())
    return torch.cat(parts)


def export_model(db_path: Path, run_id: str, out_dir: Path) -> Path:
    """A Hugging Face folder (``save_pretrained``, safetensors) with the tokenizer: loads with AutoModel."""
    encoder = load_trained_encoder(db_path, run_id)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    encoder.backbone.save_pretrained(out_dir, safe_serialization=True)
    encoder.tokenizer.save_pretrained(out_dir)
    return out_dir
