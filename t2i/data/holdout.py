"""Hold-outs: combinations kept out of training, to measure how a model does on combinations it never saw
(Reed et al. 2016's zero-shot categories, exactly measured on synthetic data). Picked by `data.holdout`.

A combination (character pair, background colour, text colour) is *unseen* when its character pair or its
(background, text colour) pair is held out. Training draws (t2i/data/dataset.py, for the GAN and for Part 1)
never draw an unseen combination; every character and every colour is still drawn on its own. The evaluation
set is unchanged (all combinations); the per-epoch evaluation splits it into seen and unseen inputs and logs
`mae_seen` and `mae_unseen` beside `mae`, and `t2i evaluate` reports both.

Registered hold-outs:

- `none`: nothing held out; training draws exactly what they drew before the option existed.
- `unseen`: 20 of the 100 digit pairs, (i, i+3 mod 10) and (i, i+7 mod 10) for i in 0..9 -- each digit is
  still drawn in both positions, with 8 of the 10 partners -- and 8 of the 56 (background, text colour) pairs
  with distinct colours, background COLOURS[i] with text colour COLOURS[(i+3) % 8] -- each colour is still
  drawn as text on 6 backgrounds and as a background under 6 text colours. Pairs with a character beyond the
  digits (vocabulary 62, the curriculum, Part 1) are all allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from t2i.data.vocab import COLOURS, FULL_ALPHABET
from t2i.registry import Registry

N_COLOURS = len(COLOURS)


@dataclass(frozen=True)
class HoldOut:
    """Character pairs ("03": first character, second character) and (background, text colour) pairs held out
    of training."""

    pairs: tuple[str, ...] = ()
    colours: tuple[tuple[str, str], ...] = ()

    def characters(self) -> str:
        return "".join(sorted(set("".join(self.pairs)), key=FULL_ALPHABET.index))

    def pair_mask(self, vocab_size: int) -> np.ndarray:
        """[vocab_size ** 2] bool, True where the pair id (first * vocab_size + second) is held out; pairs with a
        character outside the vocabulary cannot be drawn and are skipped."""
        mask = np.zeros(vocab_size * vocab_size, bool)
        for first, second in self.pairs:
            a, b = FULL_ALPHABET.index(first), FULL_ALPHABET.index(second)
            if a < vocab_size and b < vocab_size:
                mask[a * vocab_size + b] = True
        return mask

    def colour_mask(self) -> np.ndarray:
        """[N_COLOURS, N_COLOURS] bool, rows background, columns text colour: True where held out."""
        mask = np.zeros((N_COLOURS, N_COLOURS), bool)
        for bg, fg in self.colours:
            mask[COLOURS.index(bg), COLOURS.index(fg)] = True
        return mask

    def unseen(self, chars, bg, fg, vocab_size: int) -> np.ndarray:
        """[N] bool: whether each combination (character labels [N, 2], colour labels bg, fg [N]) is held out."""
        chars, bg, fg = np.asarray(chars), np.asarray(bg), np.asarray(fg)
        pairs = self.pair_mask(vocab_size)[chars[:, 0] * vocab_size + chars[:, 1]]
        return pairs | self.colour_mask()[bg, fg]

    def allowed_pairs(self, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
        """The pairs training may draw, as character labels [N, 2] ordered so that those of every smaller
        vocabulary come first, and counts [vocab_size + 1]: counts[v] of them lie within vocabulary v (the
        curriculum's vocabulary of an epoch picks a prefix)."""
        held = self.pair_mask(vocab_size).reshape(vocab_size, vocab_size)
        a, b = np.meshgrid(np.arange(vocab_size), np.arange(vocab_size), indexing="ij")
        keep = ~held.ravel()
        a, b = a.ravel()[keep], b.ravel()[keep]
        order = np.lexsort((b, a, np.maximum(a, b)))  # by the vocabulary that first holds the pair
        labels = np.stack([a[order], b[order]], axis=1).astype(np.int32)
        counts = np.searchsorted(np.maximum(labels[:, 0], labels[:, 1]), np.arange(vocab_size + 1), side="left")
        return labels, counts.astype(np.int32)

    def colour_draws(self) -> np.ndarray:
        """(background, text colour) labels [N, 2] that a uniform index into draws as training draws colours
        without a hold-out, less the held-out pairs: the reference redraws a text colour equal to the
        background once, so a pair of distinct colours is 9 times as likely as a pair of equal ones and appears
        9 times here."""
        held = self.colour_mask()
        rows = []
        for bg in range(N_COLOURS):
            for fg in range(N_COLOURS):
                if not held[bg, fg]:
                    rows += [(bg, fg)] * (1 if bg == fg else N_COLOURS + 1)
        return np.array(rows, np.int32).reshape(-1, 2)

    def problem(self, vocab_size: int, smallest_vocab: int | None = None) -> str | None:
        """Why this hold-out cannot run with a vocabulary of `vocab_size` (growing from `smallest_vocab` under a
        curriculum), or None."""
        unknown = sorted({c for pair in self.pairs for c in pair} - set(FULL_ALPHABET[:vocab_size]))
        if unknown or any(len(p) != 2 for p in self.pairs):
            return (
                f"data.holdout holds out character pairs {', '.join(self.pairs)}, but "
                + (f"{''.join(unknown)!r} lie outside" if unknown else "a pair is 2 characters of")
                + f" the vocabulary {FULL_ALPHABET[:vocab_size]!r} (data.vocab_size={vocab_size})"
            )
        bad = [c for pair in self.colours for c in pair if c not in COLOURS]
        if bad:
            return f"data.holdout names unknown colours {', '.join(bad)} (allowed: {', '.join(COLOURS)})"
        smallest = vocab_size if smallest_vocab is None else min(smallest_vocab, vocab_size)
        return self.nothing_left(smallest, "data.vocab_size" if smallest == vocab_size else "the curriculum's start")

    def nothing_left(self, vocab_size: int, what: str) -> str | None:
        """Why training could draw nothing from a vocabulary of `vocab_size` (`what` names it), or None."""
        if self.allowed_pairs(vocab_size)[1][vocab_size] == 0:
            return f"data.holdout holds out every character pair of a vocabulary of {vocab_size} ({what})"
        if len(self.colour_draws()) == 0:
            return "data.holdout holds out every (background, text colour) pair: nothing to train on"
        return None


HOLDOUTS: Registry[HoldOut | None] = Registry("hold-out")
HOLDOUTS.register("none")(None)  # nothing held out: the draws of before the option existed

# (i, i+3 mod 10) and (i, i+7 mod 10), i = 0..9, written out so that what is held out reads here.
UNSEEN_PAIRS = (
    "03", "14", "25", "36", "47", "58", "69", "70", "81", "92",
    "07", "18", "29", "30", "41", "52", "63", "74", "85", "96",
)  # fmt: skip
# Background COLOURS[i] with text colour COLOURS[(i + 3) % 8].
UNSEEN_COLOURS = (
    ("blue", "cyan"),
    ("green", "magenta"),
    ("red", "yellow"),
    ("cyan", "black"),
    ("magenta", "white"),
    ("yellow", "blue"),
    ("black", "green"),
    ("white", "red"),
)
HOLDOUTS.register("unseen")(HoldOut(UNSEEN_PAIRS, UNSEEN_COLOURS))


def of(cfg) -> HoldOut | None:
    """The hold-out a config names (None for `none`, and for a config from before `data.holdout` existed)."""
    from omegaconf import OmegaConf

    return HOLDOUTS[OmegaConf.select(cfg, "data.holdout", default=None) or "none"]
