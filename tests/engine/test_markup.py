import re

import pytest

from engine.data.markup import marked, parse_marked, tokenize


def test_marked_sentences_become_tokens_and_bio_tags():
    tokens, tags = parse_marked("[Ada Lovelace](PERSON) moved to [Port Alder](CITY), didn't she?")
    assert tokens == ["Ada", "Lovelace", "moved", "to", "Port", "Alder", ",", "didn't", "she", "?"]
    assert tags == ["B-PERSON", "I-PERSON", "O", "O", "B-CITY", "I-CITY", "O", "O", "O", "O"]


def test_adjacent_entities_of_one_type_stay_two():
    tokens, tags = parse_marked("[Kenya](COUNTRY) [Peru](COUNTRY)")
    assert tags == ["B-COUNTRY", "B-COUNTRY"]
    assert marked(tokens, tags) == "[Kenya](COUNTRY) [Peru](COUNTRY)"


def test_round_trip_through_marked_text():
    tokens = ["The", "Glide", "e-bike", "broke", "in", "Velmora", "."]
    tags = ["O", "B-PRODUCT", "I-PRODUCT", "O", "O", "B-CITY", "O"]
    assert parse_marked(marked(tokens, tags)) == (tokens, tags)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("[Ada Lovelace visited", "write an entity as [words](TYPE)"),
        ("Ada](PERSON) visited", "write an entity as [words](TYPE)"),
        ("[ ](PERSON) hi", "marks no words"),
        ("   ", "no words"),
    ],
)
def test_malformed_marks_say_how_to_write_them(text, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_marked(text)


def test_plain_text_is_tokenized():
    assert tokenize("Hi, Ms. O'Hara!") == ["Hi", ",", "Ms", ".", "O'Hara", "!"]
