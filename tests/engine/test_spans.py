import pytest

from engine.data.spans import EntityCounts, Span, bio_problem, entity_counts, entity_f1, spans

seqeval_metrics = pytest.importorskip("seqeval.metrics")

# (gold sentences, predicted sentences): cases where a hand count of spans goes wrong easily.
TRICKY = {
    "perfect": ([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]]),
    "span too short": ([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]]),
    "span too long": ([["B-PER", "O", "O"]], [["B-PER", "I-PER", "O"]]),
    "right span, wrong type": ([["B-PER", "I-PER"]], [["B-ORG", "I-ORG"]]),
    "I- after O starts an entity": ([["O", "B-PER", "I-PER"]], [["O", "I-PER", "I-PER"]]),
    "I- of another type splits": ([["B-PER", "I-PER", "I-PER"]], [["B-PER", "I-LOC", "I-PER"]]),
    "B- inside splits in two": ([["B-PER", "I-PER", "I-PER"]], [["B-PER", "B-PER", "I-PER"]]),
    "adjacent entities of one type": ([["B-LOC", "B-LOC", "O"]], [["B-LOC", "I-LOC", "O"]]),
    "entity at the very end": ([["O", "O", "B-DISH"]], [["O", "O", "B-DISH"]]),
    "nothing predicted": ([["B-PER", "O"], ["O", "B-LOC"]], [["O", "O"], ["O", "O"]]),
    "nothing true": ([["O", "O"]], [["B-PER", "O"]]),
    "nothing anywhere": ([["O", "O"]], [["O", "O"]]),
    "entity across sentences is two": ([["O", "B-PER"], ["I-PER", "O"]], [["O", "B-PER"], ["B-PER", "O"]]),
    "hyphenated type": ([["B-sports-team", "I-sports-team"]], [["B-sports-team", "I-sports-team"]]),
    "several sentences, mixed": (
        [["B-PER", "I-PER", "O", "B-CITY", "O"], ["O", "B-FILM", "I-FILM", "I-FILM"], ["B-BAND", "O", "B-BAND"]],
        [["B-PER", "O", "O", "B-CITY", "O"], ["O", "B-FILM", "I-FILM", "I-FILM"], ["B-BAND", "O", "I-CITY"]],
    ),
}


@pytest.mark.filterwarnings("ignore")  # seqeval warns where a ratio has no denominator
@pytest.mark.parametrize("name", sorted(TRICKY))
def test_entity_scores_equal_seqeval(name):
    true, predicted = TRICKY[name]
    ours = entity_f1(true, predicted)
    assert ours["precision"] == pytest.approx(seqeval_metrics.precision_score(true, predicted))
    assert ours["recall"] == pytest.approx(seqeval_metrics.recall_score(true, predicted))
    assert ours["f1"] == pytest.approx(seqeval_metrics.f1_score(true, predicted))


def test_spans_are_exact_type_start_end():
    assert spans(["B-PER", "I-PER", "O", "B-CITY", "B-CITY", "I-CITY"]) == [
        Span("PER", 0, 2),
        Span("CITY", 3, 4),
        Span("CITY", 4, 6),
    ]
    assert spans(["O", "O"]) == []


def test_counts_add_up_over_episodes():
    first = entity_counts([["B-PER", "O"]], [["B-PER", "O"]])
    second = entity_counts([["B-LOC", "I-LOC"]], [["B-LOC", "O"]])
    assert first + second == EntityCounts(true=2, predicted=2, correct=1)


@pytest.mark.parametrize(
    "tags, problem",
    [
        (["O", "B-PER", "I-PER"], None),
        (["I-PER", "O"], (0, "tag 'I-PER' follows 'O' with no B-PER before it")),
        (["B-PER", "I-LOC"], (1, "tag 'I-LOC' follows 'B-PER' with no B-LOC before it")),
        (["O", "PER"], (1, "tag 'PER' is not BIO (use O, B-TYPE or I-TYPE)")),
        (["B-"], (0, "tag 'B-' is not BIO (use O, B-TYPE or I-TYPE)")),
    ],
)
def test_bio_problem_names_the_first_broken_tag(tags, problem):
    assert bio_problem(tags) == problem


def test_lengths_must_match():
    with pytest.raises(ValueError, match="sentence 0: 2 gold tags, 1 predicted"):
        entity_counts([["O", "O"]], [["O"]])
