"""Reed et al.'s claims, measured exactly, for `t2i evaluate` of runs on the style data (data.spec=text_colour)
and of the unconditional GAN (gan.conditional=false).

A style-data text is its characters and text colour ("color red"); its true images are its renders in the
eight backgrounds (TextImageSampler.renders_over_backgrounds), so an image's error is its MAE to the nearest of
them, and that render's background is the image's *nearest background*. Under a hold-out a style-data text is
unseen when its character pair is held out (it names no background, so no colour pair of its own).

- background coverage: for each of COVERAGE_TEXTS texts, COVERAGE_DRAWS z; the number of distinct nearest
  backgrounds per text (of 8), its mean over texts and that mean as a share of 8. Mode collapse is a low number.
- style transfer (a run with S): query x_a, the true render of text a in background b; image G(S(x_a), h(t_b))
  for other texts t_b; its MAE to t_b's true render in b, and the share whose nearest background is b (chance
  1/8), beside the same numbers for G(z, h(t_b)) with a fresh z. Texts are drawn with text colour != b, so that
  the text shows.
- disentangling (a run with S): ROC AUC of the cosine similarity of S(x_i), S(x_j) as a score of "same
  background", over all pairs of AUC_IMAGES true renders of random texts (text colour != background) in random
  backgrounds. 0.5: S's z says nothing of the background; 1: it separates backgrounds perfectly. Two controls on
  the same pairs, because the background fills most pixels and any function of the image may separate it:
  the AUC of S's architecture with fresh weights (seeded by the run's seed), i.e. what S has not learned, and
  the AUC of the raw pixels' cosine similarity.
- S's loss on the final G: mean ||z - S(G(z, h))||^2 over fresh z and random texts (training's style_loss).
- the unconditional GAN: MAE of UNCONDITIONAL_SAMPLES samples to the nearest true render of any combination
  (vocabulary pairs x 8 backgrounds x 8 text colours), and how many distinct combinations those nearest renders
  are (also distinct character pairs and colour pairs).

Every draw is seeded (MEASURE_SEED and a purpose), so the same run gives the same numbers. `model` is anything
with t2i.inference.InferenceModel's features / from_features_and_z / style / latent_dim / latent_distribution /
style_encoder (the tests use stand-ins).
"""

from __future__ import annotations

import numpy as np

from t2i.data.vocab import COLOURS, UNNAMED, char_tokens, spec_tokens

N_COLOURS = len(COLOURS)
MEASURE_SEED = 0
COVERAGE_TEXTS, COVERAGE_DRAWS = 64, 32
TRANSFER_QUERIES, TRANSFER_TARGETS = 64, 8
AUC_IMAGES = 256
STYLE_LOSS_SAMPLES = 512
UNCONDITIONAL_SAMPLES = 512
_BATCH = 512
# Purposes: each measure draws from a seed of its own, so changing one leaves the others' draws as they were.
_COVERAGE, _TRANSFER, _AUC, _STYLE_LOSS = 1, 2, 3, 4


def _rng(purpose: int, seed: int = MEASURE_SEED) -> np.random.Generator:
    return np.random.default_rng([seed, purpose])


def _z(model, n: int, purpose: int, seed: int = MEASURE_SEED) -> np.ndarray:
    import tensorflow as tf

    from t2i.models.latent import LATENTS

    return LATENTS[model.latent_distribution]([n, model.latent_dim], tf.constant([seed, 100 + purpose])).numpy()


def _chars(pair, vocab_size: int) -> np.ndarray:
    return np.stack(np.divmod(np.asarray(pair), vocab_size), axis=1).astype(np.int32)


def style_features(model, chars, fg) -> np.ndarray:
    """h("<chars>", "color <fg>"): the text features of style-data texts (the spec names no background)."""
    return model.features(char_tokens(np.asarray(chars, np.int32)), spec_tokens(np.full(len(fg), UNNAMED), fg))


def background_errors(fake, sampler, chars, fg) -> np.ndarray:
    """[N, 8]: each image's MAE to its text's true render in each background."""
    import tensorflow as tf

    fake = np.asarray(fake, np.float32)
    out = np.empty((len(fake), N_COLOURS))
    for i in range(0, len(fake), _BATCH):
        s = slice(i, i + _BATCH)
        truths = sampler.renders_over_backgrounds(tf.constant(chars[s], tf.int32), tf.constant(fg[s], tf.int32))
        out[s] = np.abs(fake[s][:, None] - truths.numpy()).mean(axis=(2, 3, 4))
    return out


