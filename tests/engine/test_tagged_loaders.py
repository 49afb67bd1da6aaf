import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.data import load_dataset
from engine.data.tagged import load_tagged_dataset
from engine.errors import DatasetError

SENTENCES = [
    (["Ada", "Lovelace", "visited", "Turin", "."], ["B-PER", "I-PER", "O", "B-CITY", "O"]),
    (["The", "Vela", "river", "floods", "."], ["O", "B-RIVER", "O", "O", "O"]),
    (["Nothing", "here"], ["O", "O"]),
]
NAMES = ["O", "B-PER", "I-PER", "B-CITY", "I-CITY", "B-RIVER", "I-RIVER"]
HF_FEATURES = {
    "tokens": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
    "ner_tags": {"feature": {"names": NAMES, "_type": "ClassLabel"}, "_type": "Sequence"},
}


def conll_text(sep="\t", docstart=True):
    lines = ["-DOCSTART- -X- O O", ""] if docstart else []
    for tokens, tags in SENTENCES:
        lines += [f"{token}{sep}{tag}" for token, tag in zip(tokens, tags)] + [""]
    return "\n".join(lines) + "\n"


def arrow_table(with_names=True):
    ids = [[NAMES.index(t) for t in tags] for _, tags in SENTENCES]
    table = pa.table({"id": [str(i) for i in range(len(SENTENCES))], "tokens": [t for t, _ in SENTENCES], "ner_tags": ids})
    if with_names:
        table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": HF_FEATURES}})})
    return table


def hf_dataset():
    import datasets

    features = datasets.Features({
        "id": datasets.Value("string"),
        "tokens": datasets.Sequence(datasets.Value("string")),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=NAMES)),
    })
    ids = [[NAMES.index(t) for t in tags] for _, tags in SENTENCES]
    return datasets.Dataset.from_dict(
        {"id": [str(i) for i in range(len(SENTENCES))], "tokens": [t for t, _ in SENTENCES], "ner_tags": ids}, features=features
    )


@pytest.mark.parametrize("fmt", ["conll_tab", "conll_space", "conll2003", "bio", "jsonl", "parquet", "hf", "hf_dict_info"])
def test_every_format_loads_the_same_sentences(tmp_path, fmt):
    if fmt == "conll_tab":
        path = tmp_path / "d.conll"
        path.write_text(conll_text())
    elif fmt == "conll_space":
        path = tmp_path / "d.txt"
        path.write_text(conll_text(sep=" ", docstart=False))
    elif fmt == "conll2003":  # token, POS, chunk, NER: the tag is the last field
        path = tmp_path / "d.conll"
        path.write_text(conll_text(sep=" NN I-NP "))
    elif fmt == "bio":
        path = tmp_path / "d.bio"
        path.write_text("\n\n" + conll_text().replace("\n\n", "\n\n\n"))  # extra blank lines are only separators
    elif fmt == "jsonl":
        path = tmp_path / "d.jsonl"
        path.write_text("".join(json.dumps({"words": t, "tags": g}) + "\n" for t, g in SENTENCES))
    elif fmt == "parquet":
        path = tmp_path / "d.parquet"
        pq.write_table(arrow_table(), path)
    elif fmt == "hf":  # a folder as datasets' save_to_disk writes it, ner_tags as ClassLabel ids
        path = tmp_path / "hf"
        hf_dataset().save_to_disk(str(path))
    else:  # a DatasetDict folder: the names are in the split's dataset_info.json
        import datasets

        path = tmp_path / "hf"
        datasets.DatasetDict({"train": hf_dataset()}).save_to_disk(str(path))
    data = load_tagged_dataset(str(path))
    assert data.sentences == [t for t, _ in SENTENCES]
    assert data.tags == [g for _, g in SENTENCES]
    assert data.mention_counts() == {"PER": 1, "CITY": 1, "RIVER": 1}
    assert data.entity_types() == ["CITY", "PER", "RIVER"]


def test_limit_reads_only_the_first_sentences(tmp_path):
    path = tmp_path / "d.conll"
    path.write_text(conll_text())
    assert len(load_tagged_dataset(str(path), limit=2)) == 2


def test_fingerprint_changes_with_a_tag(tmp_path):
    first, second = tmp_path / "a.conll", tmp_path / "b.conll"
    first.write_text(conll_text())
    second.write_text(conll_text().replace("B-RIVER", "B-CITY"))
    assert load_tagged_dataset(str(first)).fingerprint() == load_tagged_dataset(str(first)).fingerprint()
    assert load_tagged_dataset(str(first)).fingerprint() != load_tagged_dataset(str(second)).fingerprint()


BROKEN_CONLL = [
    ("I- with no B-", "Ada\tO\nLovelace\tI-PER\n", "line 2: tag 'I-PER' follows 'O' with no B-PER before it"),
    ("I- of another type", "\nAda\tB-PER\nTurin\tI-CITY\n", "line 3: tag 'I-CITY' follows 'B-PER' with no B-CITY before it"),
    ("token without tag", "Ada\tB-PER\nLovelace\n", "line 2 has a token but no tag"),
    ("not BIO", "Ada\tPER\n", "line 1: tag 'PER' is not BIO"),
    ("only blank lines", "\n\n\n", "no sentences"),
    ("only docstart", "-DOCSTART- O\n\n", "no sentences"),
]


