"""A text's perplexity under a language-modelling run, before and after the run's method
adapts to a few documents (``metalab-engine perplexity``).

The documents become the support set and the text the query of one episode of a domain
made up here, and the run's own method scores it, exactly as at meta-test: MAML's and
Reptile's inner steps on its scope (LoRA, top layers, everything), ANIL's head steps, or
no adaptation at all for fine-tuning. *Before* is the trained model as saved, scoring the
text with its own next-token head. The method object is rebuilt the way a resumed run
rebuilds it (its model with adapters unmerged, then its saved state), so nothing here
knows any method by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import UserError

DOMAIN = "pasted"  # the one domain of the episode made here


def check_request(request: dict[str, Any]) -> tuple[str, list[str]]:
    """(text, documents) from ``{"text": ..., "documents": [...]}``."""
    text, documents = request.get("text"), request.get("documents")
    if not isinstance(text, str) or not text.strip():
        raise UserError('"text" must be a non-empty text (the one to score)')
    if not isinstance(documents, list) or not documents:
        raise UserError('"documents" must be a non-empty list of texts to adapt on')
    for i, document in enumerate(documents):
        if not isinstance(document, str) or not document.strip():
            raise UserError(f"document {i + 1} is empty")
    return text, [str(d) for d in documents]


def adapted_perplexity(db_path: Path, run_id: str, request: dict[str, Any], *, device: str = "cpu") -> dict[str, Any]:
    import torch

    from engine import tasks
    from engine.config import RunConfig
    from engine.data import Episode, TextDataset
    from engine.inference import weights_dir
    from engine.methods import build_run_model, load
    from engine.catalog import get as get_spec
    from engine.tasks import TaskData
    from engine.tasks.language_modeling import token_metrics
    from engine.training.checkpoints import load_checkpoint
    from engine.training.devices import resolve_device

    text, documents = check_request(request)
    weights, meta, _ = load_checkpoint(weights_dir(db_path, run_id))
    config = RunConfig.from_dict(meta["config"])
    task = tasks.get(config.task.type)
    if not task.model_head:
        raise UserError(f"run {run_id} is a {config.task.type} run: perplexity needs a language-modelling run")
    torch.manual_seed(config.train.seed)
    target = resolve_device(device)
    dataset = TextDataset("pasted", "text", "domain", [*documents, text], [DOMAIN] * (len(documents) + 1))
    support, query = tuple(range(len(documents))), (len(documents),)
    data = TaskData(task, dataset, "episodic", 1, len(documents), 1, train_rows=list(support), label_names=[DOMAIN])
    encoder = build_run_model(config).to(target)
    method = load(config.method.name)(encoder, dict(config.method.params), data, device=target, seed=config.train.seed, total_steps=1)
    method.setup()
    method.load_state_dict(weights)
    encoder.eval()
    episode = Episode(0, (DOMAIN,), support, (0,) * len(support), query, (0,))
    _, targets = task.episode_targets(method.batcher, episode)
    with torch.no_grad():
        before = encoder(**method.batch(list(query))) @ encoder.output_weight().T
    method.begin_eval([*support, *query])
    after = method.predict(episode)
    method.end_eval()
    scored = int(targets.numel())
    return {
        "run_id": run_id,
        "method": config.method.name,
        "adaptation": describe_adaptation(get_spec(config.method.name).validate_params(dict(config.method.params))),
        "documents": len(documents),
        "tokens": scored,
        "max_length": config.model.max_length,
        "truncated": truncated(encoder, [text], config.model.max_length),
        "before": token_metrics(before, targets),
        "after": token_metrics(after, targets),
    }


def describe_adaptation(params: dict[str, Any]) -> str:
    """What the method does on the documents, read from shared parameter names only."""
    steps = params.get("inner_steps_test")
    if not isinstance(steps, int) or isinstance(steps, bool):
        return "none: the method scores with the trained model as it is"
    scope = params.get("scope")
    return f"{steps} inner step{'s' if steps != 1 else ''}" + (f" on scope '{scope}'" if scope else "")


def truncated(encoder: Any, texts: Sequence[str], max_length: int) -> bool:
    """Whether any text is longer than the ``max_length`` tokens a run scores."""
    full = encoder.tokenizer(list(texts), truncation=False, padding=False)["input_ids"]
    return any(len(ids) > max_length for ids in full)
