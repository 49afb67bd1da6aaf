"""Loading a labelled text table from CSV, TSV, JSONL, Parquet, an HF ``datasets`` folder,
or a bundled dataset. Torch-free: the GUI previews datasets through it.

Every failure is a ``DatasetError`` naming the file and the problem in one line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import DatasetError
from engine.fileio import json_error, special_file_problem, text_problem
from engine.paths import resources_dir

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
TEXT_NAMES = ("text", "sentence", "utterance", "query", "question", "content", "input", "document", "review")
LABEL_NAMES = ("label", "labels", "intent", "category", "class", "target", "topic", "y")
# Token/tag files (one token and its tag per line): only token classification reads them.
CONLL_SUFFIXES = (".conll", ".bio", ".iob", ".txt")
BUNDLED_PREFIX = "bundled:"
DEFAULT_SPLIT = "train"  # of an HF DatasetDict folder (dataset.split)
ALL_SPLITS = "all"
_SNIFF_BYTES = 64 * 1024


@dataclass
class Table:
    """Raw columns of a loaded file, before the text and label columns are chosen."""

    source: str
    columns: list[str]
    rows: list[dict[str, Any]]


@dataclass
class TextDataset:
    source: str
    text_column: str
    label_column: str
    texts: list[str]
    labels: list[str]
    columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def class_counts(self) -> dict[str, int]:
        """Rows per class, largest first."""
        return dict(Counter(self.labels).most_common())

    def fingerprint(self) -> str:
        """Hash of texts and labels: equal fingerprints mean the same data in the same order."""
        digest = hashlib.sha256()
        for text, label in zip(self.texts, self.labels):
            digest.update(text.encode("utf-8", "surrogatepass"))
            digest.update(b"\x1f")
            digest.update(label.encode("utf-8", "surrogatepass"))
            digest.update(b"\x1e")
        return digest.hexdigest()[:16]


def bundled_datasets() -> dict[str, Path]:
    """Name -> file of the datasets shipped in resources/datasets."""
    folder = resources_dir() / "datasets"
    return {p.stem: p for p in sorted(folder.glob("*")) if p.suffix in FORMATS or p.suffix in CONLL_SUFFIXES}


def resolve_path(path: str) -> Path:
    if path.startswith(BUNDLED_PREFIX):
        name = path[len(BUNDLED_PREFIX) :]
        known = bundled_datasets()
        if name not in known:
            raise DatasetError(f"no bundled dataset '{name}' (bundled: {', '.join(known) or 'none'})", source=path)
        return known[name]
    return Path(path).expanduser()


def load_table(path: str, *, limit: int | None = None, split: str = DEFAULT_SPLIT) -> Table:
    """All rows (or the first ``limit``) of a supported file or folder, as dicts."""
    source, columns, rows = open_rows(path, split=split)
    collected = []
    for row in rows:
        collected.append(row)
        if limit and len(collected) >= limit:
            break
    if not columns:  # JSONL: the columns are the keys seen
        seen: dict[str, None] = {}
        for row in collected:
            seen.update(dict.fromkeys(row))
        columns = list(seen)
    return Table(source, columns, collected)


def open_rows(
    path: str, columns: list[str] | None = None, *, split: str = DEFAULT_SPLIT
) -> tuple[str, list[str], Iterator[dict[str, Any]]]:
    """(source, column names, a lazy iterator of rows): big files stream in bounded memory.

    Header problems are raised here; problems further down the file as the iterator
    reaches them. ``columns`` limits columnar formats to those columns; ``split`` picks
    the split of an HF ``DatasetDict`` folder (``all``: every split, with a ``split`` column).
    """
    file = resolve_path(path)
    source = path if path.startswith(BUNDLED_PREFIX) else str(file)
    if not file.exists():
        raise DatasetError("file not found", source=source)
    problem = special_file_problem(file)
    if problem:
        raise DatasetError(problem, source=source)
    if file.is_dir():
        return _arrow_rows(_load_hf_folder(file, source, split), source, columns)
    fmt = FORMATS.get(file.suffix.lower())
    if fmt is None and file.suffix.lower() in CONLL_SUFFIXES and file.suffix.lower() != ".txt":
        raise DatasetError(
            f"a '{file.suffix}' file holds tokens and tags: it fits task.type = \"token_classification\"", source=source
        )
    if fmt is None:
        raise DatasetError(
            f"unsupported file type '{file.suffix or '(none)'}' (use .csv, .tsv, .jsonl, .parquet or an HF datasets folder)",
            source=source,
        )
    if file.stat().st_size == 0:
        raise DatasetError("the file is empty", source=source)
    if fmt == "parquet":
        return _arrow_rows(_load_parquet(file, source, columns), source, columns)
    _check_text_file(file, source)
    if fmt == "jsonl":
        return source, [], _jsonl_rows(file, source)
    header, rows = _delimited_rows(file, source, "\t" if fmt == "tsv" else ",")
    return source, header, rows


def _check_text_file(file: Path, source: str) -> None:
    problem = text_problem(_read_head(file), whole=file.stat().st_size <= _SNIFF_BYTES)
    if problem:
        raise DatasetError(problem, source=source)


def _read_head(file: Path) -> bytes:
    with file.open("rb") as handle:
        return handle.read(_SNIFF_BYTES)


def _open_text(file: Path, source: str) -> io.TextIOWrapper:
    return file.open("r", encoding="utf-8-sig", newline="")


def _delimited_rows(file: Path, source: str, delimiter: str) -> tuple[list[str], Iterator[dict[str, Any]]]:
    csv.field_size_limit(2**31 - 1)
    kind = "TSV" if delimiter == "\t" else "CSV"
    handle = _open_text(file, source)
    reader = csv.reader(handle, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except (UnicodeDecodeError, csv.Error) as exc:
        handle.close()
        raise DatasetError(f"malformed {kind} header ({exc})", source=source) from None
    if header is None or not any(h.strip() for h in header):
        handle.close()
        raise DatasetError("no header row", source=source)
    header = [h.strip() for h in header]
    try:
        _check_header(header, source)
    except DatasetError:
        handle.close()
        raise

    def rows() -> Iterator[dict[str, Any]]:
        with handle:
            try:
                for values in reader:
                    if not values:
                        continue
                    if len(values) != len(header):
                        raise DatasetError(
                            f"line {reader.line_num} has {len(values)} fields, the header has {len(header)}", source=source
                        )
                    yield dict(zip(header, values))
            except UnicodeDecodeError as exc:
                raise DatasetError(f"not UTF-8 text ({exc.reason})", source=source) from None
            except csv.Error as exc:
                raise DatasetError(f"malformed {kind} near line {reader.line_num}: {exc}", source=source) from None

    return header, rows()


def _check_header(header: list[str], source: str) -> None:
    empty = [i + 1 for i, h in enumerate(header) if not h]
    if empty:
        raise DatasetError(f"column {empty[0]} of the header has no name", source=source)
    dupes = [name for name, n in Counter(header).items() if n > 1]
    if dupes:
        raise DatasetError(f"duplicate column '{dupes[0]}'", source=source)


def _jsonl_rows(file: Path, source: str) -> Iterator[dict[str, Any]]:
    return (row for _, row in numbered_jsonl_rows(file, source))


def numbered_jsonl_rows(file: Path, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) for each JSON object line, so later checks can name the line."""
    try:
        with _open_text(file, source) as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"line {line_no} is not valid JSON ({json_error(exc, line=False)})", source=source) from None
                except ValueError as exc:  # a number too long to convert
                    raise DatasetError(f"line {line_no} is not valid JSON ({exc})", source=source) from None
                if not isinstance(obj, dict):
                    raise DatasetError(f"line {line_no} is not a JSON object", source=source)
                yield line_no, {str(k): v for k, v in obj.items()}
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text ({exc.reason})", source=source) from None


