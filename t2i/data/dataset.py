"""Batches for training and evaluation, sampled and composed inside the TensorFlow graph.

Every random draw is stateless, seeded by (run seed, global step, purpose), so a batch is a pure
function of its step: a resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import tensorflow as tf

from t2i.data import render, vocab
from t2i.registry import Registry

N_COLOURS = len(vocab.COLOURS)

# What the colour spec names (`data.spec`): a spec of the colour labels (bg, fg) drawn for an image.
# Either way the image is the true render in its drawn background and text colour.
SPECS: Registry = Registry("spec")
# The reference's: "backgroundcolor <bg>, color <fg>", one true image per text.
SPECS.register("full")(lambda bg, fg: (bg, fg))
# The style data (Reed et al.'s unnamed pose and background): "color <fg>"; the background is drawn as before
# but never named, so only G's z can carry it, and a text has eight true images, one per background.
SPECS.register("text_colour")(lambda bg, fg: (tf.fill(tf.shape(bg), vocab.UNNAMED), fg))


def data_spec(cfg) -> str:
    """The config's `data.spec` ("full" for a config from before the key existed)."""
    from omegaconf import OmegaConf

    return OmegaConf.select(cfg, "data.spec", default=None) or "full"


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
    """Spec tokens [B, 4] of colour-label tensors bg, fg [B], in graph (see vocab.spec_tokens): padding in the
    background's places where bg is vocab.UNNAMED."""
    keyword_bg, keyword_fg = (tf.fill(tf.shape(bg), t) for t in vocab.SPEC_KEYWORD_TOKENS)
    named = bg != vocab.UNNAMED
    bg_token = tf.gather(tf.constant(vocab.BACKGROUND_TOKENS), tf.where(named, bg, 0))
    zero = tf.zeros_like(bg_token)
    fg_token = tf.gather(tf.constant(vocab.COLOUR_TOKENS), fg)
    return tf.stack([tf.where(named, keyword_bg, zero), tf.where(named, bg_token, zero), keyword_fg, fg_token], axis=1)


