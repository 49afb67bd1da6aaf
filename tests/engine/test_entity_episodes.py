from collections import Counter

import numpy as np
import pytest

from engine.data.entity_episodes import (
    EntityEpisodeSampler,
    keep_types,
    rows_without,
    split_sentences,
    split_types,
)
from engine.data.spans import spans

TYPES = [f"T{i:02d}" for i in range(12)]


def synthetic_tags(count=600, seed=0):
    """Sentences of 6-12 tokens with 1-3 mentions (1-2 tokens long) of random types."""
    rng = np.random.default_rng(seed)
    sentences = []
    for _ in range(count):
        tags = ["O"] * int(rng.integers(6, 13))
        for _ in range(int(rng.integers(1, 4))):
            start = int(rng.integers(0, len(tags) - 1))
            if tags[start] != "O" or tags[start + 1] != "O" or (start > 0 and tags[start - 1] != "O"):
                continue
            kind = TYPES[int(rng.integers(len(TYPES)))]
            tags[start] = f"B-{kind}"
            if rng.random() < 0.5:
                tags[start + 1] = f"I-{kind}"
        if any(t != "O" for t in tags):
            sentences.append(tags)
    return sentences


TAGS = synthetic_tags()


def mentions(tag_lists):
    return Counter(span.type for tags in tag_lists for span in spans(tags))


@pytest.mark.parametrize("k_shot", [1, 5])
def test_support_meets_k_to_2k_and_query_holds_only_episode_types(k_shot):
    sampler = EntityEpisodeSampler(TAGS, TYPES, n_way=5, k_shot=k_shot, query=3, seed=1, stream="test")
    for episode in sampler.episodes(25):
        support_counts = mentions(episode.support_tags)
        assert set(support_counts) == set(episode.classes)
        assert all(k_shot <= n <= 2 * k_shot for n in support_counts.values()), support_counts
        query_counts = mentions(episode.query_tags)
        assert set(query_counts) == set(episode.classes)
        assert all(3 <= n <= 6 for n in query_counts.values()), query_counts
        assert not set(episode.support) & set(episode.query)
        # the episode's tags are the data's, with other types turned to O
        for sentence, tags in zip(episode.support + episode.query, episode.support_tags + episode.query_tags):
            assert tags == keep_types(TAGS[sentence], episode.classes)


def test_held_out_types_never_reach_training_episodes():
    split = split_types(TAGS, test_fraction=0.5, val_fraction=0.0, seed=3)
    assert len(split.test) == 6 and not set(split.test) & set(split.train)
    pool = rows_without(TAGS, split.test)
    sampler = EntityEpisodeSampler(TAGS, split.train, n_way=3, k_shot=1, query=2, seed=0, stream="train", rows=pool)
    for episode in sampler.episodes(40):
        assert set(episode.classes) <= set(split.train)
        for sentence in episode.support + episode.query:
            # not even as O: no training sentence mentions a held-out type
            assert not {span.type for span in spans(TAGS[sentence])} & set(split.test)


def test_meta_test_episodes_are_a_pure_function_of_their_inputs():
    def draw(seed, index):
        sampler = EntityEpisodeSampler(TAGS, TYPES, n_way=5, k_shot=2, query=3, seed=seed, stream="test")
        return sampler.episode(index)

    assert draw(0, 7) == draw(0, 7)
    assert draw(0, 7).key == draw(0, 7).key
    # the 7th episode does not depend on how many came before it
    first_ten = list(EntityEpisodeSampler(TAGS, TYPES, n_way=5, k_shot=2, query=3, seed=0, stream="test").episodes(10))
    assert first_ten[7] == draw(0, 7)
    assert draw(0, 7) != draw(0, 8)
    assert draw(0, 7) != draw(1, 7)
    # and the type split is a function of the data and seed
    assert split_types(TAGS, test_fraction=0.5, val_fraction=0.3, seed=4) == split_types(
        list(reversed(TAGS)), test_fraction=0.5, val_fraction=0.3, seed=4
    )


def test_streams_differ():
    train = EntityEpisodeSampler(TAGS, TYPES, n_way=5, k_shot=1, query=2, seed=0, stream="train").episode(0)
    test = EntityEpisodeSampler(TAGS, TYPES, n_way=5, k_shot=1, query=2, seed=0, stream="test").episode(0)
    assert train.key != test.key


def test_too_few_types_or_sentences_are_reported():
    with pytest.raises(ValueError, match="3 entity types available, 5-way needs 5"):
        EntityEpisodeSampler(TAGS, TYPES[:3], n_way=5, k_shot=1, query=1, seed=0, stream="test")
    sparse = [["B-A"], ["B-B"], ["B-C", "O"]]
    sampler = EntityEpisodeSampler(sparse, ["A", "B", "C"], n_way=2, k_shot=1, query=1, seed=0, stream="test")
    with pytest.raises(ValueError, match="cannot draw episode 0"):
        sampler.episode(0)


def test_keep_types_keeps_bio_valid():
    assert keep_types(["B-A", "I-A", "O", "B-B", "I-B"], ["B"]) == ("O", "O", "O", "B-B", "I-B")


def test_supervised_split_covers_every_sentence_once():
    split = split_sentences(100, test_fraction=0.2, val_fraction=0.1, seed=5)
    assert len(split.test) == 20
    assert sorted(split.train + split.val + split.test) == list(range(100))
    assert split == split_sentences(100, test_fraction=0.2, val_fraction=0.1, seed=5)
    assert split != split_sentences(100, test_fraction=0.2, val_fraction=0.1, seed=6)


def test_checks_say_when_a_task_fits_tagged_data():
    from engine.config import TaskConfig
    from engine.data.checks import check_tagged_task, first_problem
    from engine.data.tagged import TaggedDataset

    data = TaggedDataset("synthetic", "", "", [["w"] * len(t) for t in TAGS], TAGS)
    checks = check_tagged_task(data, TaskConfig(n_way=3, k_shot=1, query=2, meta_test_fraction=0.5))
    assert first_problem(checks) is None
    assert checks[0].message == f"{len(TAGS)} sentences, {sum(mentions(TAGS).values())} mentions of 12 entity types"
    assert "6 entity types held out for meta-test; 3-way needs 3 — ok" in [c.message for c in checks]
    too_wide = check_tagged_task(data, TaskConfig(n_way=7, k_shot=1, query=2, meta_test_fraction=0.5))
    assert first_problem(too_wide) == "6 entity types held out for meta-test; 7-way needs 7 — too few"
    too_many_shots = check_tagged_task(data, TaskConfig(n_way=3, k_shot=200, query=2, meta_test_fraction=0.5))
    assert first_problem(too_many_shots).startswith("meta-test: cannot draw episode 0")
    supervised = check_tagged_task(data, TaskConfig(mode="supervised", meta_test_fraction=0.2, meta_val_fraction=0.0))
    assert first_problem(supervised) is None and supervised[1].message.endswith(f"{round(0.2 * len(TAGS))} test sentences")