@pytest.mark.parametrize("case", [c[0] for c in BROKEN_CONLL])
def test_broken_conll_gives_one_line_with_file_and_line(tmp_path, case):
    _, content, message = next(c for c in BROKEN_CONLL if c[0] == case)
    path = tmp_path / "broken.conll"
    path.write_text(content)
    with pytest.raises(DatasetError) as info:
        load_tagged_dataset(str(path))
    text = str(info.value)
    assert text.startswith(f"{path}: {message}") and "\n" not in text


BROKEN_ROWS = [
    ("lengths differ", {"tokens": ["a", "b"], "tags": ["O"]}, "line 2: 2 tokens but 1 tags"),
    ("I- with no B-", {"tokens": ["a", "b"], "tags": ["O", "I-PER"]}, "line 2, token 2: tag 'I-PER' follows 'O' with no B-PER before it"),
    ("empty sentence", {"tokens": [], "tags": []}, "line 2: empty sentence (no tokens)"),
    ("tokens not a list", {"tokens": "a b", "tags": ["O", "O"]}, "line 2: column 'tokens' is not a list (got str)"),
    ("token with a space", {"tokens": ["a b"], "tags": ["O"]}, "line 2: token 'a b' is not one word"),
    ("numbers without names", {"tokens": ["a"], "tags": [3]}, "line 2: column 'tags' holds numbers but the data has no ClassLabel names for them"),
]


@pytest.mark.parametrize("case", [c[0] for c in BROKEN_ROWS])
def test_broken_jsonl_gives_one_line_with_file_and_line(tmp_path, case):
    _, row, message = next(c for c in BROKEN_ROWS if c[0] == case)
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps({"tokens": ["ok"], "tags": ["O"]}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DatasetError) as info:
        load_tagged_dataset(str(path))
    assert str(info.value) == f"{path}: {message}"


def test_broken_parquet_names_the_row(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"tokens": [["a"], ["b", "c"]], "ner_tags": [[0], [0, 9]]}).replace_schema_metadata(
        {"huggingface": json.dumps({"info": {"features": HF_FEATURES}})}
    ), path)
    with pytest.raises(DatasetError, match=r"d.parquet: row 2: tag number 9 is not one of the 7 ClassLabel names$"):
        load_tagged_dataset(str(path))


def test_columns_are_named_when_they_cannot_be_guessed(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"a": ["x"], "b": ["O"]}) + "\n")
    with pytest.raises(DatasetError, match=r"cannot tell which column holds the tokens \(columns: a, b\)"):
        load_tagged_dataset(str(path))
    assert load_tagged_dataset(str(path), tokens_column="a", tags_column="b").tags == [["O"]]
    with pytest.raises(DatasetError, match="no tags column 'c'"):
        load_tagged_dataset(str(path), tokens_column="a", tags_column="c")


def test_wrong_file_types_point_to_the_right_task(tmp_path):
    csv_file = tmp_path / "d.csv"
    csv_file.write_text("text,label\nhi,greet\n")
    with pytest.raises(DatasetError, match="unsupported file type '.csv' for tagged tokens"):
        load_tagged_dataset(str(csv_file))
    conll = tmp_path / "d.conll"
    conll.write_text(conll_text())
    with pytest.raises(DatasetError, match='fits task.type = "token_classification"'):
        load_dataset(str(conll))
    with pytest.raises(DatasetError, match="file not found"):
        load_tagged_dataset(str(tmp_path / "absent.conll"))


def test_bundled_ner_dataset_fits_5_way_1_and_5_shot_on_held_out_types():
    from engine.data import bundled_datasets
    from engine.data.entity_episodes import EntityEpisodeSampler, rows_without, split_types

    assert "entities" in bundled_datasets()
    data = load_tagged_dataset("bundled:entities")
    counts = data.mention_counts()
    assert len(data) >= 600 and len(counts) >= 16 and min(counts.values()) >= 40
    assert len({" ".join(tokens) for tokens in data.sentences}) == len(data)
    split = split_types(data.tags, test_fraction=0.5, val_fraction=0.3, seed=0)
    for k_shot in (1, 5):
        test = EntityEpisodeSampler(data.tags, split.test, n_way=5, k_shot=k_shot, query=5, seed=0, stream="test")
        assert len(list(test.episodes(20))) == 20
        pool = rows_without(data.tags, split.test)
        train = EntityEpisodeSampler(data.tags, split.train, n_way=5, k_shot=k_shot, query=5, seed=0, stream="train", rows=pool)
        assert len(list(train.episodes(20))) == 20


def test_bundled_ner_dataset_is_what_its_generator_writes():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "make_ner_dataset.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "content, message",
    [
        ("Ada\tO\nLovelace\tI-PER\n", "line 2: tag 'I-PER' follows 'O' with no B-PER before it"),
        ("Ada\tB-PER\nLovelace\n", "line 2 has a token but no tag (expected 'token<TAB>tag')"),
    ],
)
def test_a_broken_ner_file_exits_2_on_the_cli_and_stores_nothing(tmp_path, capsys, content, message):
    from engine.cli import main

    data = tmp_path / "broken.conll"
    data.write_text(content)
    config = tmp_path / "ner.toml"
    config.write_text(f'[dataset]\npath = "{data}"\n\n[task]\ntype = "token_classification"\n')
    db = tmp_path / "runs.db"
    for command in (["validate", str(config)], ["run", str(config), "--db", str(db)]):
        code = main(command)
        _, err = capsys.readouterr()
        assert code == 2, command
        assert err == f"error: {data}: {message}\n"
    assert not db.exists()
