import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.data import bundled_datasets, guess_columns, load_dataset, load_table
from engine.errors import DatasetError

ROWS = [("book a table for two", "reserve"), ("where is my parcel", "track"), ("cancel it, please", "cancel")]


def write_csv(path, sep=","):
    lines = [f"text{sep}label"] + [f'"{t}"{sep}{l}' for t, l in ROWS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet", "hf", "hf_dict"])
def test_every_format_loads_the_same_rows(tmp_path, fmt):
    if fmt == "csv":
        path = write_csv(tmp_path / "d.csv")
    elif fmt == "tsv":
        path = write_csv(tmp_path / "d.tsv", sep="\t")
    elif fmt == "jsonl":
        path = tmp_path / "d.jsonl"
        path.write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in ROWS))
    else:
        table = pa.table({"text": [t for t, _ in ROWS], "label": [l for _, l in ROWS]})
        if fmt == "parquet":
            path = tmp_path / "d.parquet"
            pq.write_table(table, path)
        else:  # a folder written by datasets' save_to_disk: one Dataset, or a DatasetDict
            from datasets import Dataset, DatasetDict

            dataset = Dataset(table)
            path = tmp_path / "hf"
            (DatasetDict({"train": dataset}) if fmt == "hf_dict" else dataset).save_to_disk(str(path))
    data = load_dataset(str(path))
    assert data.texts == [t for t, _ in ROWS]
    assert data.labels == [l for _, l in ROWS]
    assert (data.text_column, data.label_column) == ("text", "label")


def test_bundled_dataset_is_big_enough_for_5_way_5_shot_15_query():
    assert "intents" in bundled_datasets()
    data = load_dataset("bundled:intents")
    counts = data.class_counts()
    assert len(counts) >= 24
    assert min(counts.values()) >= 30
    assert len(set(data.texts)) == len(data.texts)


def test_banking_support_has_64_confusable_classes_of_45_distinct_messages():
    data = load_dataset("bundled:banking_support")
    counts = data.class_counts()
    assert len(counts) == 64 and set(counts.values()) == {45}
    normalised = {" ".join(t.lower().strip(" .?!").split()) for t in data.texts}
    assert len(normalised) == len(data.texts)
    # grid classes share their object: every transfer class has transfer neighbours
    assert sum(label.startswith("transfer_") for label in counts) >= 5


def test_banking_support_csv_is_what_its_build_script_gives():
    """The CSV is generated: an edit to it (or to its sources) without a rebuild fails here."""
    import subprocess
    import sys

    from tests.conftest import REPO

    result = subprocess.run([sys.executable, "scripts/build_banking_support.py", "--check"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_column_guessing(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("utterance,intent,id\nhello there,greet,1\nbye now,leave,2\n")
    table = load_table(str(path))
    assert guess_columns(table) == ("utterance", "intent")
    data = load_dataset(str(path))
    assert data.class_counts() == {"greet": 1, "leave": 1}


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.csv", b"", "the file is empty"),
        ("binary.csv", b"\x00\x01\x02PK\x03\x04" * 20, "binary"),
        ("latin1.csv", "text,label\ncaf\xe9 au lait,drink\n".encode("latin-1"), "not UTF-8"),
        ("ragged.csv", b"text,label\nhello,greet,extra\n", "line 2 has 3 fields"),
        ("dupe.csv", b"text,text\nhello,greet\n", "duplicate column 'text'"),
        ("nolabel.csv", b"text,label\nhello,\n", "row 1 has an empty label"),
        ("bad.jsonl", b'{"text": "a", "label": "x"}\n{oops\n', "line 2 is not valid JSON"),
        ("list.jsonl", b"[1, 2]\n", "line 1 is not a JSON object"),
        ("broken.parquet", b"PAR1 this is not parquet", "not a readable Parquet file"),
        ("notes.txt", b"hello", "unsupported file type '.txt'"),
        ("header_only.csv", b"text,label\n", "no rows"),
    ],
)
def test_broken_files_give_one_clear_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DatasetError) as info:
        load_dataset(str(path))
    text = str(info.value)
    assert message in text
    assert str(path) in text
    assert "\n" not in text


def test_missing_columns_and_files(tmp_path):
    path = write_csv(tmp_path / "d.csv")
    with pytest.raises(DatasetError, match="no label column 'intent'"):
        load_dataset(str(path), label_column="intent")
    with pytest.raises(DatasetError, match="file not found"):
        load_dataset(str(tmp_path / "absent.csv"))
    with pytest.raises(DatasetError, match="no bundled dataset 'nope'"):
        load_dataset("bundled:nope")


