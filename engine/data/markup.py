"""Sentences typed by a person, with entities marked inline: ``[Ada Lovelace](PERSON) lives
in [Turin](CITY).`` <-> tokens and BIO tags. Try a model and ``predict`` read examples this
way; plain text (no brackets) is just tokenized. Torch-free."""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.data.spans import spans

# Words (with inner apostrophes, hyphens, dots or ampersands: "don't", "e-bike", "U.K")
# and single punctuation marks: the tokens the bundled NER data uses.
_TOKEN = re.compile(r"\w+(?:['’\-.&]\w+)*|[^\w\s]")
_MARK = re.compile(r"\[([^\[\]]+)\]\(([^()\s]+)\)")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def parse_marked(text: str) -> tuple[list[str], list[str]]:
    """(tokens, BIO tags) of a marked sentence; ValueError with a short reason if malformed."""
    tokens: list[str] = []
    tags: list[str] = []
    position = 0
    for match in _MARK.finditer(text):
        _plain(text[position : match.start()], tokens, tags)
        words = tokenize(match.group(1))
        if not words:
            raise ValueError(f"'[{match.group(1)}]' marks no words")
        kind = match.group(2)
        tokens += words
        tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
        position = match.end()
    _plain(text[position:], tokens, tags)
    if not tokens:
        raise ValueError("no words")
    return tokens, tags


def _plain(text: str, tokens: list[str], tags: list[str]) -> None:
    if "[" in text or "]" in text:
        raise ValueError("write an entity as [words](TYPE), e.g. [Ada Lovelace](PERSON)")
    words = tokenize(text)
    tokens += words
    tags += ["O"] * len(words)


def marked(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """The inverse of ``parse_marked``: tokens joined by spaces, entities in brackets."""
    starts = {span.start: span for span in spans(tags)}
    pieces: list[str] = []
    position = 0
    while position < len(tokens):
        span = starts.get(position)
        if span is None:
            pieces.append(tokens[position])
            position += 1
        else:
            pieces.append(f"[{' '.join(tokens[span.start : span.end])}]({span.type})")
            position = span.end
    return " ".join(pieces)
