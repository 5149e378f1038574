"""t2i.data.vocab: tokenisation round trips and the errors users see."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from t2i.data import vocab
from t2i.data.vocab import COLOURS, FULL_ALPHABET, VocabularyError


def test_alphabets():
    assert FULL_ALPHABET == "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert len(set(FULL_ALPHABET)) == 62
    assert vocab.alphabet(10) == vocab.DIGITS
    assert vocab.alphabet(62) == FULL_ALPHABET
    for bad in (0, 63, -1):
        with pytest.raises(VocabularyError, match="1..62"):
            vocab.alphabet(bad)


def test_chars_round_trip_every_pair():
    for a, b in itertools.product(FULL_ALPHABET, repeat=2):
        ids = vocab.encode_chars(a + b)
        assert ids.dtype == np.int32 and ids.shape == (2,)
        assert vocab.decode_chars(ids) == a + b
    # Tokens are over the full alphabet whatever the vocabulary, so encoders transfer between vocabularies.
    np.testing.assert_array_equal(vocab.encode_chars("aZ"), [11, 62])
    np.testing.assert_array_equal(vocab.encode_chars("09", vocab_size=10), [1, 10])
    np.testing.assert_array_equal(vocab.encode_chars("a0", vocab_size=11), [11, 1])


def test_spec_round_trip_every_colour_pair():
    seen = set()
    for bg, fg in itertools.product(COLOURS, repeat=2):
        text = vocab.spec_text(bg, fg)
        assert text == f"backgroundcolor {bg}, color {fg}"
        ids = vocab.encode_spec(text)
        assert ids.dtype == np.int32 and ids.shape == (vocab.SPEC_LENGTH,)
        assert vocab.decode_spec(ids) == text
        assert vocab.parse_spec(text) == (bg, fg)
        assert vocab.SPEC_WORDS[ids[1] - 1] == f"{bg}," and vocab.SPEC_WORDS[ids[3] - 1] == fg
        assert tuple(vocab.spec_colours(ids)) == (COLOURS.index(bg), COLOURS.index(fg))
        seen.add(tuple(ids))
    assert len(seen) == 64


def test_spec_tolerates_spacing():
    assert vocab.parse_spec("backgroundcolor red ,color  blue") == ("red", "blue")


def test_out_of_vocabulary_chars():
    with pytest.raises(VocabularyError) as err:
        vocab.encode_chars("a1", vocab_size=10)
    msg = str(err.value)
    assert "'a'" in msg and "0123456789" in msg  # says which character and what is allowed
    with pytest.raises(VocabularyError, match="'#'"):
        vocab.encode_chars("#1")
    with pytest.raises(VocabularyError, match="'b'"):
        vocab.encode_chars("0b", vocab_size=11)  # 'a' is the 11th character, 'b' is not


@pytest.mark.parametrize("text", ["", "1", "123", "abc"])
def test_wrong_length(text):
    with pytest.raises(VocabularyError, match="exactly 2 characters"):
        vocab.encode_chars(text)


def test_unknown_colour():
    with pytest.raises(VocabularyError) as err:
        vocab.colour_id("purple")
    msg = str(err.value)
    assert "'purple'" in msg and all(c in msg for c in COLOURS)
    with pytest.raises(VocabularyError) as err:
        vocab.encode_spec("backgroundcolor red, color purple")
    assert "'purple'" in str(err.value) and all(c in str(err.value) for c in COLOURS)
    with pytest.raises(VocabularyError, match="'Red'"):
        vocab.parse_spec("backgroundcolor Red, color blue")


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "red blue",
        "backgroundcolor red color blue",
        "color red, backgroundcolor blue",
        "backgroundcolor red, color blue, color green",
        "backgroundcolor, red color blue",
    ],
)
def test_malformed_spec(spec):
    with pytest.raises(VocabularyError) as err:
        vocab.encode_spec(spec)
    assert "'backgroundcolor <bg>, color <fg>'" in str(err.value)
    assert isinstance(err.value, ValueError)
