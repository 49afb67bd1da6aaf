"""Loading token-tagged sentences (named-entity recognition) from CoNLL, JSONL, Parquet,
an HF ``datasets`` folder, or a bundled dataset. Torch-free: the GUI previews through it.

- CoNLL (``.conll``, ``.bio``, ``.iob``, ``.txt``): one token per line, its tag in the last
  whitespace-separated field (``token<TAB>tag``, ``token tag`` or CoNLL-2003's four columns);
  a blank line between sentences; ``-DOCSTART-`` lines skipped.
- Rows (JSONL, Parquet, HF): a list of tokens and a list of tags per row. Columns are guessed
  (``tokens``/``words``, ``tags``/``ner_tags``/...); integer tags are mapped to their
  ``ClassLabel`` names from the HF features stored with the data.

Tags must be strict IOB2 (``O``, ``B-TYPE``, ``I-TYPE`` after ``B-TYPE``). Every failure is
a ``DatasetError`` naming the file and the line (or row) in one line; nothing is returned half-read.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.data.loaders import (
    BUNDLED_PREFIX,
    CONLL_SUFFIXES,
    _check_text_file,
    _load_hf_folder,
    _load_parquet,
    _open_text,
    numbered_jsonl_rows,
    resolve_path,
)
from engine.data.spans import bio_problem, spans
from engine.errors import DatasetError

TOKENS_NAMES = ("tokens", "words", "token", "word")
TAGS_NAMES = ("tags", "ner_tags", "ner", "labels", "tag", "label")
ROW_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet")
DOCSTART = "-DOCSTART-"


@dataclass
class TaggedDataset:
    """Sentences as token lists, each with its list of BIO tags (same length)."""

    source: str
    tokens_column: str  # "" for CoNLL files
    tags_column: str
    sentences: list[list[str]]
    tags: list[list[str]]
    columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sentences)

    def mention_counts(self) -> dict[str, int]:
        """Entity mentions per type, most frequent first."""
        counts: Counter[str] = Counter(span.type for tags in self.tags for span in spans(tags))
        return dict(counts.most_common())

    def entity_types(self) -> list[str]:
        return sorted(self.mention_counts())

    def fingerprint(self) -> str:
        """Hash of tokens and tags: equal fingerprints mean the same data in the same order."""
        digest = hashlib.sha256()
        for tokens, tags in zip(self.sentences, self.tags):
            for token, tag in zip(tokens, tags):
                digest.update(token.encode("utf-8", "surrogatepass"))
                digest.update(b"\x1f")
                digest.update(tag.encode("utf-8", "surrogatepass"))
                digest.update(b"\x1d")
            digest.update(b"\x1e")
        return digest.hexdigest()[:16]


def is_conll(path: str) -> bool:
    return resolve_path(path).suffix.lower() in CONLL_SUFFIXES


def load_tagged_dataset(path: str, tokens_column: str = "", tags_column: str = "", *, limit: int | None = None) -> TaggedDataset:
    """The sentences of a token/tag file (the first ``limit`` for a preview), checked."""
    file = resolve_path(path)
    source = path if path.startswith(BUNDLED_PREFIX) else str(file)
    if not file.exists():
        raise DatasetError("file not found", source=source)
    if file.is_file() and file.stat().st_size == 0:
        raise DatasetError("the file is empty", source=source)
    if file.is_file() and file.suffix.lower() in CONLL_SUFFIXES:
        _check_text_file(file, source)
        sentences, tags = _read_conll(file, source, limit)
        dataset = TaggedDataset(source, "", "", sentences, tags)
    elif file.is_dir() or file.suffix.lower() in ROW_SUFFIXES:
        dataset = _read_rows(file, source, tokens_column, tags_column, limit)
    else:
        raise DatasetError(
            f"unsupported file type '{file.suffix or '(none)'}' for tagged tokens "
            f"(use {', '.join(CONLL_SUFFIXES)} (CoNLL), .jsonl, .parquet or an HF datasets folder)",
            source=source,
        )
    if not dataset.sentences:
        raise DatasetError("no sentences", source=source)
    return dataset


# --- CoNLL ---------------------------------------------------------------------------

def _read_conll(file: Path, source: str, limit: int | None) -> tuple[list[list[str]], list[list[str]]]:
    sentences: list[list[str]] = []
    all_tags: list[list[str]] = []
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0

    def close_sentence() -> None:
        problem = bio_problem(tags)
        if problem is not None:
            position, message = problem
            raise DatasetError(f"line {first_line + position}: {message}", source=source)
        sentences.append(tokens.copy())
        all_tags.append(tags.copy())
        tokens.clear()
        tags.clear()

    try:
        with _open_text(file, source) as handle:
            for line_no, line in enumerate(handle, start=1):
                fields = line.split()
                if not fields or fields[0] == DOCSTART:
                    if tokens:
                        close_sentence()
                        if limit and len(sentences) >= limit:
                            break
                    continue
                if len(fields) < 2:
                    raise DatasetError(f"line {line_no} has a token but no tag (expected 'token<TAB>tag')", source=source)
                if not tokens:
                    first_line = line_no
                tokens.append(fields[0])
                tags.append(fields[-1])
            else:
                if tokens:
                    close_sentence()
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text ({exc.reason})", source=source) from None
    return sentences, all_tags


# --- rows: JSONL, Parquet, HF datasets -------------------------------------------------

def _read_rows(file: Path, source: str, tokens_column: str, tags_column: str, limit: int | None) -> TaggedDataset:
    if file.is_dir() or file.suffix.lower() == ".parquet":
        table = _load_hf_folder(file, source) if file.is_dir() else _load_parquet(file, source)
        columns = list(table.column_names)
        tag_names = _class_label_names(file, table)
        rows: Iterator[tuple[str, dict[str, Any]]] = (
            (f"row {i}", row) for i, row in enumerate(_arrow_rows(table), start=1)
        )
    else:
        _check_text_file(file, source)
        numbered = numbered_jsonl_rows(file, source)
        first = next(numbered, None)
        if first is None:
            raise DatasetError("no sentences", source=source)
        columns = list(first[1])
        tag_names = {}
        rows = ((f"line {n}", row) for n, row in _chain(first, numbered))
    tokens_column, tags_column = _choose_columns(columns, tokens_column, tags_column, source)
    names = tag_names.get(tags_column)
    sentences: list[list[str]] = []
    all_tags: list[list[str]] = []
    for where, row in rows:
        tokens = _as_list(row.get(tokens_column), where, tokens_column, source)
        tags = _as_list(row.get(tags_column), where, tags_column, source)
        if not tokens:
            raise DatasetError(f"{where}: empty sentence (no tokens)", source=source)
        if len(tokens) != len(tags):
            raise DatasetError(f"{where}: {len(tokens)} tokens but {len(tags)} tags", source=source)
        tokens = [_token(t, where, source) for t in tokens]
        tags = [_tag(t, names, where, tags_column, source) for t in tags]
        problem = bio_problem(tags)
        if problem is not None:
            position, message = problem
            raise DatasetError(f"{where}, token {position + 1}: {message}", source=source)
        sentences.append(tokens)
        all_tags.append(tags)
        if limit and len(sentences) >= limit:
            break
    return TaggedDataset(source, tokens_column, tags_column, sentences, all_tags, columns)


def _chain(first: tuple[int, dict[str, Any]], rest: Iterator[tuple[int, dict[str, Any]]]) -> Iterator[tuple[int, dict[str, Any]]]:
    yield first
    yield from rest


def _arrow_rows(table: Any) -> Iterator[dict[str, Any]]:
    for batch in table.to_batches(max_chunksize=10_000):
        yield from batch.to_pylist()


def guess_tagged_columns(columns: list[str]) -> tuple[str | None, str | None]:
    """(tokens column, tags column) by name, None where no known name is present."""
    lower = {c.lower(): c for c in columns}
    tokens = next((lower[n] for n in TOKENS_NAMES if n in lower), None)
    tags = next((lower[n] for n in TAGS_NAMES if n in lower and lower[n] != tokens), None)
    return tokens, tags


def _choose_columns(columns: list[str], tokens_column: str, tags_column: str, source: str) -> tuple[str, str]:
    guessed_tokens, guessed_tags = guess_tagged_columns(columns)
    tokens_column = tokens_column or guessed_tokens or ""
    tags_column = tags_column or guessed_tags or ""
    listed = ", ".join(columns)
    if not tokens_column:
        raise DatasetError(f"cannot tell which column holds the tokens (columns: {listed}); set dataset.text_column", source=source)
    if not tags_column:
        raise DatasetError(f"cannot tell which column holds the tags (columns: {listed}); set dataset.label_column", source=source)
    for role, column in (("tokens", tokens_column), ("tags", tags_column)):
        if column not in columns:
            raise DatasetError(f"no {role} column '{column}' (columns: {listed})", source=source)
    if tokens_column == tags_column:
        raise DatasetError(f"tokens and tags are the same column '{tokens_column}'", source=source)
    return tokens_column, tags_column


def _as_list(value: Any, where: str, column: str, source: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DatasetError(f"{where}: column '{column}' is not a list (got {type(value).__name__})", source=source)
    return value


def _token(value: Any, where: str, source: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.split()) != 1:
        raise DatasetError(f"{where}: token {value!r} is not one word", source=source)
    return value


def _tag(value: Any, names: list[str] | None, where: str, column: str, source: str) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        if names is None:
            raise DatasetError(
                f"{where}: column '{column}' holds numbers but the data has no ClassLabel names for them", source=source
            )
        if not 0 <= value < len(names):
            raise DatasetError(f"{where}: tag number {value} is not one of the {len(names)} ClassLabel names", source=source)
        return names[value]
    raise DatasetError(f"{where}: tag {value!r} is neither text nor a ClassLabel number", source=source)


def _class_label_names(file: Path, table: Any) -> dict[str, list[str]]:
    """Column -> ClassLabel names, from the HF features kept in the schema or dataset_info.json."""
    features: dict[str, Any] = {}
    metadata = table.schema.metadata or {}
    if b"huggingface" in metadata:
        try:
            features = json.loads(metadata[b"huggingface"]).get("info", {}).get("features", {}) or {}
        except ValueError:
            features = {}
    if not features and file.is_dir():
        for info in [file / "dataset_info.json", *sorted(file.glob("*/dataset_info.json"))]:
            if info.exists():
                try:
                    features = json.loads(info.read_text(encoding="utf-8")).get("features", {}) or {}
                except ValueError:
                    continue
                break
    return {column: names for column, spec in features.items() if (names := _names_in(spec)) is not None}


def _names_in(spec: Any) -> list[str] | None:
    """The first ClassLabel ``names`` list inside a (possibly nested Sequence/List) feature."""
    if isinstance(spec, dict):
        if isinstance(spec.get("names"), list):
            return [str(n) for n in spec["names"]]
        return next((found for value in spec.values() if (found := _names_in(value)) is not None), None)
    if isinstance(spec, list):
        return next((found for value in spec if (found := _names_in(value)) is not None), None)
    return None
