"""Batches for training and evaluation, sampled and composed inside the TensorFlow graph.

Every random draw is stateless, seeded by (run seed, global step, purpose), so a batch is a pure
function of its step: a resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from t2i.data import render
from t2i.data.vocab import COLOUR_WORD_OFFSET, COLOURS, FULL_ALPHABET, TEXT_LENGTH

N_COLOURS = len(COLOURS)


def vocab_at_epoch(epoch, vocab_size: int, start_vocab, start_epoch: int, every: int):
    """Training vocabulary in a given epoch: a curriculum when start_vocab is set, else constant.

    Works on Python ints and on tensors alike.
    """
    if start_vocab is None:
        return vocab_size + 0 * epoch
    added = (
        tf.maximum(0, (epoch - start_epoch) // every + 1)
        if tf.is_tensor(epoch)
        else max(0, (epoch - start_epoch) // every + 1)
    )
    return tf.minimum(start_vocab + added, vocab_size) if tf.is_tensor(epoch) else min(start_vocab + added, vocab_size)


def spec_ids(bg, fg):
    """Word ids of "backgroundcolor <bg>, color <fg>" for colour-id tensors."""
    ones = tf.ones_like(bg)
    return tf.stack([ones * 1, bg + COLOUR_WORD_OFFSET, ones * 3, ones * 2, fg + COLOUR_WORD_OFFSET], axis=1)


class TextImageSampler:
    """Draws (chars, spec, image) batches from a mask table of all character pairs of an alphabet."""

    def __init__(self, vocab_size: int, image_size: int, cache_dir):
        self.vocab_size = vocab_size
        self.image_size = image_size
        table = render.mask_table(FULL_ALPHABET[:vocab_size], image_size, cache_dir)
        self.masks = tf.constant(table, dtype=tf.float32)
        self.colours = tf.constant(render.COLOUR_RGB, dtype=tf.float32)

    def draw_labels(self, seed, batch: int, vocab):
        """Random chars [B, 2] (ids < vocab) and colour ids bg, fg [B]; fg == bg redraws fg once."""
        s = tf.random.experimental.stateless_split(seed, 4)
        chars = tf.random.stateless_uniform([batch, TEXT_LENGTH], s[0], 0, vocab, dtype=tf.int32)
        bg = tf.random.stateless_uniform([batch], s[1], 0, N_COLOURS, dtype=tf.int32)
        fg = tf.random.stateless_uniform([batch], s[2], 0, N_COLOURS, dtype=tf.int32)
        redraw = tf.random.stateless_uniform([batch], s[3], 0, N_COLOURS, dtype=tf.int32)
        fg = tf.where(fg == bg, redraw, fg)
        return chars, bg, fg

    def images(self, chars, bg, fg):
        pairs = chars[:, 0] * self.vocab_size + chars[:, 1]
        masks = tf.gather(self.masks, pairs)
        return render.compose(masks, tf.gather(self.colours, bg), tf.gather(self.colours, fg))

    def batch(self, seed, batch: int, vocab=None):
        vocab = self.vocab_size if vocab is None else vocab
        chars, bg, fg = self.draw_labels(seed, batch, vocab)
        return {"chars": chars, "spec": spec_ids(bg, fg), "images": self.images(chars, bg, fg)}

    def enumerate_all(self, vocab=None):
        """The whole input space in a fixed order: every pair x every (bg, fg) colour pair."""
        vocab = self.vocab_size if vocab is None else vocab
        i, j, b, f = np.meshgrid(
            np.arange(vocab), np.arange(vocab), np.arange(N_COLOURS), np.arange(N_COLOURS), indexing="ij"
        )
        chars = np.stack([i.ravel(), j.ravel()], axis=1).astype(np.int32)
        return chars, b.ravel().astype(np.int32), f.ravel().astype(np.int32)


def shuffle_text(seed, chars, spec, chars_prob: float, spec_too_prob: float):
    """Mismatched text for real images: permute chars (sometimes spec too) or spec across the batch."""
    s = tf.random.experimental.stateless_split(seed, 4)
    u = tf.random.stateless_uniform([2], s[0])
    shuffle_chars = u[0] < chars_prob
    shuffle_spec = tf.logical_or(tf.logical_not(shuffle_chars), u[1] < spec_too_prob)
    idx = tf.range(tf.shape(chars)[0])
    chars_out = tf.where(shuffle_chars, tf.gather(chars, tf.random.experimental.stateless_shuffle(idx, s[1])), chars)
    spec_out = tf.where(shuffle_spec, tf.gather(spec, tf.random.experimental.stateless_shuffle(idx, s[2])), spec)
    return chars_out, spec_out


def gan_dataset(sampler: TextImageSampler, cfg, start_step: int = 0) -> tf.data.Dataset:
    """One element per GAN step: the batches of every D sub-step and of the G step."""
    batch = cfg.data.batch_size
    steps_per_epoch = cfg.trainer.steps_per_epoch
    cur = cfg.data.curriculum
    substeps = list(cfg.gan.d_substeps) * cfg.gan.disc_steps
    base = tf.constant([cfg.seed, 0], dtype=tf.int64)

    def element(step):
        epoch = step // steps_per_epoch
        vocab = vocab_at_epoch(
            tf.cast(epoch, tf.int32), cfg.data.vocab_size, cur.start_vocab, cur.start_epoch, cur.every
        )
        seeds = tf.random.experimental.stateless_split(base + tf.stack([0, step]), len(substeps) + 2)
        d = []
        for k, kind in enumerate(substeps):
            b = sampler.batch(seeds[k], batch, vocab)
            if kind == "mismatched":
                b["chars"], b["spec"] = shuffle_text(
                    seeds[-1] + k, b["chars"], b["spec"], cfg.gan.shuffle.chars_prob, cfg.gan.shuffle.spec_too_prob
                )
            d.append(b)
        return {"d": tuple(d), "g": sampler.batch(seeds[len(substeps)], batch, vocab), "seed": seeds[-1]}

    ds = tf.data.Dataset.range(start_step, 2**62).map(element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def supervised_dataset(sampler: TextImageSampler, batch: int, seed: int, start_step: int = 0) -> tf.data.Dataset:
    """((chars, spec), images) batches for Part 1."""
    base = tf.constant([seed, 1], dtype=tf.int64)

    def element(step):
        b = sampler.batch(base + tf.stack([0, step]), batch)
        return (b["chars"], b["spec"]), b["images"]

    ds = tf.data.Dataset.range(start_step, 2**62).map(element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_set(sampler: TextImageSampler, samples: int, seed: int = 20200101):
    """A fixed evaluation set, the same for every run and seed so curves compare."""
    b = sampler.batch(tf.constant([seed, 2], dtype=tf.int64), samples)
    return {k: v.numpy() for k, v in b.items()}
