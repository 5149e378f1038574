"""Alphabets, colours, the colour-spec grammar and tokenisation.

Characters are always tokenised over the full 62-character alphabet, whatever the training vocabulary,
so that a text encoder trained on one vocabulary can be loaded for another. The training vocabulary is a
prefix of `FULL_ALPHABET` (digits first), which is what makes an incremental curriculum a single number.
"""

from __future__ import annotations

import string

import numpy as np

FULL_ALPHABET = string.digits + string.ascii_lowercase + string.ascii_uppercase  # 62 characters
DIGITS = string.digits
TEXT_LENGTH = 2

# Matplotlib colour names used by the reference study; order fixes the colour ids.
COLOURS = ("blue", "green", "red", "cyan", "magenta", "yellow", "black", "white")

# Spec text is "backgroundcolor <bg>, color <fg>", tokenised as five words (the comma is a word).
SPEC_WORDS = ("<pad>", "backgroundcolor", "color", ",") + COLOURS
SPEC_LENGTH = 5
_WORD_ID = {w: i for i, w in enumerate(SPEC_WORDS)}
_CHAR_ID = {c: i for i, c in enumerate(FULL_ALPHABET)}
COLOUR_WORD_OFFSET = _WORD_ID[COLOURS[0]]


class VocabularyError(ValueError):
    """Text or colour outside what the model knows; the message lists what is allowed."""


def alphabet(vocab_size: int) -> str:
    if not 1 <= vocab_size <= len(FULL_ALPHABET):
        raise VocabularyError(f"vocab_size must be in 1..{len(FULL_ALPHABET)}, got {vocab_size}")
    return FULL_ALPHABET[:vocab_size]


def spec_text(bg: str, fg: str) -> str:
    return f"backgroundcolor {bg}, color {fg}"


def encode_chars(text: str, vocab_size: int = len(FULL_ALPHABET)) -> np.ndarray:
    allowed = alphabet(vocab_size)
    if len(text) != TEXT_LENGTH:
        raise VocabularyError(f"text must be exactly {TEXT_LENGTH} characters, got {text!r}")
    bad = [c for c in text if c not in allowed]
    if bad:
        raise VocabularyError(f"characters {''.join(bad)!r} are outside the vocabulary {allowed!r}")
    return np.array([_CHAR_ID[c] for c in text], dtype=np.int32)


def decode_chars(ids) -> str:
    return "".join(FULL_ALPHABET[int(i)] for i in ids)


def colour_id(name: str) -> int:
    if name not in COLOURS:
        raise VocabularyError(f"unknown colour {name!r}; allowed: {', '.join(COLOURS)}")
    return COLOURS.index(name)


def encode_spec(spec: str) -> np.ndarray:
    words = spec.replace(",", " , ").split()
    if len(words) != SPEC_LENGTH or words[0] != "backgroundcolor" or words[2:4] != [",", "color"]:
        raise VocabularyError(f"spec must read 'backgroundcolor <bg>, color <fg>', got {spec!r}")
    colour_id(words[1]), colour_id(words[4])
    return np.array([_WORD_ID[w] for w in words], dtype=np.int32)


def decode_spec(ids) -> str:
    words = [SPEC_WORDS[int(i)] for i in ids]
    return f"{words[0]} {words[1]}{words[2]} {words[3]} {words[4]}"


def parse_spec(spec: str) -> tuple[str, str]:
    """Return (bg, fg) colour names of a spec string."""
    ids = encode_spec(spec)
    return SPEC_WORDS[ids[1]], SPEC_WORDS[ids[4]]
