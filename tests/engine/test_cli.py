"""The CLI as scripts and the GUI use it: exit codes, one-line errors, JSON shapes."""

import json

import pytest

from engine.cli import main
from tests.conftest import run_cli, tiny_config_text


def cli(capsys, *args):
    """The CLI in-process (fast); ``run_cli`` runs it as a real subprocess."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tiny_config(tmp_path, tiny_model, keyword_csv):
    path = tmp_path / "tiny.toml"
    path.write_text(tiny_config_text(tiny_model, keyword_csv) + "eval_untrained = true\n")
    return path


@pytest.mark.slow
def test_end_to_end_run_into_a_temporary_db(tmp_path, tiny_config):
    db = tmp_path / "runs.db"
    result = run_cli("run", str(tiny_config), "--db", str(db), "--events")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    run_id = lines[-1]
    events = [json.loads(line) for line in lines[:-1]]
    types = [e["type"] for e in events]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert {"progress", "metric", "log", "checkpoint"} <= set(types)
    phases = {e["phase"] for e in events if e["type"] == "progress"}
    assert phases == {"train", "untrained", "val", "reference", "test"}  # the long phases besides training show progress too
    val = [e for e in events if e["type"] == "progress" and e["phase"] == "val"]
    assert val[-1]["done"] == val[-1]["total"] > 0  # each validation ends at its last episode
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert all(e["run_id"] == run_id for e in events)

    shown = json.loads(run_cli("runs", "show", run_id, "--db", str(db), "--json").stdout)
    assert shown["id"] == run_id and shown["status"] == "finished"
    assert shown["config"]["method"]["name"] == "protonet"
    final = shown["final_metrics"]
    for key in ("test_accuracy", "test_accuracy_ci95", "test_macro_f1", "train_seconds", "train_episodes"):
        assert final[key] is not None, key
    assert final["train_episodes"] == 6 and 0.0 <= final["test_accuracy"] <= 1.0
    assert final == events[-1]["final_metrics"]
    assert {"train_loss", "val_accuracy", "test_accuracy"} <= set(shown["metric_names"])

    listed = json.loads(run_cli("runs", "list", "--db", str(db), "--json").stdout)
    assert [r["id"] for r in listed] == [run_id]
    assert {"id", "name", "status", "method", "created_at"} <= set(listed[0])

    exported = run_cli("runs", "export", run_id[:5], "--format", "csv", "--db", str(db))
    assert exported.returncode == 0
    header, *rows = exported.stdout.splitlines()
    assert header == "run_id,name,step,value,wall_time,time" and len(rows) >= 6
    as_json = json.loads(run_cli("runs", "export", run_id, "--format", "json", "--db", str(db)).stdout)
    splits = [e["split"] for e in as_json["episodes"]]
    assert splits.count("test") == 8 and splits.count("untrained") == 8 and splits.count("val") == 3
    assert as_json["logs"] and {"time", "level", "message"} <= set(as_json["logs"][0])
    import pandas as pd

    episodes = pd.DataFrame(as_json["episodes"])  # the docs' one-line recipe
    assert episodes.groupby("split")["accuracy"].count().to_dict() == {"test": 8, "untrained": 8, "val": 3}


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[task]\nn_way = 0\n", "'task.n_way' must be at least 2"),
        ("[bogus]\nx = 1\n", "unknown key 'bogus'"),
        ('[dataset]\npath = "missing.csv"\n', "file not found"),
        ('[model]\nname = "./no-such-model"\n', "model folder not found"),
        ("[task]\nn_way = 30\n", "30-way needs 30"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, toml, message):
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    db = tmp_path / "runs.db"
    code, out, err = cli(capsys, "run", str(config), "--db", str(db))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err
    assert not db.exists()


def test_a_real_process_shows_no_traceback_for_bad_input(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[task]\nk_shot = 'many'\n")
    result = run_cli("run", str(config), "--db", str(tmp_path / "runs.db"))
    assert result.returncode == 2
    assert result.stderr == f"error: {config}: 'task.k_shot' must be an integer, got 'many'\n"


def test_model_folder_with_pickle_weights_only_is_refused(tmp_path, capsys):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"not really")
    code, _, err = cli(capsys, "model-info", str(folder), "--json")
    assert code == 2 and "pickle" in err and "allow_pickle" in err


def test_corrupt_safetensors_is_a_clear_error(tmp_path, capsys):
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n")  # a tokenizer: without one the folder is refused first
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    code, _, err = cli(capsys, "model-info", str(folder), "--json")
    assert code == 2 and "corrupt safetensors" in err and "Traceback" not in err


def test_unknown_run_and_usage_errors_exit_2(tmp_path, capsys):
    assert cli(capsys, "runs", "show", "deadbeef", "--db", str(tmp_path / "runs.db"))[0] == 2
    code, _, err = cli(capsys, "frobnicate")
    assert code == 2 and err.startswith("error: ")


def test_methods_and_model_info_json(capsys):
    methods = json.loads(cli(capsys, "methods", "--json")[1])
    names = {m["name"] for m in methods}
    assert {"finetune", "protonet"} <= names
    for method in methods:
        assert method["description"] and all({"name", "type", "default", "help"} <= set(p) for p in method["params"])
    info = json.loads(cli(capsys, "model-info", "bundled:all-MiniLM-L6-v2", "--json")[1])
    assert 20e6 < info["parameters"] < 25e6 and info["layers"] == 6 and info["kind"] == "encoder"


def test_every_command_has_help():
    from engine.cli import build_parser

    parser = build_parser()
    stack = [parser]
    seen = 0
    while stack:
        current = stack.pop()
        for action in current._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for choice in action._choices_actions:
                    assert choice.help, f"{choice.dest} has no help"
                    seen += 1
                stack.extend(action.choices.values())
            elif action.dest not in ("help", "version", "command", "runs_command", "func"):
                assert action.help, f"{current.prog} {action.dest} has no help"
    assert seen >= 8


def test_every_command_is_documented():
    from pathlib import Path

    from engine.cli import build_parser

    doc = (Path(__file__).resolve().parents[2] / "docs" / "CLI.md").read_text()
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in sub.choices:
        assert f"`{name}" in doc, name


def _commands(parser, path=()):
    """Every command path, e.g. ('runs', 'compare'), found by walking the parser."""
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, child in action.choices.items():
                yield (*path, name)
                yield from _commands(child, (*path, name))


def test_help_prints_for_every_command_and_sub_command(capsys):
    """Formatting, not only presence: a bare % in a help text crashed `runs --help`."""
    from engine.cli import build_parser

    paths = [(), *_commands(build_parser())]
    assert ("runs", "compare") in paths and ("study", "run") in paths
    for path in paths:
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args([*path, "--help"])
        out, err = capsys.readouterr()
        assert exit_info.value.code == 0 and out.startswith("usage: metalab-engine"), (path, err)


def test_a_reader_that_stops_early_is_not_an_error():
    """`metalab-engine ... | head -1`: the closed pipe ends the command quietly with status 0."""
    import subprocess
    import sys

    from tests.conftest import REPO

    process = subprocess.Popen([sys.executable, "-m", "engine", "methods", "--json"], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # before the command writes: every write meets a closed pipe
    err = process.stderr.read()
    assert process.wait(timeout=240) == 0
    assert err == ""


def _strict_json(text):
    def refuse(constant):
        raise AssertionError(f"{constant} in JSON output")

    return json.loads(text, parse_constant=refuse)


def test_json_output_has_null_where_a_value_is_not_finite(tmp_path, capsys):
    from engine.store import Store

    db = tmp_path / "runs.db"
    with Store(db) as store:
        diverged = store.create_run({"name": "diverged"}, status="running")
        store.add_metrics(diverged, [("train_loss", 1, float("nan"), 0.1, 1.0), ("train_loss", 2, float("inf"), 0.2, 2.0)])
        store.finish_run(diverged, "finished", final_metrics={"test_loss": float("nan"), "test_accuracy": 0.5})
        other = store.create_run({"name": "other"}, status="running")
        store.finish_run(other, "finished", final_metrics={"test_accuracy": 0.25})

    code, out, _ = cli(capsys, "runs", "show", diverged, "--db", str(db), "--json")
    assert code == 0 and _strict_json(out)["final_metrics"]["test_loss"] is None
    code, out, _ = cli(capsys, "runs", "export", diverged, "--format", "json", "--db", str(db))
    assert code == 0 and [m["value"] for m in _strict_json(out)["metrics"]] == [None, None]
    code, out, _ = cli(capsys, "runs", "compare", diverged, other, "--db", str(db), "--json")
    (comparison,) = _strict_json(out)["comparisons"]  # no episodes: no difference to report
    assert code == 0 and comparison["mean_diff"] is None and comparison["p_value"] is None


def test_validate_takes_set_as_run_does(tmp_path, capsys, tiny_model, keyword_csv):
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_config_text(tiny_model, keyword_csv))
    code, _, err = cli(capsys, "validate", str(config), "--set", "task.n_way=30")
    assert code == 2 and "30-way needs 30" in err
    code, out, _ = cli(capsys, "validate", str(config), "--set", "task.n_way=2")
    assert code == 0 and "ERROR" not in out


def test_the_phase_bar_draws_the_meta_test_on_the_terminal():
    import io

    from rich.console import Console

    from engine.training.phase_bar import PhaseBar

    out = io.StringIO()
    bar = PhaseBar(Console(file=out, force_terminal=True, width=100))
    bar({"type": "progress", "phase": "train", "done": 1, "total": 4})
    assert bar.progress is None  # training has its own bar
    bar({"type": "progress", "phase": "val", "done": 1, "total": 5})
    assert bar.progress is None  # a validation during training: not a second bar under the training one
    bar({"type": "progress", "phase": "train", "done": 4, "total": 4})
    bar({"type": "progress", "phase": "val", "done": 5, "total": 5})  # the last validation, training over
    assert "validation" in out.getvalue()
    bar({"type": "progress", "phase": "test", "done": 3, "total": 8})
    assert bar.phase == "test" and bar.progress.tasks[0].completed == 3
    bar({"type": "progress", "phase": "test", "done": 8, "total": 8})
    assert bar.progress is None and "meta-test" in out.getvalue()