class TextImageSampler:
    """Draws (chars, spec, image) batches from a mask table of all character pairs of an alphabet."""

    def __init__(self, vocab_size: int, image_size: int, cache_dir, holdout=None, spec: str = "full"):
        """`holdout`: a t2i.data.holdout.HoldOut whose combinations training draws never hold, or None;
        `spec`: what the spec names (SPECS)."""
        self.vocab_size = vocab_size
        self.spec = spec
        self._named = SPECS[spec]
        self.image_size = image_size
        table = render.mask_table(vocab.FULL_ALPHABET[:vocab_size], image_size, cache_dir)
        self.masks = tf.constant(table, dtype=tf.float32)
        self.colours = tf.constant(render.COLOUR_RGB, dtype=tf.float32)
        self.holdout = holdout
        if holdout is not None:
            pairs, counts = holdout.allowed_pairs(vocab_size)
            self._allowed_pairs, self._allowed_counts = tf.constant(pairs), tf.constant(counts)
            self._colour_draws = tf.constant(holdout.colour_draws())

    def draw_labels(self, seed, batch: int, vocab_size, everything: bool = False):
        """Random character labels [B, 2] (< vocab_size) and colour labels bg, fg [B].

        As the reference draws them: a text colour equal to the background is redrawn once. With a hold-out
        (and not `everything`), the same distribution less the held-out combinations (see seen_labels).
        """
        if self.holdout is not None and not everything:
            return self.seen_labels(seed, batch, vocab_size)
        s = tf.random.experimental.stateless_split(seed, 4)
        chars = tf.random.stateless_uniform([batch, vocab.TEXT_LENGTH], s[0], 0, vocab_size, dtype=tf.int32)
        bg = tf.random.stateless_uniform([batch], s[1], 0, N_COLOURS, dtype=tf.int32)
        fg = tf.random.stateless_uniform([batch], s[2], 0, N_COLOURS, dtype=tf.int32)
        redraw = tf.random.stateless_uniform([batch], s[3], 0, N_COLOURS, dtype=tf.int32)
        fg = tf.where(fg == bg, redraw, fg)
        return chars, bg, fg

    def seen_labels(self, seed, batch: int, vocab_size):
        """draw_labels under the hold-out: the character pair uniform among the allowed pairs of the vocabulary
        (a tensor under the curriculum), the colour pair as the reference draws it among the allowed ones."""
        s = tf.random.experimental.stateless_split(seed, 2)
        n_pairs = tf.gather(self._allowed_counts, vocab_size)
        pair = tf.random.stateless_uniform([batch], s[0], 0, n_pairs, dtype=tf.int32)
        chars = tf.gather(self._allowed_pairs, pair)
        n_colours = tf.shape(self._colour_draws)[0]
        colour = tf.random.stateless_uniform([batch], s[1], 0, n_colours, dtype=tf.int32)
        colours = tf.gather(self._colour_draws, colour)
        return chars, colours[:, 0], colours[:, 1]

    def images(self, chars, bg, fg):
        """True images of character labels [B, 2] and colour labels [B]."""
        pairs = chars[:, 0] * self.vocab_size + chars[:, 1]
        masks = tf.gather(self.masks, pairs)
        return render.compose(masks, tf.gather(self.colours, bg), tf.gather(self.colours, fg))

    def batch(self, seed, batch: int, vocab_size=None, everything: bool = False, labels: bool = False):
        """{"chars", "spec"}: the text encoder's tokens; "images": the true renders. `everything`: drawn from all
        combinations, held out or not (the evaluation set); `labels`: also the drawn labels "pairs" [B, 2],
        "bg" and "fg" [B] (what an evaluation of the style data needs, whose spec does not name bg)."""
        vocab_size = self.vocab_size if vocab_size is None else vocab_size
        chars, bg, fg = self.draw_labels(seed, batch, vocab_size, everything)
        out = {
            "chars": vocab.char_tokens(chars),
            "spec": spec_ids(*self._named(bg, fg)),
            "images": self.images(chars, bg, fg),
        }
        if labels:
            out.update(pairs=chars, bg=bg, fg=fg)
        return out

    def renders_over_backgrounds(self, chars, fg):
        """The true renders of character labels [N, 2] and text colours [N] in each of the eight backgrounds:
        [N, 8, size, size, 3] (the style data's true images of a text)."""
        n = tf.shape(fg)[0]
        bgs = tf.tile(tf.range(N_COLOURS)[None], [n, 1])
        flat = self.images(tf.repeat(chars, N_COLOURS, axis=0), tf.reshape(bgs, [-1]), tf.repeat(fg, N_COLOURS, axis=0))
        return tf.reshape(flat, [n, N_COLOURS, self.image_size, self.image_size, 3])


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
    """One element per GAN step: a batch for each batch the D step reads, G's batch, the seed, and whether
    G trains.

    As in the reference, one batch serves the whole step: D sees the same real images under their own and
    under shuffled text ("mismatched"), G trains on the texts whose fakes D just judged. `gan.fresh_batches`
    draws a new batch for every D batch and for G instead (the ablation of that choice).
    """
    from t2i.training.d_steps import batches_read  # the D step says what it reads; data knows no steps

    batch = cfg.data.batch_size
    steps_per_epoch = cfg.trainer.steps_per_epoch
    cur = cfg.data.curriculum
    kinds = batches_read(cfg.gan)
    # The seed layout follows the reference step's sub-steps whatever the D step reads, so that a step's
    # random draws (and every golden curve) do not depend on which batches are built.
    n_seeds = len(cfg.gan.d_substeps) + 2
    g_index = len(cfg.gan.d_substeps)
    g_every = cfg.gan.d_only_steps + 1
    base = tf.constant([cfg.seed, 0], dtype=tf.int64)

    def element(step):
        epoch = step // steps_per_epoch
        vocab_size = vocab_at_epoch(
            tf.cast(epoch, tf.int32), cfg.data.vocab_size, cur.start_vocab, cur.start_epoch, cur.every
        )
        seeds = tf.random.experimental.stateless_split(base + tf.stack([0, step]), n_seeds)
        shared = sampler.batch(seeds[0], batch, vocab_size)

        def draw(k):
            return sampler.batch(seeds[k], batch, vocab_size) if cfg.gan.fresh_batches else dict(shared)

        d = []
        for k, kind in enumerate(kinds):
            b = draw(k)
            if kind == "mismatched":
                b["chars"], b["spec"] = shuffle_text(
                    seeds[-1] + k, b["chars"], b["spec"], cfg.gan.shuffle.chars_prob, cfg.gan.shuffle.spec_too_prob
                )
            d.append(b)
        # The reference counts batches within the epoch when it lets G skip some (DiscSteps).
        g_turn = (step % steps_per_epoch) % g_every == 0
        return {"d": tuple(d), "g": draw(g_index), "seed": seeds[-1], "g_turn": g_turn}

    ds = tf.data.Dataset.range(start_step, 2**62).map(element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def supervised_dataset(sampler: TextImageSampler, batch: int, seed: int) -> tf.data.Dataset:
    """((chars, spec), images) batches for Part 1."""
    base = tf.constant([seed, 1], dtype=tf.int64)

    def element(step):
        b = sampler.batch(base + tf.stack([0, step]), batch)
        return (b["chars"], b["spec"]), b["images"]

    ds = tf.data.Dataset.range(2**62).map(element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_set(sampler: TextImageSampler, samples: int, seed: int = 20200101):
    """A fixed evaluation set, the same for every run and seed so curves compare: all combinations, whatever
    the sampler's hold-out. With the drawn labels ("pairs", "bg", "fg"), which leave the draws unchanged."""
    b = sampler.batch(tf.constant([seed, 2], dtype=tf.int64), samples, everything=True, labels=True)
    return {k: v.numpy() for k, v in b.items()}
