"""Fuzzing the parsers users feed files to: any input gives a result or one clear error line.

4,000 generated inputs in all (2,000 configs, 2,000 dataset files; METALAB_FUZZ_EXAMPLES sets the
number per property); see docs/RELIABILITY.md.
"""

import os
import string
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import RunConfig
from engine.data import load_dataset
from engine.errors import ConfigError, DatasetError

KEYS = ["name", "tags", "dataset", "task", "model", "method", "train", "path", "n_way", "k_shot", "query", "mode",
        "params", "lr", "device", "seed", "episodes", "max_length", "bogus", "meta_test_fraction", "distance"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["protonet", "finetune", "episodic", "supervised", "cpu", "auto", "cuda:1"]),
)
# Examples per property: a few seconds each on a 2-core CI machine;
# `METALAB_FUZZ_EXAMPLES=50000` for a deeper hunt.
EXAMPLES = int(os.environ.get("METALAB_FUZZ_EXAMPLES", "2000"))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)), max_leaves=12)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=6))
def test_config_parser_never_crashes(data):
    try:
        config = RunConfig.from_dict(data)
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        assert RunConfig.from_toml(config.to_toml()) == config  # whatever validates round-trips


cells = st.text(alphabet=string.printable + "éß中\u2028\x00\ufeff", max_size=20)
rows = st.lists(st.lists(cells, min_size=0, max_size=4), max_size=8)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from([".csv", ".tsv", ".jsonl", ".parquet"]), st.one_of(st.binary(max_size=300), rows.map(lambda r: "\n".join(",".join(c) for c in r).encode("utf-8", "surrogatepass"))))
def test_dataset_loaders_never_crash(suffix, content):
    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        try:
            data = load_dataset(path)
        except DatasetError as exc:
            assert path in str(exc) and "\n" not in str(exc)
        else:
            assert len(data.texts) == len(data.labels) > 0
            assert all(t and l for t, l in zip(data.texts, data.labels))
    finally:
        os.unlink(path)
