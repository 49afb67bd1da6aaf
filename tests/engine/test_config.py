from pathlib import Path

import pytest

from engine.config import RunConfig, schema
from engine.errors import ConfigError

FULL = """
name = "quickstart"
tags = ["a", "b"]
[dataset]
path = "bundled:intents"
text_column = "text"
label_column = "label"
[task]
mode = "episodic"
n_way = 5
k_shot = 5
query = 15
test_episodes = 200
meta_test_fraction = 0.5
[model]
name = "bundled:all-MiniLM-L6-v2"
max_length = 64
[method]
name = "protonet"
[method.params]
lr = 1e-4
[train]
episodes = 300
eval_every = 50
device = "auto"
seed = 0
"""


def test_toml_round_trip(tmp_path):
    config = RunConfig.from_toml(FULL)
    assert config.task.n_way == 5 and config.method.params["lr"] == 1e-4
    # defaults of the method's schema are filled in
    assert config.method.params["distance"] == "cosine"
    path = tmp_path / "c.toml"
    config.save(path)
    again = RunConfig.load(path)
    assert again == config
    assert again.to_dict() == config.to_dict()


@pytest.mark.parametrize(
    "patch, message",
    [
        ("[task]\nn_way = 5\nbogus = 1", "unknown key 'task.bogus'"),
        ("surprise = 1", "unknown key 'surprise'"),
        ("[task]\nn_way = 'five'", "'task.n_way' must be an integer"),
        ("[task]\nn_way = 0", "'task.n_way' must be at least 2"),
        ("[task]\nk_shot = -1", "'task.k_shot' must be at least 1"),
        ("[task]\nmode = 'weird'", "'task.mode' must be one of"),
        ("[task]\nmeta_test_fraction = 1.0", "meta_test_fraction"),
        ("[train]\ndevice = 'gpu7'", "'train.device' must be"),
        ("[method]\nname = 'nope'", "unknown method 'nope'"),
        ("[method]\nname = 'protonet'\n[method.params]\nlr = 'fast'", "'method.params.lr' must be a number"),
        ("[method]\nname = 'protonet'\n[method.params]\nmomentum = 0.9", "unknown key 'method.params.momentum'"),
        ("[method]\nname = 'protonet'\n[method.params]\ndistance = 'manhattan'", "'method.params.distance' must be one of"),
        ("[train]\nseed = true", "'train.seed' must be an integer"),
        ("tags = 'x'", "'tags' must be a list"),
        ("[task]\nn_way = 5\n[task]\nk_shot = 1", "invalid TOML"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, patch, message):
    path = tmp_path / "bad.toml"
    path.write_text(patch)
    with pytest.raises(ConfigError) as info:
        RunConfig.load(path)
    text = str(info.value)
    assert message in text
    assert str(path) in text
    assert "\n" not in text


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        RunConfig.load(tmp_path / "absent.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00garbage")  # starts like UTF-16 (a BOM): named as such
    with pytest.raises(ConfigError, match="is UTF-16 text; save it as UTF-8"):
        RunConfig.load(tmp_path / "bin.toml")
    (tmp_path / "latin1.toml").write_bytes('name = "café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        RunConfig.load(tmp_path / "latin1.toml")


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.csv").write_text("text,label\n")
    (tmp_path / "cfg.toml").write_text('[dataset]\npath = "sub/data.csv"\n[model]\nname = "org/some-model"\n')
    config = RunConfig.load(tmp_path / "cfg.toml")
    assert Path(config.dataset.path) == (tmp_path / "sub" / "data.csv").resolve()
    assert config.model.name == "org/some-model"  # a hub id, not a missing folder


def test_with_values_validates_and_rejects_unknown_keys():
    config = RunConfig()
    changed = config.with_values({"task.n_way": 3, "method.params.lr": 0.001})
    assert changed.task.n_way == 3 and changed.method.params["lr"] == 0.001
    assert config.task.n_way == 5  # the original is untouched
    with pytest.raises(ConfigError, match="task.nope"):
        config.with_values({"task.nope": 1})
    with pytest.raises(ConfigError, match="at least 2"):
        config.with_values({"task.n_way": 1})


def test_schema_lists_every_key_with_help():
    keys = {row["key"]: row for row in schema()["keys"]}
    for key in ("name", "dataset.path", "task.n_way", "model.max_length", "method.name", "train.device"):
        assert key in keys and keys[key]["help"]
    assert keys["task.n_way"]["default"] == 5


def test_every_key_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "CONFIG.md").read_text()
    for row in schema()["keys"]:
        assert f"`{row['key']}`" in doc, row["key"]


def test_runs_stored_with_true_false_switches_still_open():
    """bf16 and gradient_checkpointing were booleans before they became auto/on/off: a
    stored run's config with the old values must still load (inspect, resume, Compare)."""
    old = RunConfig().with_values({"method.name": "maml"}).to_dict()
    old["method"]["params"].update({"bf16": False, "gradient_checkpointing": True})
    config = RunConfig.from_dict(old)
    assert config.method.params["bf16"] == "off" and config.method.params["gradient_checkpointing"] == "on"
