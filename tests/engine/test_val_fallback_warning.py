"""Too few meta-val classes (entity types) for n-way: validation falls back to meta-train
ones on training data. It is said in the task check, the run's log and the Monitor, since a
study on val_f1 would otherwise optimise the wrong thing (issue 27, case 15)."""

import json

import pytest

from engine.config import RunConfig
from engine.store import Store
from engine.tasks import build_task_data
from engine.training.runner import run_experiment
from tests.conftest import run_cli, tiny_config_text

FEW_VAL_TYPES = (
    '[dataset]\npath = "bundled:entities"\n[task]\ntype = "token_classification"\nn_way = 5\nk_shot = 1\nquery = 1\n'
    "meta_test_fraction = 0.5\nmeta_val_fraction = {val}\n"
)


def test_ner_with_too_few_meta_val_types_warns_in_the_check_and_the_task_data(tmp_path):
    config = tmp_path / "ner.toml"
    config.write_text(FEW_VAL_TYPES.format(val=0.3))  # the case: 18 types, 9 meta-test, 3 meta-val for 5-way
    result = run_cli("validate", str(config), "--json")
    assert result.returncode == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    assert len(warnings) == 1 and "only 3 entity types for meta-validation" in warnings[0] and "val_f1" in warnings[0]
    human = run_cli("validate", str(config))
    assert any(line.startswith("WARN ") and "meta-validation" in line for line in human.stdout.splitlines())
    data = build_task_data(RunConfig.load(config))
    assert data.val_warning == warnings[0]

    config.write_text(FEW_VAL_TYPES.format(val=0.3).replace("n_way = 5", "n_way = 3"))  # 3 meta-val types do for 3-way
    assert json.loads(run_cli("validate", str(config), "--json").stdout)["warnings"] == []
    assert build_task_data(RunConfig.load(config)).val_warning is None


@pytest.mark.parametrize(("val", "warned"), [(0.05, True), (0.3, False)])
def test_a_classification_run_says_so_in_its_log(tmp_path, tiny_model, keyword_csv, val, warned):
    config = RunConfig.from_toml(tiny_config_text(tiny_model, keyword_csv, episodes=2))
    config = config.with_values({"task.meta_val_fraction": val, "task.meta_test_fraction": 0.4, "task.n_way": 3})
    outcome = run_experiment(config, db_path=tmp_path / "runs.db")
    with Store(tmp_path / "runs.db") as store:
        lines = [r["message"] for r in store.logs(outcome.run_id) if r["level"] == "warning"]
    assert any("for meta-validation, fewer than 3-way needs" in line and "val_accuracy" in line for line in lines) is warned