def _arrow_rows(table: Any, source: str, columns: list[str] | None) -> tuple[str, list[str], Iterator[dict[str, Any]]]:
    names = list(table.column_names)
    _check_header(names, source)
    if columns:
        table = table.select([c for c in columns if c in names])

    def rows() -> Iterator[dict[str, Any]]:
        for batch in table.to_batches(max_chunksize=10_000):
            yield from batch.to_pylist()

    return source, names, rows()


def _load_parquet(file: Path, source: str, columns: list[str] | None = None) -> Any:
    import pyarrow.parquet as pq

    try:
        schema_names = pq.read_schema(file).names
        wanted = [c for c in columns if c in schema_names] if columns else None
        return pq.read_table(file, columns=wanted) if wanted else pq.read_table(file)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise DatasetError(f"not a readable Parquet file ({_first_line(exc)})", source=source) from None


def _load_hf_folder(folder: Path, source: str, split: str = "train") -> Any:
    """A folder written by ``save_to_disk``, opened by ``datasets.load_from_disk``, as an Arrow table.

    ``ClassLabel`` columns hold their names, not their numbers. A ``DatasetDict`` gives the
    split asked for, or with ``all`` every split one after the other with a ``split`` column.
    """
    import pyarrow as pa

    if not (folder / "dataset_dict.json").exists() and not (folder / "dataset_info.json").exists():
        raise DatasetError("folder has no data files (expected a folder saved by HF datasets)", source=source)
    if (folder / "dataset_dict.json").exists():
        _dict_splits(folder / "dataset_dict.json", source)  # a broken file is one clear line, before datasets reads it
    try:
        from datasets import DatasetDict, load_from_disk

        loaded = load_from_disk(str(folder))
    except ImportError:
        raise DatasetError("reading an HF datasets folder needs the datasets package (pip install datasets)", source=source) from None
    except Exception as exc:  # datasets raises several types for a broken folder
        raise DatasetError(f"not a readable HF datasets folder ({_first_line(exc)})", source=source) from None
    if not isinstance(loaded, DatasetDict):
        return _arrow_table(loaded)
    names = list(loaded)
    if split == ALL_SPLITS:
        tables = [_arrow_table(loaded[name]) for name in names]
        tables = [t.append_column("split", pa.array([name] * t.num_rows, pa.string())) for t, name in zip(tables, names)]
        return pa.concat_tables(tables, promote_options="default")
    if split not in loaded:
        raise DatasetError(
            f"no split '{split}' in this DatasetDict (splits: {', '.join(names)}; or 'all'): set dataset.split", source=source
        )
    return _arrow_table(loaded[split])