def nearest_background(fake, sampler, chars, fg) -> tuple[np.ndarray, np.ndarray]:
    """(MAE to the nearest true render [N], its background [N]) of images of texts (chars [N, 2], fg [N])."""
    errors = background_errors(fake, sampler, chars, fg)
    best = errors.argmin(axis=1)
    return errors[np.arange(len(best)), best], best


def _texts(rng, n: int, vocab_size: int, avoid_bg=None):
    """n random texts: character labels [n, 2] and text colours [n] (!= avoid_bg where given)."""
    pair = rng.integers(0, vocab_size * vocab_size, n)
    if avoid_bg is None:
        fg = rng.integers(0, N_COLOURS, n)
    else:
        fg = (np.asarray(avoid_bg) + 1 + rng.integers(0, N_COLOURS - 1, n)) % N_COLOURS
    return _chars(pair, vocab_size), fg.astype(np.int32)


def _mean(values, rows=None):
    values = np.asarray(values, float)
    if rows is not None:
        values = values[rows]
    return float(values.mean()) if len(values) else None


def background_coverage(model, sampler, holdout=None, texts: int = COVERAGE_TEXTS, draws: int = COVERAGE_DRAWS):
    """Distinct nearest backgrounds of `draws` z per text, for `texts` fixed random texts."""
    vocab_size = sampler.vocab_size
    chars, fg = _texts(_rng(_COVERAGE), texts, vocab_size)
    features = np.repeat(style_features(model, chars, fg), draws, axis=0)
    if model.latent_dim == 0:  # a G without z (Part 1's): one image per text, whatever is drawn
        fake = model.from_features(features)
    else:
        fake = model.from_features_and_z(features, _z(model, texts * draws, _COVERAGE))
    _, bg = nearest_background(fake, sampler, np.repeat(chars, draws, axis=0), np.repeat(fg, draws))
    bg = bg.reshape(texts, draws)
    distinct = np.array([len(np.unique(row)) for row in bg])
    result = {
        "texts": texts,
        "draws": draws,
        "backgrounds": N_COLOURS,
        "distinct_mean": float(distinct.mean()),
        "share": float(distinct.mean() / N_COLOURS),
        "distinct_min": int(distinct.min()),
        "distinct_max": int(distinct.max()),
        # how often each background is the nearest, over all draws
        "nearest_background_share": dict(
            zip(COLOURS, (np.bincount(bg.ravel(), minlength=N_COLOURS) / bg.size).tolist())
        ),
    }
    if holdout is not None:
        unseen = holdout.pair_mask(vocab_size)[chars[:, 0] * vocab_size + chars[:, 1]]
        for name, rows in (("seen", ~unseen), ("unseen", unseen)):
            result[name] = {"texts": int(rows.sum()), "distinct_mean": _mean(distinct, rows)}
    return result


def style_transfer(model, sampler, queries: int = TRANSFER_QUERIES, targets: int = TRANSFER_TARGETS):
    """G(S(x_a), h(t_b)) against t_b's true render in x_a's background b; None without S."""
    if getattr(model, "style_encoder", None) is None:
        return None
    vocab_size = sampler.vocab_size
    rng = _rng(_TRANSFER)
    b = rng.integers(0, N_COLOURS, queries).astype(np.int32)
    chars_a, fg_a = _texts(rng, queries, vocab_size, avoid_bg=b)
    # targets per query: other texts (a different pair or text colour), also visible on b
    bq = np.repeat(b, targets)
    chars_b, fg_b = _texts(rng, queries * targets, vocab_size, avoid_bg=bq)
    same = (chars_b == np.repeat(chars_a, targets, axis=0)).all(axis=1) & (fg_b == np.repeat(fg_a, targets))
    while same.any():  # redraw the few that came out as the query's own text
        redrawn_chars, redrawn_fg = _texts(rng, int(same.sum()), vocab_size, avoid_bg=bq[same])
        chars_b[same], fg_b[same] = redrawn_chars, redrawn_fg
        same = (chars_b == np.repeat(chars_a, targets, axis=0)).all(axis=1) & (fg_b == np.repeat(fg_a, targets))
    x_a = sampler.images(chars_a, b, fg_a).numpy()
    z = np.repeat(model.style(x_a), targets, axis=0)
    features = style_features(model, chars_b, fg_b)

    def scores(fake):
        errors = background_errors(fake, sampler, chars_b, fg_b)
        return {
            "mae": float(errors[np.arange(len(bq)), bq].mean()),
            "background_match": float((errors.argmin(axis=1) == bq).mean()),
            "nearest_mae": float(errors.min(axis=1).mean()),
        }

    transferred = model.from_features_and_z(features, z)
    result = {"queries": queries, "targets_per_query": targets, **scores(transferred)}
    result["random_z"] = scores(model.from_features_and_z(features, _z(model, len(features), _TRANSFER)))
    result["chance_background_match"] = 1.0 / N_COLOURS
    return result


