"""The task seam: task.type in the config and the method schemas, typed hyper-parameters,
word-piece alignment and entity scores of token classification, the episodes table."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import FrozenInstanceError, replace
from types import SimpleNamespace

import pytest

from engine import catalog, tasks
from engine.config import RunConfig
from engine.errors import ConfigError
from engine.store import Store
from tests.conftest import REPO


def test_task_types_name_their_metrics_and_headline():
    classification, tokens = tasks.get("classification"), tasks.get("token_classification")
    assert classification.describe()["headline"] == "accuracy" and tokens.describe()["headline"] == "f1"
    assert tokens.describe()["direction"] == "maximize" and not tokens.metric("loss").higher_is_better
    assert RunConfig().task.type == tasks.DEFAULT_TASK_TYPE == "classification"


def test_reading_task_types_loads_no_torch():
    code = (
        "import sys; from engine import tasks, config, compare\n"
        "for name in tasks.TASK_TYPES: tasks.get(name).describe()\n"
        "config.RunConfig.from_dict({'task': {'type': 'token_classification'}})\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_unknown_task_type_and_a_method_that_does_not_serve_it_are_one_line(monkeypatch):
    with pytest.raises(ConfigError, match="'task.type' must be one of classification, token_classification"):
        RunConfig.from_dict({"task": {"type": "translation"}})
    spec = catalog.get("nnshot")
    monkeypatch.setitem(catalog._REGISTRY, "nnshot", replace(spec, tasks=("classification",)))
    with pytest.raises(ConfigError, match="method 'nnshot' does not serve task.type = 'token_classification'") as err:
        RunConfig.from_dict({"task": {"type": "token_classification"}, "method": {"name": "nnshot"}})
    assert "\n" not in str(err.value)


def test_methods_json_lists_the_task_types_each_method_serves():
    for spec in catalog.all_specs():
        assert spec.to_json()["tasks"] == list(spec.tasks)
        assert set(spec.tasks) <= set(tasks.TASK_TYPES)


@pytest.mark.parametrize("name", [s.name for s in catalog.all_specs()])
def test_typed_params_hold_the_catalogs_defaults(name):
    from engine import methods

    spec = catalog.get(name)
    cls = methods.load(name)
    hp = cls.bind({})
    for param in spec.params:
        assert getattr(hp, param.name) == param.default
    assert type(hp).__name__.endswith("Params")
    with pytest.raises(FrozenInstanceError):
        hp.lr = 1.0  # type: ignore[misc]
    # A value the schema leaves out is the implementation's, named once in fixed_params.
    for key, value in cls.fixed_params.items():
        assert getattr(hp, key) == value and key not in {p.name for p in spec.params}


def test_a_fixed_value_may_not_shadow_a_parameter():
    with pytest.raises(ValueError, match="not fixed values"):
        catalog.get("maml").bind({}, fixed={"lr": 1.0})


def test_methods_declare_the_data_and_the_model_they_need():
    from engine import methods

    protonet, maml, anil = methods.load("protonet"), methods.load("maml"), methods.load("anil")
    assert protonet.train_query(protonet.bind({})) is None  # 0 = task.query
    assert protonet.train_query(protonet.bind({"train_query": 3})) == 3
    assert maml.adaptation(maml.bind({})).scope == catalog.get("maml").param("scope").default == "lora"
    assert anil.adaptation(anil.bind({})).scope == "head"


# --- token classification --------------------------------------------------------------

class FakeTokenizer:
    """Words split into pieces of at most 3 characters, like word pieces."""

    is_fast = True
    pad_token_id = 0

    def __call__(self, batch, *, is_split_into_words, truncation, max_length, padding):
        ids, words = [], []
        for sentence in batch:
            row_ids, row_words = [101], [None]
            for w, word in enumerate(sentence):
                for start in range(0, len(word), 3):
                    row_ids.append(1000 + len(word[start : start + 3]))
                    row_words.append(w)
            row_ids, row_words = row_ids[: max_length - 1] + [102], row_words[: max_length - 1] + [None]
            ids.append(row_ids)
            words.append(row_words)
        return Encoding(input_ids=ids, words=words)


class Encoding(dict):
    def word_ids(self, i):
        return self["words"][i]


class FakeEncoder:
    tokenizer = FakeTokenizer()
    source = "fake"

    def __init__(self, max_length):
        import torch

        self.max_length = max_length
        self.device = torch.device("cpu")

    def collate(self, ids):
        import torch

        width = max(len(x) for x in ids)
        return {"input_ids": torch.tensor([x + [0] * (width - len(x)) for x in ids])}


@pytest.fixture
def word_batcher():
    from engine.tasks.token_classification import WordBatcher

    dataset = SimpleNamespace(
        sentences=[["Anna", "visited", "Copenhagen", "today"], ["ok"], ["", "Oslo"]],
        tags=[["B-person", "O", "B-city", "O"], ["O"], ["O", "B-city"]],
    )
    return lambda max_length: WordBatcher(FakeEncoder(max_length), dataset)


def test_the_first_word_piece_carries_the_tag_and_cut_words_give_no_item(word_batcher):
    task = tasks.get("token_classification")
    batcher = word_batcher(32)
    batch = batcher([0, 1])
    # Row 0: [CLS] Ann a vis ite d Cop enh age n tod ay [SEP]: words start at 1, 3, 6, 10.
    assert batch["positions"].tolist() == [[0, 1], [0, 3], [0, 6], [0, 10], [1, 1]]
    episode = SimpleNamespace(classes=("city",), support=(0,), query=(1,))
    support, query = task.episode_targets(batcher, episode)
    assert support.tolist() == [0, 0, 1, 0] and query.tolist() == [0]  # person is not in the episode: O
    short = word_batcher(7)  # room for 5 pieces: Anna and visited only
    assert short.item_counts([0]) == [2]
    assert task.row_targets(short, [0], ["O", "person", "city"]).tolist() == [1, 0]
    # A word with no pieces gives no item, and the next word keeps its own tag.
    assert batcher.kept_words(2) == [1] and task.row_targets(batcher, [2], ["O", "city"]).tolist() == [1]


def test_entity_scores_read_predictions_as_spans_and_count_cut_words_as_o(word_batcher):
    import torch

    task = tasks.get("token_classification")
    batcher = word_batcher(32)
    labels = ["O", "person", "city"]
    targets = task.row_targets(batcher, [0], labels)
    perfect = torch.nn.functional.one_hot(targets, 3).float() * 10
    assert task.rows_metrics(batcher, [0], labels, perfect, targets)["f1"] == 1.0
    wrong_type = perfect[:, [0, 2, 1]]  # person <-> city
    scores = task.rows_metrics(batcher, [0], labels, wrong_type, targets)
    assert scores["f1"] == scores["precision"] == scores["recall"] == 0.0
    short = word_batcher(7)  # Copenhagen is cut: never predicted, so recall 1/2
    cut_targets = task.row_targets(short, [0], labels)
    scores = task.rows_metrics(short, [0], labels, torch.nn.functional.one_hot(cut_targets, 3).float(), cut_targets)
    assert scores["precision"] == 1.0 and scores["recall"] == 0.5


# --- the store -------------------------------------------------------------------------------

def test_episode_rows_keep_any_tasks_metrics_and_old_rows_read_null(tmp_path):
    from engine.store import _migrations

    path = tmp_path / "runs.db"
    conn = sqlite3.connect(path)  # a database from before m002
    _migrations.MIGRATIONS[0][1](__import__("sqlite_utils").Database(conn))
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    conn.execute("INSERT INTO _migrations VALUES ('m001_initial', 0)")
    conn.execute("INSERT INTO runs (id, name, status, config, created_at) VALUES ('old', 'r', 'finished', '{}', 'x')")
    conn.execute("INSERT INTO episodes (run_id, split, episode, accuracy, loss, macro_f1, n_query, key) VALUES ('old', 'test', 0, 0.5, 1.0, 0.4, 5, 'k')")
    conn.commit()
    conn.close()
    with Store(path) as store:
        (old,) = store.episodes("old")
        assert old["accuracy"] == 0.5 and old["f1"] is None
        run = store.create_run({"name": "ner", "method": {"name": "protonet"}, "task": {"type": "token_classification"}})
        store.add_episodes(run, [{"episode": 0, "key": "k", "n_query": 3, "f1": 0.75, "precision": 0.6, "recall": 1.0,
                                  "loss": 0.3, "accuracy": 0.9, "perplexity": 12.5}])
        (row,) = store.episodes(run)
        assert (row["f1"], row["precision"], row["recall"], row["accuracy"], row["macro_f1"]) == (0.75, 0.6, 1.0, 0.9, None)
        assert row["perplexity"] == 12.5  # a metric with no column of its own comes back from the JSON
        stored = store.conn.execute("SELECT metrics FROM episodes WHERE run_id = ?", (run,)).fetchone()[0]
        assert json.loads(stored)["f1"] == 0.75


def test_compare_pairs_runs_on_their_tasks_headline(tmp_path):
    from engine.compare import compare_runs, headline

    ner = {"name": "ner", "method": {"name": "protonet"}, "task": {"type": "token_classification"}}
    with Store(tmp_path / "runs.db") as store:
        ids = [store.create_run(dict(ner, name=f"r{i}")) for i in range(2)]
        for run_id, f1s in zip(ids, ([0.2, 0.4, 0.5], [0.3, 0.6, 0.6])):
            store.add_episodes(run_id, [{"episode": i, "key": str(i), "n_query": 3, "f1": f, "precision": f, "recall": f,
                                         "loss": 1.0, "accuracy": 0.9} for i, f in enumerate(f1s)])
            store.update_run(run_id, episodes_key="same")
        result = compare_runs(store, ids[0], [ids[1]])
        assert headline(store.get_run(ids[0])) == ("f1", True)
    assert result["metric"] == "test_f1"
    (comparison,) = result["comparisons"]
    assert comparison["paired"] and comparison["mean_diff"] == pytest.approx(0.4 / 3)
    assert result["runs"][0]["metrics"]["test_f1"]["mean"] == pytest.approx(1.1 / 3)


def test_validate_checks_an_ner_config_with_the_tasks_own_checks(tmp_path, capsys):
    from engine.cli import main

    config = tmp_path / "ner.toml"
    config.write_text('[dataset]\npath = "bundled:entities"\n[task]\ntype = "token_classification"\nn_way = 5\nk_shot = 1\nquery = 1\n')
    assert main(["validate", str(config)]) == 0
    out = capsys.readouterr().out
    assert "entity types held out for meta-test" in out and "ERROR" not in out
    config.write_text(config.read_text().replace("n_way = 5", "n_way = 40"))
    assert main(["validate", str(config)]) == 2
    captured = capsys.readouterr()
    assert "40-way needs 40" in captured.err and len(captured.err.strip().splitlines()) == 1