def test_nan_labels_in_parquet_are_reported(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "label": ["x", None]}), path)
    with pytest.raises(DatasetError, match="row 2 has an empty label"):
        load_dataset(str(path))


def test_a_single_class_is_reported_not_crashed_on(tmp_path):
    from engine.config import TaskConfig
    from engine.data import check_task, first_problem

    path = tmp_path / "one.csv"
    path.write_text("text,label\n" + "".join(f"row {i},only\n" for i in range(50)))
    problem = first_problem(check_task(load_dataset(str(path)), TaskConfig()))
    assert problem == "50 rows in 1 class; at least 2 classes are needed"


def test_a_very_long_line_loads(tmp_path):
    path = tmp_path / "long.csv"
    long_text = "word " * 2_000_000  # a 10 MB field
    path.write_text(f"text,label\n{long_text},a\nshort,b\n")
    data = load_dataset(str(path))
    assert len(data.texts[0]) == len(long_text.strip()) and data.labels == ["a", "b"]


@pytest.mark.slow
def test_a_million_rows_load_in_bounded_memory(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "big.csv"
    with path.open("w") as handle:
        handle.write("id,text,label,extra\n")
        for i in range(1_000_000):
            handle.write(f"{i},customer message number {i} about order {i % 977},intent_{i % 50},x{i % 7}\n")
    size_mb = path.stat().st_size / 1e6
    # VmHWM is this process's own peak (ru_maxrss would carry over the parent's across exec).
    code = (
        "import re, sys; from engine.data import load_dataset; d = load_dataset(sys.argv[1]); "
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
        "print(len(d), len(d.class_counts()), int(hwm) // 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout
    rows, classes, peak_mb = map(int, out.split())
    assert rows == 1_000_000 and classes == 50
    # The text itself is ~60 MB as Python strings; the file's other columns are never kept.
    assert peak_mb < 400, f"{peak_mb} MB peak for a {size_mb:.0f} MB file"


def test_counts_are_pluralised():
    from engine.data.checks import plural

    assert [plural(1, "class"), plural(2, "class"), plural(1, "row"), plural(1200, "row"), plural(2, "study"),
            plural(1, "study"), plural(3, "day")] == ["1 class", "2 classes", "1 row", "1,200 rows", "2 studies", "1 study",
                                                       "3 days"]


def hf_folder(tmp_path, splits):
    """A DatasetDict folder whose label column is a ClassLabel, as most hub datasets have it."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=["reserve", "track", "cancel"])})
    data = DatasetDict({
        name: Dataset.from_dict({"text": [f"{name} {t}" for t, _ in ROWS], "label": [0, 1, 2]}, features=features)
        for name in splits
    })
    data.save_to_disk(str(tmp_path / "hf"))
    return str(tmp_path / "hf")


def test_an_hf_folder_keeps_class_label_names_and_takes_the_split_asked_for(tmp_path):
    path = hf_folder(tmp_path, ["train", "test"])
    data = load_dataset(path)
    assert data.labels == ["reserve", "track", "cancel"]  # names, not "0".."2"
    assert data.texts == [f"train {t}" for t, _ in ROWS]  # train only: the splits are not mixed
    assert load_dataset(path, split="test").texts == [f"test {t}" for t, _ in ROWS]
    every = load_table(path, split="all")
    assert [r["split"] for r in every.rows] == ["train"] * 3 + ["test"] * 3 and "split" in every.columns
    with pytest.raises(DatasetError, match=r"no split 'validation' in this DatasetDict \(splits: train, test; or 'all'\)"):
        load_dataset(path, split="validation")


def test_a_datasetdict_without_train_asks_for_a_split(tmp_path):
    with pytest.raises(DatasetError, match="set dataset.split"):
        load_dataset(hf_folder(tmp_path, ["test"]))


@pytest.mark.parametrize("value, kind", [(b"raw bytes", "bytes"), ({"a": 1}, "dict"), (["a", "b"], "list")])
def test_non_text_columns_are_refused_in_one_line(tmp_path, value, kind):
    from datasets import Dataset

    rows = {"text": [value] * 3, "label": ["a", "b", "c"]}
    Dataset.from_dict(rows).save_to_disk(str(tmp_path / "hf"))
    with pytest.raises(DatasetError, match=f"column 'text' holds {kind} values \\(row 1\\), not text") as info:
        load_dataset(str(tmp_path / "hf"), "text", "label")
    assert "\n" not in str(info.value)
    if kind != "bytes":  # JSON has no bytes
        path = tmp_path / "d.jsonl"
        path.write_text("".join(json.dumps({"text": value, "label": l}) + "\n" for l in "abc"))
        with pytest.raises(DatasetError, match=f"holds {kind} values"):
            load_dataset(str(path), "text", "label")