def roc_auc(scores, positive) -> float:
    """ROC AUC of `scores` for the boolean labels `positive`: the Mann-Whitney U over positives x negatives,
    ties counting one half (exact; what sklearn.metrics.roc_auc_score gives)."""
    scores, positive = np.asarray(scores, float), np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ordered = np.sort(scores)
    # average rank (1-based) of each score among all, ties sharing the mean of their ranks
    ranks = (np.searchsorted(ordered, scores, "left") + np.searchsorted(ordered, scores, "right") + 1) / 2.0
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def untrained_copy(network, seed: int):
    """`network` (a Keras model) rebuilt with fresh weights, every random initializer seeded from `seed`: what its
    architecture computes before it learns anything. The same seed gives the same weights."""
    import keras

    count = [0]

    def seeded(config):
        if isinstance(config, list):
            return [seeded(v) for v in config]
        if not isinstance(config, dict):
            return config
        config = {k: seeded(v) for k, v in config.items()}
        inner = config.get("config")
        if config.get("module") == "keras.initializers" and isinstance(inner, dict) and "seed" in inner:
            count[0] += 1  # each initializer a seed of its own: equal shapes must not get equal weights
            config["config"] = {**inner, "seed": int(np.random.SeedSequence([seed, count[0]]).generate_state(1)[0])}
        return config

    return keras.models.clone_model(network, clone_function=lambda layer: layer.from_config(seeded(layer.get_config())))


def _auc_of_cosine(vectors, same) -> float:
    v = np.asarray(vectors, np.float64).reshape(len(vectors), -1)
    unit = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    i, j = np.triu_indices(len(v), k=1)
    return roc_auc(np.einsum("nd,nd->n", unit[i], unit[j]), same)


def style_auc(model, sampler, images: int = AUC_IMAGES, seed: int = 0):
    """ROC AUC of cos(S(x_i), S(x_j)) for same vs different background, beside its controls: an untrained S
    (untrained_copy of S, seeded by `seed`; None where S is not a Keras model) and the raw pixels. None without S."""
    if getattr(model, "style_encoder", None) is None:
        return None
    import keras

    rng = _rng(_AUC)
    bg = rng.integers(0, N_COLOURS, images).astype(np.int32)
    chars, fg = _texts(rng, images, sampler.vocab_size, avoid_bg=bg)
    x = sampler.images(chars, bg, fg).numpy()
    i, j = np.triu_indices(images, k=1)
    same = bg[i] == bg[j]
    untrained = None
    if isinstance(model.style_encoder, keras.Model):
        fresh = untrained_copy(model.style_encoder, seed)
        untrained = _auc_of_cosine(
            np.concatenate([fresh(x[k : k + _BATCH], training=False) for k in range(0, images, _BATCH)]), same
        )
    return {
        "images": images,
        "pairs": len(i),
        "same_background_pairs": int(same.sum()),
        "auc": _auc_of_cosine(model.style(x), same),
        "untrained_auc": untrained,
        "untrained_seed": seed,
        "pixel_auc": _auc_of_cosine(x, same),
    }


def style_loss(model, sampler, samples: int = STYLE_LOSS_SAMPLES):
    """mean ||z - S(G(z, h))||^2 over fresh z and random texts; None without S."""
    if getattr(model, "style_encoder", None) is None:
        return None
    chars, fg = _texts(_rng(_STYLE_LOSS), samples, sampler.vocab_size)
    z = _z(model, samples, _STYLE_LOSS)
    fake = model.from_features_and_z(style_features(model, chars, fg), z)
    loss = np.square(z - model.style(fake)).sum(axis=1)
    return {"samples": samples, "loss": float(loss.mean()), "latent_dim": int(model.latent_dim)}


