"""Prompts for in-context learning with a decoder, and how they are scored (``icl``, ``metaicl``).

A prompt is the support set written with the method's ``template`` as demonstrations, then
the query written up to ``{label}``. Each label's score is the decoder's log-likelihood of
its verbaliser (``verbalizers``, else the label's own text), summed over its tokens. White
space before ``{label}`` moves into the verbaliser ("Label:" + " positive"), as a BPE
tokenizer would split the joined text.

Sequences are tokenized in pieces that are cached: a start token (the model's BOS), one
piece per demonstration row, the query piece, the verbaliser. Batches are *left*-padded
with an attention mask and position ids that skip the pads, so every sequence ends at the
last column and the model computes logits for the last few positions only
(``logits_to_keep``): the verbaliser tokens, whatever each prompt's length. At scoring
time the demonstrations, shared by an episode's prompts, are read once and their keys and
values reused (``prefix_cached_log_likelihood``); training (MetaICL) reads whole prompts.

``calibration = "contextual"`` (Zhao et al. 2021) scores the same demonstrations with the
content-free query "N/A" and divides each label's normalised probability by it (a
subtraction of log-probabilities).

A prompt must fit ``model.max_length`` tokens: ``check_prompt_fit`` measures the
meta-test and meta-val episodes before a run starts (``validate`` runs it too) and names
the ``task.k_shot`` that fits when the asked one does not.
"""

from __future__ import annotations

import copy
import inspect
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from engine.data import Episode
from engine.errors import ConfigError, UserError

CONTENT_FREE = "N/A"
TEXT, LABEL = "{text}", "{label}"
Demo = tuple[str, str]  # a demonstration: (text, label)
Pair = tuple[list[int], list[int]]  # token ids: (context, continuation)


def parse_verbalizers(text: str, *, key: str = "method.params.verbalizers") -> dict[str, str]:
    """``"pos=great, neg=terrible"`` -> {"pos": "great", "neg": "terrible"}; empty -> {}."""
    out: dict[str, str] = {}
    for pair in (p.strip() for p in text.split(",")):
        if not pair:
            continue
        label, sep, word = pair.partition("=")
        if not sep or not label.strip() or not word.strip():
            raise ConfigError(f"'{key}' takes label=word pairs separated by commas, got {pair!r}")
        out[label.strip()] = word.strip()
    return out


def template_problem(template: str) -> str | None:
    """Why a template cannot build prompts, or None."""
    if template.count(TEXT) != 1 or template.count(LABEL) != 1:
        return f"'method.params.template' needs {TEXT} and {LABEL} once each, got {template!r}"
    if template.index(TEXT) > template.index(LABEL):
        return (f"'method.params.template' must put {TEXT} before {LABEL} "
                "(the label is what the model says after the text)")
    return None


@dataclass(frozen=True)
class PromptFormat:
    """How rows become text: a demonstration per support row, then the query up to its label."""

    template: str
    verbalizers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_params(cls, hp: Any) -> PromptFormat:
        problem = template_problem(hp.template)
        if problem:
            raise ConfigError(problem)
        return cls(hp.template, parse_verbalizers(hp.verbalizers))

    def word(self, label: str) -> str:
        return self.verbalizers.get(label, label)

    def demonstration(self, text: str, label: str) -> str:
        before, after = self.template.split(LABEL)
        return before.replace(TEXT, text, 1) + self.word(label) + after

    def query(self, text: str) -> tuple[str, str]:
        """(the query's text up to the label, the white space the verbaliser starts with)."""
        before = self.template.split(LABEL)[0].replace(TEXT, text, 1)
        stripped = before.rstrip()
        return stripped, before[len(stripped) :]

    def prompt(self, demonstrations: Sequence[Demo], text: str) -> str:
        """The whole prompt as the model reads it, up to (not with) the verbaliser."""
        return "".join(self.demonstration(t, label) for t, label in demonstrations) + self.query(text)[0]


