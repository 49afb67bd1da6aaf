from collections import Counter

import pytest

from engine.config import TaskConfig
from engine.data import EpisodeSampler, check_task, episodes_key, load_dataset, split_classes, split_rows

LABELS = [f"c{i % 20}" for i in range(20 * 30)]


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_class_split_is_disjoint_and_complete(seed):
    split = split_classes(LABELS, test_fraction=0.5, val_fraction=0.3, seed=seed)
    train, val, test = set(split.train), set(split.val), set(split.test)
    assert not (train & val) and not (train & test) and not (val & test)
    assert train | val | test == set(LABELS)
    assert len(test) == 10 and len(val) == 3


def test_class_split_depends_on_seed_only():
    assert split_classes(LABELS, test_fraction=0.5, val_fraction=0.2, seed=3) == split_classes(
        list(LABELS), test_fraction=0.5, val_fraction=0.2, seed=3
    )
    assert split_classes(LABELS, test_fraction=0.5, val_fraction=0.2, seed=3) != split_classes(
        LABELS, test_fraction=0.5, val_fraction=0.2, seed=4
    )


def test_row_split_is_stratified_and_disjoint():
    split = split_rows(LABELS, test_fraction=0.2, val_fraction=0.1, seed=0)
    assert not set(split.train) & set(split.test) and not set(split.val) & set(split.test)
    assert len(split.train) + len(split.val) + len(split.test) == len(LABELS)
    per_class = Counter(LABELS[i] for i in split.test)
    assert set(per_class.values()) == {6}


def sampler(seed=0, **kw):
    classes = sorted(set(LABELS))[:8]
    args = dict(n_way=5, k_shot=2, query=3, seed=seed, stream="test") | kw
    return EpisodeSampler(LABELS, classes, **args)


def test_episodes_are_a_pure_function_of_their_inputs():
    a = list(sampler().episodes(20))
    b = list(sampler().episodes(20))
    assert a == b
    # episode i does not depend on how many were asked for
    assert list(sampler().episodes(5)) == a[:5]
    assert sampler().episode(13) == a[13]
    assert episodes_key("data", a) == episodes_key("data", b)
    assert episodes_key("data", a) != episodes_key("other-data", a)
    assert list(sampler(seed=1).episodes(5)) != a[:5]


def test_episode_shape_and_no_overlap():
    for episode in sampler().episodes(30):
        assert len(episode.classes) == 5 == len(set(episode.classes))
        assert len(episode.support) == 10 and len(episode.query) == 15
        assert not set(episode.support) & set(episode.query)
        for row, label in zip(episode.support + episode.query, episode.support_labels + episode.query_labels):
            assert LABELS[row] == episode.classes[label]


def test_streams_differ():
    assert sampler(stream="train").episode(0) != sampler(stream="test").episode(0)


def test_sampler_rejects_infeasible_tasks():
    with pytest.raises(ValueError, match="8 classes available, 9-way needs 9"):
        sampler(n_way=9)
    with pytest.raises(ValueError, match="needs 31"):
        sampler(k_shot=16, query=15)


def test_task_checks_explain_problems(tmp_path):
    data = load_dataset("bundled:intents")
    ok = check_task(data, TaskConfig())
    assert all(c.ok for c in ok), [c.message for c in ok if not c.ok]
    assert any("held out for meta-test; 5-way needs 5 — ok" in c.message for c in ok)
    too_many = check_task(data, TaskConfig(n_way=20))
    assert any(not c.ok and "20-way needs 20 — too few" in c.message for c in too_many)
    too_few_rows = check_task(data, TaskConfig(k_shot=20, query=25))
    assert any(not c.ok and "rows, 20-shot + 25 queries needs 45" in c.message for c in too_few_rows)
