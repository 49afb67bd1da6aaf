"""Issue #17, cases 12 and 15: inputs that gave a traceback or a misleading line."""

from __future__ import annotations

import json
import os

import pytest

from engine.config import RunConfig
from engine.errors import ConfigError, DatasetError, UserError
from engine.data import load_dataset
from engine.fileio import read_json_request
from engine.study import load_spec

ROWS = "text,label\n" + "".join(f"hello number {i},class_{i % 3}\n" for i in range(12))


@pytest.mark.parametrize("content, message", [
    (b"{not json", r"dataset_dict.json is not valid JSON \(Expecting property name enclosed in double quotes at line 1, column 2\)"),
    (b'["train"]', 'dataset_dict.json must be an object with "splits"'),
    (b'{"splits": ["../elsewhere"]}', 'dataset_dict.json must be an object with "splits"'),
    (b'{"splits": 3}', 'dataset_dict.json must be an object with "splits"'),
])
def test_a_broken_dataset_dict_json_is_one_line(tmp_path, content, message):
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "dataset_dict.json").write_bytes(content)
    with pytest.raises(DatasetError, match=message) as caught:
        load_dataset(str(folder))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("encoding, message", [
    ("utf-16", "is UTF-16 text; save it as UTF-8"),
    ("utf-16-le", r"looks like UTF-16 text \(every other byte is zero\); save it as UTF-8"),
    ("utf-32", "is UTF-32 text; save it as UTF-8"),
])
def test_utf16_and_utf32_files_name_their_encoding(tmp_path, encoding, message):
    path = tmp_path / "data.csv"
    path.write_bytes(ROWS.encode(encoding))
    with pytest.raises(DatasetError, match=message):
        load_dataset(str(path))


def test_a_nul_byte_inside_a_label_names_its_place(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(ROWS.replace("class_2\n", "cla\x00ss_2\n", 1).encode())
    with pytest.raises(DatasetError, match=r"line 4, column 19 has a NUL byte \(\\0\), which text cannot hold"):
        load_dataset(str(path))
    jsonl = tmp_path / "data.jsonl"  # a NUL written as an escape passes the text sniff: the row check names it
    jsonl.write_text("".join(json.dumps({"text": f"t{i}", "label": "a\u0000b" if i == 5 else f"c{i % 2}"}) + "\n" for i in range(8)))
    with pytest.raises(DatasetError, match=r"row 6 has a NUL byte \(\\0\) in its label"):
        load_dataset(str(jsonl))


def test_a_fifo_or_a_device_is_not_called_empty(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(DatasetError, match=r"is a pipe \(FIFO\), not a regular file"):
        load_dataset(str(fifo))  # never opened: opening a FIFO with no writer would block
    with pytest.raises(ConfigError, match="is a pipe"):
        RunConfig.load(fifo)
    with pytest.raises(DatasetError, match="is a device, not a regular file"):
        load_dataset("/dev/zero")


def test_toml_files_with_a_utf8_bom_are_accepted(tmp_path):
    config = tmp_path / "run.toml"
    config.write_bytes(b"\xef\xbb\xbf" + b'name = "bom"\n')
    assert RunConfig.load(config).name == "bom"
    utf16 = tmp_path / "utf16.toml"
    utf16.write_bytes('name = "x"\n'.encode("utf-16"))
    with pytest.raises(ConfigError, match="is UTF-16 text; save it as UTF-8"):
        RunConfig.load(utf16)
    study = tmp_path / "study.toml"
    study.write_bytes(b"\xef\xbb\xbf" + b'[study]\nname = "s"\nbase = "run.toml"\n[study.space]\n"method.params.lr" = { low = 1e-5, high = 1e-3 }\n')
    assert load_spec(study).name == "s"


def test_json_errors_say_where(tmp_path):
    jsonl = tmp_path / "data.jsonl"
    jsonl.write_text('{"text": "a", "label": "b"}\n{"text": "tab\there", "label": "b"}\n')
    with pytest.raises(DatasetError, match=r"line 2 is not valid JSON \(Invalid control character at column 14\)$"):
        load_dataset(str(jsonl))
    request = tmp_path / "request.json"
    request.write_text('{"support": [\n  "x\ty"]}')
    with pytest.raises(UserError, match=r"not JSON \(Invalid control character at line 2, column 5\)$"):
        read_json_request(str(request))


def test_switching_method_drops_the_previous_methods_params_with_a_note(caplog):
    config = RunConfig().with_values({"method.params.distance": "cosine"})
    switched = config.with_values({"method.name": "finetune"})
    assert "distance" not in switched.method.params
    assert "dropped method.params.distance" in caplog.text and "'protonet'" in caplog.text
    with pytest.raises(ConfigError, match="unknown key 'method.params.distance' for method 'finetune'"):
        config.with_values({"method.name": "finetune", "method.params.distance": "cosine"})  # set now: an error


def test_switching_method_gives_the_new_methods_defaults_not_the_old_ones():
    """Shared parameters holding the previous method's defaults were filled in, not chosen:
    a MAML run made from a protonet config trains with MAML's defaults (found running
    `--set method.name=maml` on a protonet config: lr 3e-5 and weight_decay 0.01 came along)."""
    from engine.catalog import get

    protonet = RunConfig().with_values({"method.params.train_query": 7})
    maml = protonet.with_values({"method.name": "maml"})
    defaults = {p.name: p.default for p in get("maml").params}
    assert maml.method.params["lr"] == defaults["lr"] != protonet.method.params["lr"]
    assert maml.method.params["weight_decay"] == defaults["weight_decay"]
    assert maml.method.params["train_query"] == 7  # chosen, not a default: kept
    assert protonet.with_values({"method.name": "maml", "method.params.lr": 3e-5}).method.params["lr"] == 3e-5
