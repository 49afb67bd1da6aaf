"""Tagged sentences as HTML with each entity highlighted in its type's colour, for the NER
dataset preview and Try a model. Qt-free, so it is tested as plain strings."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from engine.data.spans import spans

# Light backgrounds that dark text reads on, distinct enough side by side; reused past 20 types.
PALETTE = (
    "#ffd8a8", "#b2f2bb", "#a5d8ff", "#ffc9c9", "#d0bfff", "#fff3bf", "#99e9f2", "#fcc2d7", "#c0eb75", "#e9ecef",
    "#ffe066", "#8ce99a", "#74c0fc", "#ffa8a8", "#b197fc", "#ffd43b", "#66d9e8", "#f783ac", "#a9e34b", "#ced4da",
)
NO_SPACE_BEFORE = {".", ",", "?", "!", ";", ":", ")", "]", "}", "%", "'s", "n't"}
NO_SPACE_AFTER = {"(", "[", "{"}


def type_colors(types: Iterable[str]) -> dict[str, str]:
    """Type -> background colour, by sorted name, so a type keeps its colour across views."""
    return {kind: PALETTE[i % len(PALETTE)] for i, kind in enumerate(sorted(set(types)))}


def sentence_html(tokens: Sequence[str], tags: Sequence[str], colors: dict[str, str]) -> str:
    """The sentence as text, each entity in a coloured box with its type in small capitals after it."""
    starts = {span.start: span for span in spans(tags)}
    pieces: list[str] = []
    position = 0
    while position < len(tokens):
        span = starts.get(position)
        if span is None:
            words, end = [tokens[position]], position + 1
        else:
            words, end = list(tokens[span.start : span.end]), span.end
        text = html.escape(_join(words))
        if span is not None:
            color = colors.get(span.type, PALETTE[-1])
            text = (
                f"<span style='background-color:{color}; color:#111'>&nbsp;{text}&nbsp;"
                f"<small><b>{html.escape(span.type)}</b></small>&nbsp;</span>"
            )
        if pieces and tokens[position] not in NO_SPACE_BEFORE and tokens[position - 1] not in NO_SPACE_AFTER:
            pieces.append(" ")
        pieces.append(text)
        position = end
    return "".join(pieces)


def legend_html(counts: dict[str, int], colors: dict[str, str]) -> str:
    """One coloured chip per type with its number of mentions, most frequent first."""
    chips = [
        f"<span style='background-color:{colors.get(kind, PALETTE[-1])}; color:#111'>&nbsp;{html.escape(kind)} {count}&nbsp;</span>"
        for kind, count in counts.items()
    ]
    return " ".join(chips)


def _join(words: Sequence[str]) -> str:
    text = ""
    for index, word in enumerate(words):
        if index and word not in NO_SPACE_BEFORE and words[index - 1] not in NO_SPACE_AFTER:
            text += " "
        text += word
    return text


def preview_html(sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], counts: dict[str, int]) -> str:
    """A dataset preview: the legend (mentions per type), then one sentence per paragraph."""
    colors = type_colors(counts)
    lines = [f"<p>{legend_html(counts, colors)}</p>"]
    lines += [f"<p>{sentence_html(tokens, sentence_tags, colors)}</p>" for tokens, sentence_tags in zip(sentences, tags)]
    return "\n".join(lines)
