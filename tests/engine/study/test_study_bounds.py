"""Issue #17, case 13: study files that used to pass `study create` and then crash or hang."""

from __future__ import annotations

from pathlib import Path

import pytest
from study_helpers import write_study

from engine.errors import ConfigError
from engine.study import load_spec


@pytest.mark.parametrize(
    "options, message",
    [
        ("n_startup_trials = '5'", r"'study.sampler_options.n_startup_trials' must be int, got '5'"),
        ("n_startup_trials = 2.5", r"'study.sampler_options.n_startup_trials' must be int, got 2.5"),
        ("consider_prior = 1", r"'study.sampler_options.consider_prior' must be bool, got 1"),
        ("gamma = 'x'", r"'study.sampler_options.gamma' cannot be set in a study file"),
    ],
)
def test_a_wrongly_typed_sampler_option_is_refused_at_create(study_dir: Path, options: str, message: str) -> None:
    path = write_study(study_dir, f'sampler = "tpe"\n[study.sampler_options]\n{options}\n')
    with pytest.raises(ConfigError, match=message):
        load_spec(path)


def test_a_wrongly_typed_pruner_option_is_refused(study_dir: Path) -> None:
    path = write_study(study_dir, 'pruner = "median"\n[study.pruner_options]\nn_warmup_steps = "3"\n')
    with pytest.raises(ConfigError, match=r"'study.pruner_options.n_warmup_steps' must be int"):
        load_spec(path)


def test_a_huge_grid_is_refused_without_listing_it(study_dir: Path) -> None:
    path = write_study(study_dir, 'sampler = "grid"', space='"train.episodes" = { low = 1, high = 100000000, type = "int" }\n')
    with pytest.raises(ConfigError, match=r"100,000,000 \(train.episodes\) = 100,000,000 points, more than 100,000"):
        load_spec(path)
    path = write_study(study_dir, 'sampler = "grid"', space='"train.seed" = { low = 0, high = 1e11, type = "int" }\n')
    with pytest.raises(ConfigError, match="train.seed"):
        load_spec(path)


def test_a_seed_range_beyond_the_config_bounds_is_refused(study_dir: Path) -> None:
    path = write_study(study_dir, "", space='"train.seed" = { low = 0, high = 1e23, type = "int" }\n')
    with pytest.raises(ConfigError, match=r"'train.seed' must be at most 2147483647"):
        load_spec(path)
    with pytest.raises(ConfigError, match="'study.seed' must be an integer from 0 to 2147483647"):
        load_spec(write_study(study_dir, "seed = 100000000000000000000000"))