def style_measures(model, sampler, holdout=None, seed: int = 0) -> dict:
    """Coverage, style transfer, AUC and S's loss (the last three None for a run without S); `seed` (the run's)
    seeds the untrained S of the AUC's control."""
    return {
        "has_style_encoder": getattr(model, "style_encoder", None) is not None,
        "coverage": background_coverage(model, sampler, holdout),
        "style_transfer": style_transfer(model, sampler),
        "style_auc": style_auc(model, sampler, seed=seed),
        "style_loss": style_loss(model, sampler),
    }


# --- the unconditional GAN -----------------------------------------------------------------------------


def all_combinations(vocab_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pair ids, bg, fg [vocab_size ** 2 * 64] of every combination, pair-major then bg then fg."""
    index = np.arange(vocab_size * vocab_size * N_COLOURS * N_COLOURS)
    pair, colours = np.divmod(index, N_COLOURS * N_COLOURS)
    bg, fg = np.divmod(colours, N_COLOURS)
    return pair.astype(np.int32), bg.astype(np.int32), fg.astype(np.int32)


def nearest_of_all(fake, sampler) -> tuple[np.ndarray, np.ndarray]:
    """(MAE [N], index into all_combinations [N]) of each image's nearest true render of any combination
    (ties: the first)."""
    import tensorflow as tf

    from t2i.analysis.evaluation import pairwise_l1

    l1 = pairwise_l1()
    fake = np.asarray(fake, np.float32).reshape(len(fake), -1)
    pair, bg, fg = all_combinations(sampler.vocab_size)
    chars = _chars(pair, sampler.vocab_size)
    best = np.full(len(fake), np.inf)
    index = np.zeros(len(fake), np.int64)
    # rows x candidates per call bounded as in t2i/analysis/evaluation.py; fixed shapes: one XLA compilation
    rows = min(256, len(fake))
    block = min(4096, max(1, (1 << 15) // rows))
    for start in range(0, len(pair), block):
        s = slice(start, start + block)
        cand = np.zeros((block, fake.shape[1]), np.float32)
        got = sampler.images(chars[s], bg[s], fg[s]).numpy().reshape(-1, fake.shape[1])
        cand[: len(got)] = got
        cand_t = tf.constant(cand)
        for r in range(0, len(fake), rows):
            f = np.zeros((rows, fake.shape[1]), np.float32)
            f[: len(fake[r : r + rows])] = fake[r : r + rows]
            dist = l1(tf.constant(f), cand_t).numpy()[: len(fake[r : r + rows]), : len(got)]
            arg = dist.argmin(axis=1)
            low = dist[np.arange(len(arg)), arg]
            better = low < best[r : r + rows]
            best[r : r + rows] = np.where(better, low, best[r : r + rows])
            index[r : r + rows] = np.where(better, start + arg, index[r : r + rows])
    return best / fake.shape[1], index


def unconditional_measures(model, sampler, samples: int = UNCONDITIONAL_SAMPLES, holdout=None):
    """MAE of G's samples to the nearest render of any combination, and how many combinations they cover.

    (The samples' z: InferenceModel's one fixed draw; the text fed is irrelevant, the GAN reads none.)
    Also the per-sample arrays (errors, nearest pair, bg, fg) for the evaluation's breakdown and tables."""
    vocab_size = sampler.vocab_size
    zeros = np.zeros(samples, np.int32)
    fake = model(char_tokens(np.zeros((samples, 2), np.int32)), spec_tokens(zeros, zeros))
    errors, index = nearest_of_all(fake, sampler)
    pair, bg, fg = (a[index] for a in all_combinations(vocab_size))
    combos = vocab_size * vocab_size * N_COLOURS * N_COLOURS
    result = {
        "samples": samples,
        "mae": float(errors.mean()),
        "distinct_texts": int(len(np.unique(index))),
        "texts": combos,
        "distinct_texts_share": float(len(np.unique(index)) / combos),
        "distinct_pairs": int(len(np.unique(pair))),
        "pairs": vocab_size * vocab_size,
        "distinct_colour_pairs": int(len(np.unique(bg * N_COLOURS + fg))),
        "colour_pairs": N_COLOURS * N_COLOURS,
    }
    if holdout is not None:  # how often the nearest text is one training never drew
        result["nearest_unseen_share"] = float(holdout.unseen(_chars(pair, vocab_size), bg, fg, vocab_size).mean())
    return result, (fake.reshape(samples, -1), errors, pair, bg, fg)