class PromptScorer:
    """Token pieces of prompts, cached, and the log-likelihood of verbalisers after them
    (``model``: the causal LM; without one it only measures prompts, for ``validate``)."""

    def __init__(self, tokenizer: Any, fmt: PromptFormat, *, start: list[int], max_length: int, model: Any = None,
                 batch_size: int = 16, prefix_cache: bool = True):
        self.prefix_cache = prefix_cache
        self.tokenizer = tokenizer
        self.fmt = fmt
        self.start = start
        self.max_length = max_length
        self.model = model
        self.batch_size = batch_size
        self._ids: dict[str, list[int]] = {}

    @classmethod
    def for_encoder(cls, encoder: Any, fmt: PromptFormat, **options: Any) -> PromptScorer:
        """A scorer over a loaded decoder (``DecoderEncoder``): its tokenizer, BOS and max_length."""
        bos = getattr(encoder.backbone.config, "bos_token_id", None)
        return cls(encoder.tokenizer, fmt, start=start_tokens(encoder.tokenizer, bos),
                   max_length=encoder.max_length, model=encoder.backbone, **options)

    def ids(self, text: str) -> list[int]:
        if text not in self._ids:
            self._ids[text] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return self._ids[text]

    def prefix(self, demonstrations: Sequence[Demo]) -> list[int]:
        """The start token and the demonstrations: what every prompt of an episode begins with."""
        out = list(self.start)
        for demo_text, label in demonstrations:
            out += self.ids(self.fmt.demonstration(demo_text, label))
        return out

    def context(self, demonstrations: Sequence[Demo], text: str) -> list[int]:
        return self.prefix(demonstrations) + self.ids(self.fmt.query(text)[0])

    def continuation(self, text: str, label: str) -> list[int]:
        return self.ids(self.fmt.query(text)[1] + self.fmt.word(label))

    def label_scores(self, demonstrations: Sequence[Demo], queries: Sequence[str], labels: Sequence[str]) -> torch.Tensor:
        """[queries, labels]: the summed log-likelihood of each label's verbaliser after each prompt.
        The demonstrations, shared by every prompt of the call, are read once (``prefix_cache``)."""
        prefix = self.prefix(demonstrations)
        tails = [(self.ids(self.fmt.query(q)[0]), self.continuation(q, label)) for q in queries for label in labels]
        self.check_length(len(prefix) + max(len(c) + len(v) for c, v in tails))
        with torch.no_grad():
            if self.prefix_cache and prefix and all(query for query, _ in tails):
                scores = prefix_cached_log_likelihood(
                    self.model, prefix, tails, batch_size=self.batch_size, pad_id=self.pad_id
                )
            else:
                pairs = [(prefix + query, continuation) for query, continuation in tails]
                scores = torch.cat([
                    sequence_log_likelihood(self.model, pairs[i : i + self.batch_size], pad_id=self.pad_id)
                    for i in range(0, len(pairs), self.batch_size)
                ])
        return scores.view(len(queries), len(labels)).float()

    def classify(self, demonstrations: Sequence[Demo], queries: Sequence[str], labels: Sequence[str], *,
                 calibration: str) -> torch.Tensor:
        """[queries, labels] logits: log-likelihoods, or with contextual calibration the
        normalised log-probabilities less those after the content-free query."""
        scores = self.label_scores(demonstrations, queries, labels)
        if calibration == "contextual":
            content_free = self.label_scores(demonstrations, [CONTENT_FREE], labels)
            scores = F.log_softmax(scores, -1) - F.log_softmax(content_free, -1)
        return scores

    def check_length(self, needed: int) -> None:
        if needed > self.max_length:
            raise UserError(
                f"the prompt needs {needed} tokens but model.max_length is {self.max_length}: "
                "give fewer or shorter demonstrations, or raise model.max_length"
            )

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id or 0


def start_tokens(tokenizer: Any, bos: int | None) -> list[int]:
    """What a decoder reads first: its BOS token (``bos``: the model config's, else the tokenizer's), if any."""
    if bos is None:
        bos = tokenizer.bos_token_id
    return [] if bos is None else [int(bos)]


def left_padded(pairs: Sequence[Pair], *, pad_id: int, device: torch.device) -> dict[str, torch.Tensor]:
    """input_ids, attention_mask and position_ids of context + continuation, padded on the left."""
    width = max(len(c) + len(v) for c, v in pairs)
    input_ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(pairs), width), dtype=torch.long)
    for row, (context, continuation) in enumerate(pairs):
        seq = context + continuation
        input_ids[row, width - len(seq) :] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, width - len(seq) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # pads take no position: a sequence starts at 0 where it starts
    return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device), "position_ids": positions.to(device)}


def sequence_log_likelihood(model: Any, pairs: Sequence[Pair], *, pad_id: int) -> torch.Tensor:
    """[pairs]: the summed log-probability of each continuation after its context (gradients
    flow when enabled). Only the last ``longest continuation + 1`` positions get logits."""
    token_lp, keep = continuation_log_probs(model, pairs, pad_id=pad_id)
    return (token_lp * keep).sum(-1)


