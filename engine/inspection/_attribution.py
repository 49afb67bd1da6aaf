"""Which words drove a prediction of Try a model: integrated gradients (captum) through the
word embeddings of the adapted model, for the probability of the label it predicted.

The model is the one ``engine.inference.predict`` uses: the run's trained encoder with the
support examples' class means as a nearest-mean classifier. The baseline is the same text
with every word token replaced by padding (special tokens kept), so a word's score is how
much it moved that probability from "no words at all"; scores of a word's sub-tokens add up.
"""

from __future__ import annotations

from typing import Any

STEPS = 24  # integration steps: the completeness gap (``delta``) is a few % of the scores at this count


def explain(encoder: Any, request: dict[str, Any], answer: dict[str, Any], *, steps: int = STEPS) -> None:
    """Adds ``words`` (``text``, ``start``, ``end``, ``score``, ``weight`` in [-1, 1]) and
    ``delta`` to each prediction of ``answer`` (from ``predict``), in place."""
    import torch
    import torch.nn.functional as F
    from captum.attr import LayerIntegratedGradients

    from engine.errors import UserError
    from engine.inference import _embed, check_request, is_token_request

    if is_token_request(request):
        raise UserError("--explain is for text classification requests (support {text, label}), not token tags")
    texts, labels, _ = check_request(request)
    classes = answer["classes"]
    temperature = float(answer["temperature"])
    with torch.no_grad():
        support = F.normalize(_embed(encoder, texts), dim=-1).to(encoder.device)
        index = torch.tensor([classes.index(label) for label in labels], device=encoder.device)
        means = F.normalize(torch.stack([support[index == c].mean(0) for c in range(len(classes))]), dim=-1)

    def probability(input_ids: torch.Tensor, attention_mask: torch.Tensor, target: int) -> torch.Tensor:
        embedding = F.normalize(encoder(input_ids, attention_mask), dim=-1)
        return torch.softmax(temperature * embedding @ means.T, dim=-1)[:, target]

    layer = encoder.backbone.get_input_embeddings()
    integrated = LayerIntegratedGradients(probability, layer)
    tokenizer = encoder.tokenizer
    for prediction in answer["predictions"]:
        encoded = tokenizer(prediction["text"], truncation=True, max_length=encoder.max_length,
                            return_offsets_mapping=bool(getattr(tokenizer, "is_fast", False)), return_tensors="pt")
        input_ids = encoded["input_ids"].to(encoder.device)
        mask = encoded["attention_mask"].to(encoder.device)
        special = torch.tensor(tokenizer.get_special_tokens_mask(input_ids[0].tolist(), already_has_special_tokens=True),
                               dtype=torch.bool, device=encoder.device)
        baseline = torch.where(special, input_ids[0], torch.full_like(input_ids[0], tokenizer.pad_token_id or 0)).unsqueeze(0)
        target = classes.index(prediction["label"])
        attributions, delta = integrated.attribute(
            input_ids, baselines=baseline, additional_forward_args=(mask, target), n_steps=steps, return_convergence_delta=True,
        )
        token_scores = attributions.sum(-1)[0].detach().cpu().tolist()
        prediction["words"] = _words(encoded, token_scores, special.tolist(), tokenizer, input_ids[0].tolist(), prediction["text"])
        prediction["delta"] = float(delta.abs().max())
        top = max((abs(w["score"]) for w in prediction["words"]), default=0.0)
        for word in prediction["words"]:
            word["weight"] = word["score"] / top if top > 0 else 0.0


def _words(encoded: Any, scores: list[float], special: list[bool], tokenizer: Any, ids: list[int], text: str) -> list[dict[str, Any]]:
    """Token scores summed per word, with the word's character span in the text when the tokenizer gives one."""
    word_ids = encoded.word_ids(0) if getattr(tokenizer, "is_fast", False) else None
    if word_ids is None:  # a slow tokenizer: one entry per token, no spans
        tokens = tokenizer.convert_ids_to_tokens(ids)
        return [{"text": t, "start": None, "end": None, "score": s} for t, s, sp in zip(tokens, scores, special, strict=True) if not sp]
    offsets = encoded["offset_mapping"][0].tolist()
    words: dict[int, dict[str, Any]] = {}
    for word_id, (start, end), score, is_special in zip(word_ids, offsets, scores, special, strict=True):
        if word_id is None or is_special:
            continue
        word = words.setdefault(word_id, {"start": start, "end": end, "score": 0.0})
        word["end"] = end
        word["score"] += score
    return [{"text": text[w["start"] : w["end"]], **w} for w in words.values()]
