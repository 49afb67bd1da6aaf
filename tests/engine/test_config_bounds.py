"""Issue #17, case 11: every numeric key has real bounds, for the config and every method."""

from __future__ import annotations

import pytest

from engine.config import RunConfig, schema
from engine.errors import ConfigError
from engine.catalog import all_specs

NUMERIC = [row for row in schema()["keys"] if row["type"] in ("an integer", "a number")]


@pytest.mark.parametrize("row", NUMERIC, ids=[r["key"] for r in NUMERIC])
def test_every_numeric_config_key_has_both_bounds(row):
    assert row.get("min") is not None and row.get("max") is not None, row["key"]
    for bad in (row["max"] + 1, row["min"] - 1, 2**63, 2**64 + 1, -(2**63) - 1):
        with pytest.raises(ConfigError, match=rf"'{row['key']}' must be at"):
            RunConfig().with_values({row["key"]: bad})


PARAMS = [(spec.name, p) for spec in all_specs() for p in spec.params if p.type in ("int", "float")]


@pytest.mark.parametrize("method, param", PARAMS, ids=[f"{m}.{p.name}" for m, p in PARAMS])
def test_every_numeric_method_parameter_has_both_bounds(method, param):
    assert param.low is not None and param.high is not None
    for bad in (param.high * 10 + 1, param.low - abs(param.low) - 1, 2**64):
        value = int(bad) if param.type == "int" else float(bad)
        with pytest.raises(ConfigError, match=rf"'method.params.{param.name}' must be at"):
            RunConfig().with_values({"method.name": method, f"method.params.{param.name}": value})


def test_a_seed_past_2_63_exits_2_before_anything_is_written(tmp_path, capsys):
    from engine.cli import main

    db = tmp_path / "runs.db"
    code = main(["run", "examples/quickstart.toml", "--db", str(db), "--set", "train.seed=9223372036854775808"])
    err = capsys.readouterr().err
    assert code == 2 and "'train.seed' must be at most 2147483647" in err and err.count("\n") == 1
    assert not db.exists()
