"""Alphabets, colours, the colour-spec grammar and the tokens the text encoder reads.

Two kinds of ids live here:
- *labels*: a character's index in `FULL_ALPHABET` and a colour's index in `COLOURS`. The renderer and the
  mask tables use them; the training vocabulary is a prefix of `FULL_ALPHABET` (digits first), which is what
  makes an incremental curriculum a single number.
- *tokens*: what the text encoder embeds, numbered as the reference's tokenizers number them. Token 0 is
  padding and the last id of each vocabulary is the out-of-vocabulary bucket, so the embeddings have
  len(vocabulary) + 2 rows. Characters are tokenised over the full alphabet (plus the reference's "$"),
  whatever the training vocabulary, so that a text encoder trained on one vocabulary loads for another.
  A spec is split on spaces into four tokens, so the background colour keeps its comma ("red,") and is a
  different token from the same text colour ("red"); the spec vocabulary is the sorted set of those words.
"""

from __future__ import annotations

import string

import numpy as np

FULL_ALPHABET = string.digits + string.ascii_lowercase + string.ascii_uppercase  # 62 characters
DIGITS = string.digits
TEXT_LENGTH = 2

# Matplotlib colour names used by the reference study; order fixes the colour labels.
COLOURS = ("blue", "green", "red", "cyan", "magenta", "yellow", "black", "white")

_END = "$"  # in the reference's vocabularies though its texts never contain it
CHAR_WORDS = tuple(FULL_ALPHABET + _END)
SPEC_WORDS = tuple(sorted({_END, "backgroundcolor", "color", *COLOURS, *(f"{c}," for c in COLOURS)}))
SPEC_LENGTH = 4
# Rows of each embedding: padding 0, the words from 1, one out-of-vocabulary bucket.
CHAR_TOKENS = len(CHAR_WORDS) + 2
SPEC_TOKENS = len(SPEC_WORDS) + 2

_SPEC_TOKEN = {w: i + 1 for i, w in enumerate(SPEC_WORDS)}
BACKGROUND_TOKENS = np.array([_SPEC_TOKEN[f"{c},"] for c in COLOURS], dtype=np.int32)
COLOUR_TOKENS = np.array([_SPEC_TOKEN[c] for c in COLOURS], dtype=np.int32)
SPEC_KEYWORD_TOKENS = (_SPEC_TOKEN["backgroundcolor"], _SPEC_TOKEN["color"])
_BACKGROUND_OF_TOKEN = np.full(SPEC_TOKENS, -1, np.int32)
_BACKGROUND_OF_TOKEN[BACKGROUND_TOKENS] = np.arange(len(COLOURS))
_COLOUR_OF_TOKEN = np.full(SPEC_TOKENS, -1, np.int32)
_COLOUR_OF_TOKEN[COLOUR_TOKENS] = np.arange(len(COLOURS))


class VocabularyError(ValueError):
    """Text or colour outside what the model knows; the message lists what is allowed."""


def alphabet(vocab_size: int) -> str:
    if not 1 <= vocab_size <= len(FULL_ALPHABET):
        raise VocabularyError(f"vocab_size must be in 1..{len(FULL_ALPHABET)}, got {vocab_size}")
    return FULL_ALPHABET[:vocab_size]


# The colour label of a background that the spec does not name (the style data, t2i/data/dataset.py's SPECS):
# its keyword and colour tokens are padding, so the spec reads "color <fg>".
UNNAMED = -1


def spec_text(bg: str | None, fg: str) -> str:
    return f"color {fg}" if bg is None else f"backgroundcolor {bg}, color {fg}"


# --- labels <-> tokens; arithmetic and indexing only, so numpy arrays and tensors both work -------------


def char_tokens(labels):
    """Tokens of character labels (indices into FULL_ALPHABET)."""
    return labels + 1


def char_labels(tokens):
    return tokens - 1


def spec_tokens(bg, fg) -> np.ndarray:
    """Tokens [N, 4] of "backgroundcolor <bg>, color <fg>" for colour-label arrays bg, fg [N]; where bg is
    UNNAMED, of "color <fg>" (padding in the background's two places)."""
    bg, fg = np.broadcast_arrays(np.asarray(bg), np.asarray(fg))
    named = bg != UNNAMED
    keyword_bg = np.where(named, SPEC_KEYWORD_TOKENS[0], 0).astype(np.int32)
    keyword_fg = np.full(fg.shape, SPEC_KEYWORD_TOKENS[1], np.int32)
    bg_token = np.where(named, BACKGROUND_TOKENS[np.where(named, bg, 0)], 0).astype(np.int32)
    return np.stack([keyword_bg, bg_token, keyword_fg, COLOUR_TOKENS[fg]], axis=-1)


def spec_colours(tokens) -> tuple[np.ndarray, np.ndarray]:
    """Colour labels (bg, fg) of spec tokens [..., 4]; bg is UNNAMED where the spec names no background."""
    tokens = np.asarray(tokens)
    return _BACKGROUND_OF_TOKEN[tokens[..., 1]], _COLOUR_OF_TOKEN[tokens[..., 3]]


# --- text <-> tokens ------------------------------------------------------------------------------------


def encode_chars(text: str, vocab_size: int = len(FULL_ALPHABET)) -> np.ndarray:
    allowed = alphabet(vocab_size)
    if len(text) != TEXT_LENGTH:
        raise VocabularyError(f"text must be exactly {TEXT_LENGTH} characters, got {text!r}")
    bad = [c for c in text if c not in allowed]
    if bad:
        raise VocabularyError(f"characters {''.join(bad)!r} are outside the vocabulary {allowed!r}")
    return char_tokens(np.array([FULL_ALPHABET.index(c) for c in text], dtype=np.int32))


def decode_chars(tokens) -> str:
    return "".join(FULL_ALPHABET[int(i)] for i in char_labels(np.asarray(tokens)))


def colour_id(name: str) -> int:
    if name not in COLOURS:
        raise VocabularyError(f"unknown colour {name!r}; allowed: {', '.join(COLOURS)}")
    return COLOURS.index(name)


def parse_spec(spec: str) -> tuple[str | None, str]:
    """(bg, fg) colour names of a spec string; spacing around the comma is forgiven. "color <fg>" names no
    background: bg is None."""
    words = spec.replace(",", " , ").split()
    if len(words) == 2 and words[0] == "color":
        colour_id(words[1])
        return None, words[1]
    if len(words) != 5 or words[0] != "backgroundcolor" or words[2:4] != [",", "color"]:
        raise VocabularyError(f"spec must read 'backgroundcolor <bg>, color <fg>' or 'color <fg>', got {spec!r}")
    colour_id(words[1]), colour_id(words[4])
    return words[1], words[4]


def encode_spec(spec: str) -> np.ndarray:
    bg, fg = parse_spec(spec)
    return spec_tokens(UNNAMED if bg is None else colour_id(bg), colour_id(fg))


def decode_spec(tokens) -> str:
    bg, fg = spec_colours(tokens)
    return spec_text(None if int(bg) == UNNAMED else COLOURS[int(bg)], COLOURS[int(fg)])
