"""Study files: what parses, and bad input that exits 2 with one line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from study_helpers import write_study

from engine.cli import main
from engine.errors import ConfigError
from engine.study import load_spec


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def test_a_study_file_parses_with_defaults_and_types(study_dir: Path) -> None:
    path = write_study(
        study_dir,
        'sampler = "random"\nn_trials = 4\nstorage = "journal:s.log"',
        space="""
        "method.params.lr" = { low = 1e-4, high = 1e-2, log = true }
        "method.params.train_query" = { low = 1, high = 4 }
        "task.k_shot" = { low = 1, high = 5, step = 2 }
        "method.params.distance" = { choices = ["cosine", "euclidean"] }
        "train.seed" = { choices = [0, 1] }
        """,
    )
    spec = load_spec(path)
    assert spec.name == "s" and spec.sampler == "random" and spec.pruner == "median"
    assert spec.metric == "val_accuracy" and spec.direction == "maximize" and spec.n_trials == 4
    assert spec.storage == f"journal:{study_dir / 's.log'}"  # relative to the study file
    kinds = {d.key: d.kind for d in spec.space}
    assert kinds == {
        "method.params.lr": "float",
        "method.params.train_query": "int",  # the method's schema says int
        "task.k_shot": "int",  # the config says int
        "method.params.distance": "categorical",
        "train.seed": "categorical",
    }
    assert next(d for d in spec.space if d.key == "task.k_shot").grid_values() == [1, 3, 5]


def test_val_loss_defaults_to_minimize(study_dir: Path) -> None:
    assert load_spec(write_study(study_dir, 'metric = "val_loss"')).direction == "minimize"


def test_grid_caps_the_budget_at_the_grid_size(study_dir: Path) -> None:
    path = write_study(
        study_dir, 'sampler = "grid"\nn_trials = 50',
        space='"method.params.temperature" = { choices = [5.0, 10.0] }\n"train.seed" = { low = 0, high = 2 }',
    )
    assert load_spec(path).n_trials == 6


@pytest.mark.parametrize(
    ("body", "space", "message"),
    [
        ("", '"method.params.lr" = { low = 1e-2, high = 1e-4 }', "empty range"),
        ("", '"method.params.lr" = { low = 1e-3, high = 1e-3 }', "empty range"),
        ("", '"method.params.inner_lr" = { low = 1e-4, high = 1e-1, log = true }', "method 'protonet' has no parameter 'inner_lr'"),
        ("", '"train.learning_rate" = { low = 1, high = 2 }', "unknown config key 'train.learning_rate'"),
        ("", '"model.name" = { choices = ["a", "b"] }', "cannot be searched"),
        ("", '"method.params.lr" = { low = 0.0, high = 1e-2, log = true }', "log range needs low > 0"),
        ("", '"method.params.lr" = { low = 1e-4, high = 5.0 }', "at most 1.0"),  # outside the schema's range
        ("", '"method.params.distance" = { choices = ["cosine", "manhattan"] }', "not a valid value"),
        ("", '"task.k_shot" = { low = 1.5, high = 3.0 }', "whole-number bounds"),
        ("", '"method.params.lr" = { low = 1e-4, hi = 1e-2 }', "unknown key 'hi'"),
        ("", "", "at least one parameter"),
        ('sampler = "bayes"', None, "'study.sampler' must be one of random, grid, tpe, gp, cmaes, nsga2"),
        ('pruner = "asha"', None, "'study.pruner' must be one of"),
        ('metric = "test_accuracy"', None, "'study.metric' must be one of"),
        ("n_trials = 0", None, "positive integer"),
        ('sampler = "grid"', None, "continuous range; give it a step or choices"),
        ("colour = 3", None, "unknown key 'study.colour'"),
        ("sampler_options = { population = 3 }", None, "not an option of the tpe sampler"),
    ],
)
def test_bad_study_files_are_config_errors(study_dir: Path, body: str, space: str | None, message: str) -> None:
    path = write_study(study_dir, body, space=space)
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_base_config_names_it(study_dir: Path) -> None:
    path = study_dir / "study.toml"
    path.write_text('[study]\nname = "x"\nbase = "nope.toml"\n[study.space]\n"train.seed" = { choices = [0, 1] }\n')
    with pytest.raises(ConfigError, match="nope.toml: file not found"):
        load_spec(path)


@pytest.mark.parametrize(
    ("body", "space", "cli_extra", "message"),
    [
        ("", '"method.params.lr" = { low = 1e-2, high = 1e-4 }', [], "empty range"),
        ("", '"method.params.inner_steps" = { low = 1, high = 5 }', [], "has no parameter 'inner_steps'"),
        ("", '"train.nope" = { low = 1, high = 5 }', [], "unknown config key"),
        ('storage = "journal:missing-folder/s.log"', None, [], "does not exist"),
        ("", None, ["--storage", "redis://localhost/0"], "is not understood"),
        ("", None, ["--storage", "postgresql://metalab:secret@127.0.0.1:1/optuna"], "cannot be opened"),
        ("", None, ["--n-trials", "0"], "--n-trials must be at least 1"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    study_dir: Path, capsys: pytest.CaptureFixture[str], body: str, space: str | None, cli_extra: list[str], message: str
) -> None:
    path = write_study(study_dir, body, space=space)
    db = study_dir / "data" / "metalab.db"
    before = files_under(study_dir)
    code = main(["study", "run", str(path), "--db", str(db), *cli_extra])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert "secret" not in err  # passwords never shown
    assert files_under(study_dir) == before  # no journal, no run database, no folder


def test_worker_on_a_missing_study_or_storage_is_exit_2(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = study_dir / "metalab.db"
    code = main(["study", "worker", "--storage", f"journal:{study_dir / 'none.log'}", "--study", "x", "--db", str(db)])
    assert code == 2 and "does not exist" in capsys.readouterr().err
    assert not (study_dir / "none.log").exists()
    code = main(["study", "show", "nope", "--db", str(db)])
    assert code == 2


def test_study_list_on_a_fresh_folder_is_empty_and_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["study", "list", "--json", "--db", str(tmp_path / "metalab.db")]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert list(tmp_path.iterdir()) == []


def test_every_study_command_has_help() -> None:
    from engine.cli import build_parser

    parser = build_parser()
    for command in ("run", "create", "worker", "list", "show"):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(["study", command, "--help"])
        assert info.value.code == 0


def test_create_registers_the_study_and_a_changed_space_is_refused(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = study_dir / "metalab.db"
    path = write_study(study_dir, 'storage = "sqlite:///optuna.sqlite3"\nn_trials = 5', name="c")
    assert main(["study", "create", str(path), "--db", str(db)]) == 0
    assert (study_dir / "optuna.sqlite3").exists()  # relative to the study file
    assert not db.exists()  # no trial ran, no run database
    capsys.readouterr()
    assert main(["study", "list", "--storage", f"sqlite:///{study_dir / 'optuna.sqlite3'}", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["name"] == "c" and row["budget"] == 5 and row["n_trials"] == 0 and row["sampler"] == "tpe"

    assert main(["study", "create", str(path), "--db", str(db), "--n-trials", "7"]) == 0  # a new budget is fine
    write_study(study_dir, 'storage = "sqlite:///optuna.sqlite3"', name="c", space='"train.seed" = { choices = [0, 1] }')
    capsys.readouterr()
    assert main(["study", "create", str(path), "--db", str(db)]) == 2
    assert "exists with a different space" in capsys.readouterr().err


def test_the_run_database_cannot_be_the_study_storage(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = study_dir / "metalab.db"
    path = write_study(study_dir, "")
    assert main(["study", "run", str(path), "--db", str(db), "--storage", f"sqlite:///{db}"]) == 2
    assert "keep Optuna's storage in its own file" in capsys.readouterr().err


def test_set_changes_the_base_config_and_study_keys_as_on_run(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = study_dir / "metalab.db"
    path = write_study(study_dir, 'storage = "sqlite:///optuna.sqlite3"\nn_trials = 5', name="c")
    args = ["study", "create", str(path), "--db", str(db), "--set", "train.episodes=6", "--set", "study.sampler=random"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["study", "show", "c", "--storage", f"sqlite:///{study_dir / 'optuna.sqlite3'}", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sampler"] == "random"
    spec = load_spec(path, {"train.episodes": 6})
    assert spec.base.train.episodes == 6 and load_spec(path).base.train.episodes == 4

    assert main(["study", "run", str(path), "--db", str(db), "--set", "task.n_way=0"]) == 2
    assert "'task.n_way' must be at least 2" in capsys.readouterr().err
    assert main(["study", "create", str(path), "--db", str(db), "--set", "study.sampler_options.x=1"]) == 2
    assert "one at a time" in capsys.readouterr().err


def test_a_token_classification_study_scores_entity_f1_by_default(study_dir: Path) -> None:
    ner = {"task.type": "token_classification"}
    spec = load_spec(write_study(study_dir, ""), ner)
    assert spec.metric == "val_f1" and spec.direction == "maximize"
    assert load_spec(write_study(study_dir, 'metric = "val_loss"'), ner).direction == "minimize"
    with pytest.raises(ConfigError, match="'study.metric' must be one of val_f1"):
        load_spec(write_study(study_dir, 'metric = "val_macro_f1"'), ner)  # a classification metric


def test_list_counts_trials_per_state(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A failed trial and its retry make 4 trials in a 3-trial budget: the counts tell them apart."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    storage = f"sqlite:///{study_dir / 'optuna.sqlite3'}"
    path = write_study(study_dir, 'storage = "sqlite:///optuna.sqlite3"\nn_trials = 3', name="counted")
    assert main(["study", "create", str(path), "--db", str(study_dir / "metalab.db")]) == 0
    study = optuna.load_study(study_name="counted", storage=storage)
    dist = {"method.params.lr": FloatDistribution(1e-6, 1e-3, log=True)}
    for state, value in ((TrialState.COMPLETE, 0.6), (TrialState.FAIL, None), (TrialState.COMPLETE, 0.7), (TrialState.PRUNED, None)):
        study.add_trial(create_trial(params={"method.params.lr": 1e-4}, distributions=dist, value=value, state=state))
    capsys.readouterr()
    assert main(["study", "list", "--storage", storage, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["n_trials"] == 4 and row["counts"] == {"complete": 2, "fail": 1, "pruned": 1}
