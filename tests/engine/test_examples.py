"""The example run configurations validate against their bundled data and model."""

from pathlib import Path

import pytest

from engine.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", ["quickstart.toml", "ner_quickstart.toml", "icl_quickstart.toml"])
def test_example_validates(capsys, name):
    assert main(["validate", str(EXAMPLES / name)]) == 0, capsys.readouterr().err


def test_ner_quickstart_is_few_shot_ner_on_held_out_types_with_paired_untrained_scores():
    from engine import tasks
    from engine.config import RunConfig
    from engine.data import first_problem

    config = RunConfig.load(EXAMPLES / "ner_quickstart.toml")
    assert (config.task.type, config.method.name, config.dataset.path) == ("token_classification", "protonet", "bundled:entities")
    assert config.train.eval_untrained and config.train.device == "cpu"
    task = tasks.get(config.task.type)
    assert first_problem(task.check(task.load_dataset(config), config.task)) is None
