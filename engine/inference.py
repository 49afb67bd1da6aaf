"""Trying a trained run: its saved encoder adapts to a few labelled examples and labels queries.

The generic adaptation works for every method: embed the support examples with the run's
trained encoder, average them per class, and give each query the softmax of its
temperature-scaled cosine similarity to each class mean (nearest class mean). Weights come
from ``artifacts/<run_id>/weights`` (safetensors, written at the end of a run).

The run's model is rebuilt as it was trained (``engine.methods.build_run_model``: LoRA
adapters included), its weights loaded, then adapters are merged into the base weights,
so ``predict`` and ``export-model`` see a plain encoder whatever the method's scope.

A method may answer its own way instead (``Method.predict_texts``, given the run's config):
``icl`` and ``metaicl`` write the support examples into a prompt, score each label after
every query with the run's decoder, and return each query's ``prompt``.

Token classification (NER): a request whose support examples are ``{"tokens", "tags"}``
gets a prototype per entity type plus ``O`` from the support words (first sub-token of each
word), and each query word the nearest one; queries are texts split on white space.
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


def load_trained_encoder(db_path: Path, run_id: str, *, device: str = "cpu", folder: Path | None = None) -> Any:
    """The run's encoder with its trained weights (adapters merged in), in eval mode; ``folder``: one of
    its checkpoints instead of the final weights."""
    return load_trained_run(db_path, run_id, device=device, folder=folder)[0]


def load_trained_run(db_path: Path, run_id: str, *, device: str = "cpu", folder: Path | None = None) -> tuple[Any, Any]:
    """(the run's trained encoder as ``load_trained_encoder`` gives it, the run's config)."""
    from engine.config import RunConfig
    from engine.methods import build_run_model
    from engine.models.adaptation import merge_adapters
    from engine.training.checkpoints import load_checkpoint

    weights, meta, _ = load_checkpoint(folder or weights_dir(db_path, run_id))
    config = RunConfig.from_dict(meta["config"])
    encoder = build_run_model(config)
    if "encoder" not in weights:
        raise UserError(f"run {run_id}'s weights hold no encoder")
    encoder.load_state_dict(weights["encoder"])
    return merge_adapters(encoder).to(device).eval(), config


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


def predict(encoder: Any, request: dict[str, Any], *, temperature: float = TEMPERATURE, config: Any = None) -> dict[str, Any]:
    """Nearest-class-mean cosine probabilities for each query (each query word for NER requests);
    with the run's ``config``, the method's own answer where it has one (``Method.predict_texts``:
    in-context learning scores labels after a prompt, and returns the prompt)."""
    if is_token_request(request):
        return predict_tokens(encoder, request, temperature=temperature)
    import torch
    import torch.nn.functional as F

    texts, labels, queries = check_request(request)
    if config is not None:
        from engine import methods

        cls = methods.load(config.method.name)
        own = cls.predict_texts(encoder, cls.bind(config.method.params), list(zip(texts, labels)), queries)
        if own is not None:
            return own
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


def is_token_request(request: dict[str, Any]) -> bool:
    support = request.get("support")
    return isinstance(support, list) and bool(support) and isinstance(support[0], dict) and "tokens" in support[0]


def check_token_request(request: dict[str, Any]) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """(support sentences, their BIO tags, query sentences) from an NER request."""
    from engine.data.spans import bio_problem

    support, queries = request.get("support"), request.get("query")
    if not isinstance(queries, list) or not queries or not all(isinstance(q, str) and q.split() for q in queries):
        raise UserError('"query" must be a non-empty list of texts')
    sentences, tags = [], []
    for i, item in enumerate(support or []):
        tokens, labels = item.get("tokens") if isinstance(item, dict) else None, item.get("tags") if isinstance(item, dict) else None
        if not isinstance(tokens, list) or not tokens or not isinstance(labels, list) or len(labels) != len(tokens):
            raise UserError(f"support example {i + 1} needs \"tokens\" and \"tags\" lists of the same length")
        tokens, labels = [str(t) for t in tokens], [str(t) for t in labels]
        problem = bio_problem(labels)
        if problem:
            raise UserError(f"support example {i + 1}, token {problem[0] + 1}: {problem[1]}")
        sentences.append(tokens)
        tags.append(labels)
    if not any(t != "O" for sentence in tags for t in sentence):
        raise UserError("the support examples need at least one entity (a B- tag)")
    return sentences, tags, [q.split() for q in queries]


def predict_tokens(encoder: Any, request: dict[str, Any], *, temperature: float = TEMPERATURE) -> dict[str, Any]:
    """Entity tags for each query word: nearest prototype (per entity type, plus O) by cosine."""
    from types import SimpleNamespace

    import torch
    import torch.nn.functional as F

    from engine.data.spans import OUTSIDE, spans, split_tag
    from engine.tasks.token_classification import WordBatcher

    sentences, tags, queries = check_token_request(request)
    types = sorted({split_tag(t)[1] for sentence in tags for t in sentence if t != OUTSIDE})
    dataset = SimpleNamespace(sentences=sentences + queries, tags=tags + [[OUTSIDE] * len(q) for q in queries])
    batcher = WordBatcher(encoder, dataset)
    support_rows, query_rows = list(range(len(sentences))), list(range(len(sentences), len(dataset.sentences)))
    index = {name: i + 1 for i, name in enumerate(types)}
    with torch.no_grad():
        support = F.normalize(encoder(**batcher(support_rows)).float(), dim=-1)
        query = F.normalize(encoder(**batcher(query_rows)).float(), dim=-1)
        targets = torch.tensor(
            [index.get(split_tag(tags[row][w])[1], 0) for row in support_rows for w in batcher.kept_words(row)], device=support.device
        )
        onehot = F.one_hot(targets, len(types) + 1).float()
        means = (onehot.T @ support) / onehot.sum(0).clamp(min=1).unsqueeze(1)
        probs = torch.softmax(temperature * query @ F.normalize(means, dim=-1).T, dim=-1).cpu()
    labels = [OUTSIDE, *types]
    predictions = []
    picked = iter(probs.argmax(-1).tolist())
    for row, words in zip(query_rows, queries):
        word_tags = [OUTSIDE] * len(words)  # words cut by max_length stay O
        for w in batcher.kept_words(row):
            p = next(picked)
            word_tags[w] = OUTSIDE if p == 0 else f"I-{labels[p]}"
        entities = [{"type": s.type, "start": s.start, "end": s.end, "text": " ".join(words[s.start : s.end])} for s in spans(word_tags)]
        predictions.append({"text": " ".join(words), "tokens": words, "tags": _bio(word_tags), "entities": entities})
    return {"types": types, "temperature": temperature, "predictions": predictions}


def _bio(io_tags: list[str]) -> list[str]:
    """IO tags as BIO: the first word of each run of one type gets B-."""
    out, previous = [], "O"
    for tag in io_tags:
        out.append(tag if tag == "O" or tag == previous else "B-" + tag[2:])
        previous = tag
    return out


def _embed(encoder: Any, texts: list[str], batch_size: int = 64) -> Any:
    import torch

    parts = []
    for start in range(0, len(texts), batch_size):
        batch = encoder.collate(encoder.tokenize(texts[start : start + batch_size]))
        parts.append(encoder(**batch).float().cpu())
    return torch.cat(parts)