def _dict_splits(file: Path, source: str) -> list[str]:
    """The split folder names a ``dataset_dict.json`` lists (each a plain name in the folder)."""
    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"dataset_dict.json is not valid JSON ({json_error(exc)})", source=source) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"cannot read dataset_dict.json ({_first_line(exc)})", source=source) from None
    splits = data.get("splits") if isinstance(data, dict) else None
    if not isinstance(splits, list) or not all(isinstance(s, str) and s and Path(s).name == s and s not in (".", "..") for s in splits):
        raise DatasetError('dataset_dict.json must be an object with "splits": a list of split folder names', source=source)
    return splits



def _arrow_table(dataset: Any) -> Any:
    """One split as a ``pyarrow.Table``, its ``ClassLabel`` columns as label names."""
    import pyarrow as pa
    from datasets import ClassLabel

    table = dataset.with_format("arrow")[:]
    for name, feature in dataset.features.items():
        if isinstance(feature, ClassLabel):
            ids = table.column(name).to_pylist()
            labels = [feature.names[i] if i is not None and 0 <= i < len(feature.names) else None for i in ids]
            table = table.set_column(table.column_names.index(name), name, pa.array(labels, pa.string()))
    return table


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- choosing columns ---------------------------------------------------------------

def guess_columns(table: Table) -> tuple[str | None, str | None]:
    """(text column, label column) when the choice is unambiguous, else None for that one."""
    lower = {c.lower(): c for c in table.columns}
    text = next((lower[n] for n in TEXT_NAMES if n in lower), None)
    label = next((lower[n] for n in LABEL_NAMES if n in lower), None)
    sample = table.rows[:500]
    if text is None:
        candidates = [c for c in table.columns if c != label and _is_texty(sample, c)]
        if len(candidates) == 1:
            text = candidates[0]
        elif candidates:
            text = max(candidates, key=lambda c: _mean_len(sample, c))
    if label is None:
        others = [c for c in table.columns if c != text]
        if len(others) == 1:
            label = others[0]
    return text, label


def _is_texty(rows: list[dict[str, Any]], column: str) -> bool:
    values = [r.get(column) for r in rows]
    return bool(values) and all(isinstance(v, str) or v is None for v in values)


def _mean_len(rows: list[dict[str, Any]], column: str) -> float:
    values = [len(r.get(column) or "") for r in rows]
    return sum(values) / max(1, len(values))


NOT_TEXT = (bytes, bytearray, dict, list, tuple)  # a repr of these is no text to learn from


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    return text or None


def load_dataset(path: str, text_column: str = "", label_column: str = "", split: str = DEFAULT_SPLIT) -> TextDataset:
    """A dataset with its text and label columns chosen (guessed when not given).

    Only those two columns are kept, row by row, so a file of a million rows loads in
    memory proportional to its text, not to its width.
    """
    preview = load_table(path, limit=500, split=split)
    source = preview.source
    if not preview.rows:
        raise DatasetError("no rows", source=source)
    guessed_text, guessed_label = guess_columns(preview)
    text_column = text_column or guessed_text or ""
    label_column = label_column or guessed_label or ""
    columns = ", ".join(preview.columns)
    if not text_column:
        raise DatasetError(f"cannot tell which column holds the text (columns: {columns}); set dataset.text_column", source=source)
    if not label_column:
        raise DatasetError(f"cannot tell which column holds the label (columns: {columns}); set dataset.label_column", source=source)
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in preview.columns:
            raise DatasetError(f"no {role} column '{column}' (columns: {columns})", source=source)
    if text_column == label_column:
        raise DatasetError(f"text and label are the same column '{text_column}'", source=source)
    texts: list[str] = []
    labels: list[str] = []
    labels_seen: dict[str, str] = {}  # one string object per label
    _, _, rows = open_rows(path, columns=[text_column, label_column], split=split)
    for index, row in enumerate(rows):
        for column in (text_column, label_column):
            if isinstance(row.get(column), NOT_TEXT):
                kind = type(row[column]).__name__
                raise DatasetError(
                    f"column '{column}' holds {kind} values (row {index + 1}), not text: choose a text column", source=source
                )
        text, label = _as_text(row.get(text_column)), _as_text(row.get(label_column))
        if text is None or label is None:
            what = "text" if text is None else "label"
            raise DatasetError(f"row {index + 1} has an empty {what}", source=source)
        if "\x00" in text or "\x00" in label:  # any format: a CSV far down, a JSON "\u0000", Parquet
            what = "text" if "\x00" in text else "label"
            raise DatasetError(f"row {index + 1} has a NUL byte (\\0) in its {what}; remove it", source=source)
        texts.append(text)
        labels.append(labels_seen.setdefault(label, label))
    return TextDataset(source, text_column, label_column, texts, labels, list(preview.columns))
