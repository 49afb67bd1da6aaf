"""Entity spans from BIO tags, in one place: extracting them, checking a gold sequence,
and entity-level precision / recall / micro-F1 (exact span and type).

Extraction follows seqeval's default (conlleval) reading, so scores equal seqeval's: an
``I-X`` after ``O`` or after another type starts a new entity. Gold data is held to strict
IOB2 by ``bio_problem`` (the loaders refuse an ``I-`` with no ``B-``); predictions are not.
Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

OUTSIDE = "O"


class Span(NamedTuple):
    type: str
    start: int  # first token
    end: int  # one past the last token


def split_tag(tag: str) -> tuple[str, str]:
    """('B' | 'I' | 'O', type): 'B-city' -> ('B', 'city'); 'O' -> ('O', '')."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def spans(tags: Sequence[str]) -> list[Span]:
    """The entities in one tag sequence, in order."""
    found: list[Span] = []
    start, current = -1, ""
    for position, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        continues = prefix == "I" and start >= 0 and kind == current
        if start >= 0 and not continues:
            found.append(Span(current, start, position))
            start, current = -1, ""
        if prefix in ("B", "I") and not continues:
            start, current = position, kind
    if start >= 0:
        found.append(Span(current, start, len(tags)))
    return found


def bio_problem(tags: Sequence[str]) -> tuple[int, str] | None:
    """(token position, what is wrong) for the first tag that breaks strict IOB2, else None."""
    previous = OUTSIDE
    for position, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        if prefix not in ("B", "I", OUTSIDE) or (prefix != OUTSIDE and not kind):
            return position, f"tag '{tag}' is not BIO (use O, B-TYPE or I-TYPE)"
        if prefix == "I" and previous not in (f"B-{kind}", f"I-{kind}"):
            return position, f"tag '{tag}' follows '{previous}' with no B-{kind} before it"
        previous = tag
    return None


class EntityCounts(NamedTuple):
    """Entities in the gold tags, in the predicted tags, and in both (exact span and type)."""

    true: int
    predicted: int
    correct: int

    def __add__(self, other: object) -> EntityCounts:
        if not isinstance(other, EntityCounts):
            return NotImplemented
        return EntityCounts(self.true + other.true, self.predicted + other.predicted, self.correct + other.correct)


def entity_counts(true: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> EntityCounts:
    """Counts over a list of sentences (gold and predicted tag sequences of equal lengths)."""
    if len(true) != len(predicted):
        raise ValueError(f"{len(true)} gold sentences, {len(predicted)} predicted")
    n_true = n_predicted = n_correct = 0
    for index, (gold, guess) in enumerate(zip(true, predicted)):
        if len(gold) != len(guess):
            raise ValueError(f"sentence {index}: {len(gold)} gold tags, {len(guess)} predicted")
        gold_spans, guess_spans = set(spans(gold)), set(spans(guess))
        n_true += len(gold_spans)
        n_predicted += len(guess_spans)
        n_correct += len(gold_spans & guess_spans)
    return EntityCounts(n_true, n_predicted, n_correct)


def entity_scores(counts: EntityCounts) -> dict[str, float]:
    """precision, recall and f1 (micro over entities); 0 where a ratio has no denominator, as in seqeval."""
    precision = counts.correct / counts.predicted if counts.predicted else 0.0
    recall = counts.correct / counts.true if counts.true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def entity_f1(true: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, float]:
    """Entity-level precision, recall and micro-F1 of predicted tags against gold tags."""
    return entity_scores(entity_counts(true, predicted))