def continuation_log_probs(model: Any, pairs: Sequence[Pair], *, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """([pairs, longest continuation] log-probabilities of each continuation token, a 0/1 mask
    of the real ones). Continuations are right-aligned: the last column is every pair's last token."""
    batch = left_padded(pairs, pad_id=pad_id, device=next(model.parameters()).device)
    return _continuation_scores(model, batch, [len(v) for _, v in pairs])


def prefix_cached_log_likelihood(model: Any, prefix: list[int], tails: Sequence[Pair], *,
                                 batch_size: int, pad_id: int) -> torch.Tensor:
    """[tails]: ``sequence_log_likelihood`` of ``(prefix + query, continuation)`` for each
    (query, continuation) tail, reading the shared prefix once: its keys and values are
    cached and repeated over each batch of tails. A tail's pads sit between the prefix and
    the tail, masked, and its positions go on from the prefix's."""
    device = next(model.parameters()).device
    cache = model(input_ids=torch.tensor([prefix], device=device), use_cache=True).past_key_values
    scores = []
    for i in range(0, len(tails), batch_size):
        chunk = tails[i : i + batch_size]
        batch = left_padded(chunk, pad_id=pad_id, device=device)
        mask = batch["attention_mask"]
        batch["attention_mask"] = torch.cat([mask.new_ones(len(chunk), len(prefix)), mask], 1)
        batch["position_ids"] = batch["position_ids"] + len(prefix)
        repeated = copy.deepcopy(cache)
        repeated.batch_repeat_interleave(len(chunk))
        batch["past_key_values"] = repeated
        token_lp, keep = _continuation_scores(model, batch, [len(v) for _, v in chunk])
        scores.append((token_lp * keep).sum(-1))
    return torch.cat(scores)


def _continuation_scores(model: Any, batch: dict[str, Any], lengths: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probabilities of the last ``max(lengths)`` tokens of each row, a 0/1 mask of each
    row's own ``lengths`` of them): one forward pass of a left-padded batch."""
    longest = max(lengths)
    targets = batch["input_ids"][:, -longest:]
    accepts = inspect.signature(model.forward).parameters
    if "position_ids" not in accepts:  # a model with relative positions (ALiBi) reads the mask alone
        batch.pop("position_ids")
    if "logits_to_keep" in accepts:
        batch["logits_to_keep"] = longest + 1
    logits = model(**batch, use_cache="past_key_values" in batch).logits
    logits = logits[:, -(longest + 1) : -1].float()  # each predicts the token after it: the last `longest`
    token_lp = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    keep = torch.zeros_like(token_lp)
    for row, length in enumerate(lengths):
        keep[row, longest - length :] = 1.0
    return token_lp, keep


# --- episodes -----------------------------------------------------------------------------

def demonstrations(episode: Episode, texts: Sequence[str]) -> list[Demo]:
    """The support rows as (text, class) pairs, in an order seeded by the episode: grouped by
    class, the class written last would be favoured (recency)."""
    support = zip(episode.support, episode.support_labels, strict=True)
    pairs = [(texts[row], episode.classes[label]) for row, label in support]
    random.Random(episode.key).shuffle(pairs)
    return pairs


def prompt_length(scorer: PromptScorer, episode: Episode, texts: Sequence[str]) -> int:
    """Tokens of the episode's longest sequence (its longest query with its longest verbaliser)."""
    demos = demonstrations(episode, texts)
    base = len(scorer.start) + sum(len(scorer.ids(scorer.fmt.demonstration(t, label))) for t, label in demos)
    longest_query = max(len(scorer.ids(scorer.fmt.query(texts[q])[0])) for q in episode.query)
    longest_word = max(len(scorer.continuation(texts[episode.query[0]], label)) for label in episode.classes)
    return base + longest_query + longest_word


def check_prompt_fit(scorer: PromptScorer, samplers: dict[str, tuple[Any, int]], texts: Sequence[str]) -> str:
    """A UserError naming the tokens the longest prompt needs, and the ``task.k_shot`` that
    fits, when a prompt of the episodes of ``samplers`` ({name: (sampler, count)}) does not
    fit; else a line saying how much of model.max_length the longest one takes."""
    max_length = scorer.max_length
    needed, where = _longest(scorer, samplers, texts)
    if needed <= max_length:
        return f"every in-context prompt fits: the longest needs {needed} of {max_length} tokens (model.max_length)"
    k_shot = next(iter(samplers.values()))[0].k_shot
    for fewer in range(k_shot - 1, 0, -1):
        fits, _ = _longest(scorer, {n: (_with_k(s, fewer), c) for n, (s, c) in samplers.items()}, texts)
        if fits <= max_length:
            advice = f"task.k_shot = {fewer} fits ({fits} tokens at most), or raise model.max_length"
            break
    else:
        advice = "even one demonstration per class does not fit: raise model.max_length or use shorter texts"
    raise UserError(
        f"the in-context prompt of {where} needs {needed} tokens but model.max_length is {max_length}; "
        f"give fewer demonstrations per class: {advice}"
    )


def _longest(scorer: PromptScorer, samplers: dict[str, tuple[Any, int]], texts: Sequence[str]) -> tuple[int, str]:
    best, where = 0, ""
    for name, (sampler, count) in samplers.items():
        for episode in sampler.episodes(count):
            length = prompt_length(scorer, episode, texts)
            if length > best:
                best, where = length, f"{name} episode {episode.index}"
    return best, where


def _with_k(sampler: Any, k_shot: int) -> Any:
    fewer = copy.copy(sampler)
    fewer.k_shot = k_shot
    return fewer
