import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from captioner.errors import CaptionerError
from captioner.model.vocab import SPECIALS, Vocabulary, tokenize


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("A dog's ball, on the  GRASS .") == ["a", "dog's", "ball", "on", "the", "grass"]
    assert tokenize("Two girls-play; (in) the_park!") == ["two", "girls", "play", "in", "the", "park"]
    assert tokenize("Café Ünïcode 42") == ["café", "ünïcode", "42"]
    assert tokenize("it\u2019s") == ["it's"]
    assert tokenize(" .,;") == []


def test_build_orders_by_frequency_and_applies_min_freq():
    vocab = Vocabulary.build(["a dog", "a cat", "a dog runs"], min_freq=2)
    assert vocab.words == [*SPECIALS, "a", "dog"]
    assert vocab.encode("A dog jumps") == [vocab.start, 4, 5, vocab.unk, vocab.end]
    assert vocab.decode([vocab.start, 4, 5, vocab.end, 4]) == "a dog"


def test_encode_truncates_long_captions():
    vocab = Vocabulary.build(["w " * 100], min_freq=1)
    assert len(vocab.encode("w " * 100, max_length=30)) == 32


def test_bad_vocabularies_are_refused():
    with pytest.raises(CaptionerError):
        Vocabulary(["a", "b"])
    with pytest.raises(CaptionerError):
        Vocabulary([*SPECIALS, "a", "a"])


@settings(max_examples=300)
@given(st.text())
def test_tokenize_is_idempotent_on_any_unicode(text):
    words = tokenize(text)
    assert tokenize(" ".join(words)) == words
    assert all(w and w == w.lower() for w in words)


@settings(max_examples=300)
@given(st.lists(st.text(min_size=1), min_size=1, max_size=8))
def test_encode_decode_round_trip_on_any_unicode(captions):
    vocab = Vocabulary.build(captions, min_freq=1)
    for caption in captions:
        assert vocab.decode(vocab.encode(caption)) == " ".join(tokenize(caption))
