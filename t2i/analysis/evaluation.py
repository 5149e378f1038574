"""`t2i evaluate`: the generator against the true images over the whole input space.

Samples: every (pair, bg, fg) of the run's vocabulary when there are at most `samples` of them (digits:
100 pairs x 64 colour pairs = 6,400), else a uniform random sample of `samples` without replacement,
drawn with the fixed seed SAMPLE_SEED so every run of a vocabulary is scored on the same inputs.
bg == fg inputs are included, as training draws them too (rarely).

MAE is training's `mae`: mean |G(text) - true image| in [-1, 1] pixel units; the true images come from
the fast mask path (within 0.0074 of the reference renderer per pixel, see t2i/data/render.py).

Readability: an image is readable when, among the true renders of *all* pairs of the vocabulary in its
colours, the nearest by L1 is its own target (ties count as readable). The confusion list counts the
(target -> nearest) pairs of the unreadable ones.

Runs whose texts have no single true image are scored as Reed et al. claim (t2i/analysis/reed_measures.py):
- the style data (data.spec=text_colour): G reads "color <fg>"; a sample's MAE is to the nearest of its text's
  eight renders, whose background stands for the sample's in every per-background number and in readability;
  under a hold-out a text is unseen when its character pair is held out. "reed" adds background coverage, style
  transfer, the disentangling AUC and S's loss (the last three None for a run without S).
- the unconditional GAN (gan.conditional=false): reed_measures.UNCONDITIONAL_SAMPLES samples (at most), each
  scored against the nearest render of any combination, whose pair and colours stand for its own;
  readability is None (there is no target), "unconditional" counts the distinct combinations covered.
"""

from __future__ import annotations

import csv
import functools
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from t2i.data.holdout import HOLDOUTS
from t2i.data.vocab import COLOURS, FULL_ALPHABET, UNNAMED, char_tokens, spec_tokens

DEFAULT_SAMPLES = 20_000
SAMPLE_SEED = 0
TRUTH_BATCH = 512
# Rows x candidates per L1 distance call: bounds the memory of [rows, candidates, pixels] if XLA does not fuse.
_PAIRS_PER_CALL = 1 << 15
N_COLOURS = len(COLOURS)
# The result of a run on the style data or of the unconditional GAN carries "version": results of an older
# version lack the Reed measures (t2i/analysis/reed_measures.py), and the report's cache recomputes them.
# The reference data's result is as before and carries none.
EVALUATION_VERSION = 3  # 3: the style AUC's controls (an untrained S, the raw pixels)


def select_samples(vocab_size: int, samples: int, seed: int = SAMPLE_SEED):
    """(pair ids, bg ids, fg ids, exhaustive); pair id = first * vocab_size + second, as in the mask table."""
    space = vocab_size * vocab_size * N_COLOURS * N_COLOURS
    if samples < 1:
        raise ValueError(f"--samples must be at least 1, got {samples}")
    if space <= samples:
        index = np.arange(space)
    else:
        index = np.sort(np.random.default_rng(seed).choice(space, samples, replace=False))
    # Pair-major, then bg, then fg.
    pair, colours = np.divmod(index, N_COLOURS * N_COLOURS)
    bg, fg = np.divmod(colours, N_COLOURS)
    return pair.astype(np.int32), bg.astype(np.int32), fg.astype(np.int32), space <= samples


def _chars(pair, vocab_size: int) -> np.ndarray:
    """Character labels [N, 2] of pair ids."""
    return np.stack(np.divmod(pair, vocab_size), axis=1).astype(np.int32)


def _text(pair: int, vocab_size: int) -> str:
    return FULL_ALPHABET[pair // vocab_size] + FULL_ALPHABET[pair % vocab_size]


def generate_and_score(model, sampler, pair, bg, fg):
    """G's images [N, D] (flattened) and each one's MAE against its true image [N]."""
    chars = _chars(pair, sampler.vocab_size)
    fake = model(char_tokens(chars), spec_tokens(bg, fg)).reshape(len(pair), -1)
    errors = np.empty(len(pair))
    for i in range(0, len(pair), TRUTH_BATCH):
        s = slice(i, i + TRUTH_BATCH)
        truth = sampler.images(chars[s], bg[s], fg[s]).numpy().reshape(len(fake[s]), -1)
        errors[s] = np.abs(fake[s] - truth).mean(axis=1)
    return fake, errors


@functools.cache
def pairwise_l1():
    """[rows, candidates] L1 distances, one function for the process, so that each shape compiles once."""
    import tensorflow as tf

    @tf.function(jit_compile=True)  # XLA fuses subtract-abs-sum: no [rows, candidates, pixels] tensor in memory
    def l1(a, b):
        return tf.reduce_sum(tf.abs(a[:, None, :] - b[None, :, :]), axis=-1)

    return l1


def nearest_renders(fake, sampler, pair, bg, fg, progress=None) -> np.ndarray:
    """For each image, the pair id of the nearest (L1) true render among all pairs in its colours.

    Brute force, as block-sum lower bounds proved too loose to prune: 6,400 digit samples cost ~5e8 pixel
    differences (a second), a 20,000 sample of 62 characters ~1.6e11 (~8 minutes on one CPU core).
    """
    import tensorflow as tf

    l1 = pairwise_l1()
    n_pairs = sampler.vocab_size**2
    all_chars = _chars(np.arange(n_pairs), sampler.vocab_size)
    groups = {}
    for i, key in enumerate(zip(bg.tolist(), fg.tolist())):
        groups.setdefault(key, []).append(i)
    # Fixed chunk and padded widths keep the number of shapes, hence XLA compilations, small.
    chunk = max(1, min(max(map(len, groups.values())), _PAIRS_PER_CALL // n_pairs))
    nearest = np.empty(len(pair), np.int64)
    for done, ((b, f), rows) in enumerate(groups.items()):
        ones = np.ones(n_pairs, np.int32)
        candidates = sampler.images(all_chars, ones * b, ones * f).numpy().reshape(n_pairs, -1)
        # A pixel equal in every candidate adds the same to every distance, so dropping it keeps the ranking
        # (digits: 3/4 of all pixels, 62 characters: 1/3).
        varying = np.flatnonzero(np.ptp(candidates, axis=0) > 0)
        width = max(1, -(-len(varying) // 512)) * 512  # zero columns add nothing
        padded = np.zeros((n_pairs, width), np.float32)
        padded[:, : len(varying)] = candidates[:, varying]
        padded = tf.constant(padded)
        for start in range(0, len(rows), chunk):
            idx = np.asarray(rows[start : start + chunk])
            block = np.zeros((chunk, width), np.float32)
            block[: len(idx), : len(varying)] = fake[idx][:, varying]
            dist = l1(block, padded).numpy()[: len(idx)]
            own = dist[np.arange(len(idx)), pair[idx]]
            nearest[idx] = np.where(own <= dist.min(axis=1), pair[idx], dist.argmin(axis=1))
        if progress:
            progress(done + 1, len(groups))
    return nearest


def _progress(done: int, total: int) -> None:
    print(f"t2i: readability: colour pair {done}/{total}", file=sys.stderr, flush=True)


def _mean_where(values, masks) -> list:
    """Mean of `values` under each boolean mask; None where a mask selects nothing (small random samples)."""
    return [float(values[m].mean()) if m.any() else None for m in masks]


def seen_unseen(errors, readable, unseen) -> dict:
    """MAE, readability and sample count of the seen and of the unseen inputs (None where there are none)."""
    return {
        name: {
            "samples": int(rows.sum()),
            "mae": _mean_where(errors, [rows])[0],
            "readability": _mean_where(readable, [rows])[0],
        }
        for name, rows in (("seen", ~unseen), ("unseen", unseen))
    }


def score_breakdown(
    errors, readable, pair, bg, fg, nearest, vocab_size: int, confusions: int = 20, holdout: str = "none"
) -> dict:
    """The result's scores; with a hold-out (t2i/data/holdout.py's name) also "holdout" and "seen" and "unseen"
    (samples, MAE and readability of the inputs training draws and of those it never draws)."""
    chars = _chars(pair, vocab_size)
    alphabet = FULL_ALPHABET[:vocab_size]
    by_bg = [bg == c for c in range(N_COLOURS)]
    by_fg = [fg == c for c in range(N_COLOURS)]
    # A character counts once for every sample that contains it, in either position.
    by_char = [(chars[:, 0] == k) | (chars[:, 1] == k) for k in range(vocab_size)]
    cells = [[(bg == b) & (fg == f) for f in range(N_COLOURS)] for b in range(N_COLOURS)]
    wrong = Counter((_text(p, vocab_size), _text(q, vocab_size)) for p, q in zip(pair[~readable], nearest[~readable]))
    distinct = bg != fg
    split = {}
    if HOLDOUTS[holdout] is not None:
        unseen = HOLDOUTS[holdout].unseen(chars, bg, fg, vocab_size)
        split = {"holdout": holdout, **seen_unseen(errors, readable, unseen)}
    return {
        **split,
        "mae": float(errors.mean()),
        "readability": float(readable.mean()),
        "readability_distinct_colours": float(readable[distinct].mean()) if distinct.any() else None,
        "colours": list(COLOURS),
        "mae_per_background": dict(zip(COLOURS, _mean_where(errors, by_bg))),
        "mae_per_text_colour": dict(zip(COLOURS, _mean_where(errors, by_fg))),
        "samples_per_background": dict(zip(COLOURS, (int(m.sum()) for m in by_bg))),
        "samples_per_text_colour": dict(zip(COLOURS, (int(m.sum()) for m in by_fg))),
        "readability_per_background": dict(zip(COLOURS, _mean_where(readable, by_bg))),
        "readability_per_text_colour": dict(zip(COLOURS, _mean_where(readable, by_fg))),
        "mae_per_char": dict(zip(alphabet, _mean_where(errors, by_char))),
        "samples_per_char": dict(zip(alphabet, (int(m.sum()) for m in by_char))),
        "readability_per_char": dict(zip(alphabet, _mean_where(readable, by_char))),
        # rows: background colour, columns: text colour, both in `colours` order
        "mae_matrix": [_mean_where(errors, row) for row in cells],
        "samples_matrix": [[int(m.sum()) for m in row] for row in cells],
        "confusions": [{"target": t, "nearest": n, "count": c} for (t, n), c in wrong.most_common(confusions)],
    }


def _fmt(value, digits=4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def write_tables(out_dir: Path, result: dict, pair, bg, fg, errors, nearest, vocab_size: int) -> list[Path]:
    alphabet = FULL_ALPHABET[:vocab_size]
    paths = [out_dir / f"evaluation_{name}.csv" for name in ("per_colour", "per_char", "samples")]
    with open(paths[0], "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["role", "colour", "samples", "mae", "readability"])
        for role, key in (("background", "background"), ("text", "text_colour")):
            for c in COLOURS:
                w.writerow(
                    [
                        role,
                        c,
                        result[f"samples_per_{key}"][c],
                        _fmt(result[f"mae_per_{key}"][c], 6),
                        _fmt(result[f"readability_per_{key}"][c], 6),
                    ]
                )
    with open(paths[1], "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["char", "samples", "mae", "readability"])
        for c in alphabet:
            w.writerow(
                [
                    c,
                    result["samples_per_char"][c],
                    _fmt(result["mae_per_char"][c], 6),
                    _fmt(result["readability_per_char"][c], 6),
                ]
            )
    with open(paths[2], "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "background", "text_colour", "mae", "nearest"])
        for p, b, f, e, q in zip(pair, bg, fg, errors, nearest):
            w.writerow([_text(p, vocab_size), COLOURS[b], COLOURS[f], repr(float(e)), _text(q, vocab_size)])
    return paths


def plot(path: Path, result: dict, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    chars = list(result["mae_per_char"])
    fig = Figure(figsize=(6 + max(4.0, 0.16 * len(chars)), 5.2))
    FigureCanvasAgg(fig)
    heat_ax, bar_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, max(1.0, 0.03 * len(chars))]})
    matrix = np.array([[np.nan if v is None else v for v in row] for row in result["mae_matrix"]])
    im = heat_ax.imshow(matrix, cmap="viridis")
    mid = np.nanmean(matrix) if np.isfinite(matrix).any() else 0.0
    for (b, f), v in np.ndenumerate(matrix):
        if np.isfinite(v):  # dark text on the bright half of viridis, light on the dark half
            heat_ax.text(f, b, f"{v:.2f}", ha="center", va="center", fontsize=7, color="black" if v > mid else "white")
    heat_ax.set_xticks(range(N_COLOURS), COLOURS, rotation=45, ha="right")
    heat_ax.set_yticks(range(N_COLOURS), COLOURS)
    heat_ax.set_xlabel("text colour")
    heat_ax.set_ylabel("background colour")
    heat_ax.set_title("MAE per colour pair")
    fig.colorbar(im, ax=heat_ax, fraction=0.046, pad=0.04)
    values = [np.nan if v is None else v for v in result["mae_per_char"].values()]
    bar_ax.bar(range(len(chars)), values, color="tab:blue")
    bar_ax.axhline(result["mae"], color="tab:red", linestyle="--", label=f"overall {result['mae']:.4f}")
    bar_ax.set_xticks(range(len(chars)), chars, fontsize=8 if len(chars) <= 20 else 6)
    bar_ax.set_xlim(-0.6, len(chars) - 0.4)
    bar_ax.set_xlabel("character (samples containing it)")
    bar_ax.set_ylabel("MAE ([-1, 1] units)")
    bar_ax.set_title("MAE per character")
    bar_ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def evaluate(run, samples: int = DEFAULT_SAMPLES, output_dir=None, verbose: bool = False) -> dict:
    """Score the model in `run` and write evaluation.json/.png and CSVs; returns the JSON's content."""
    from omegaconf import OmegaConf

    from t2i.analysis import reed_measures as reed
    from t2i.data.dataset import TextImageSampler, data_spec
    from t2i.inference import load_model, locate

    started = time.perf_counter()
    source = locate(run)
    model, cfg, vocab_size = load_model(source)
    sampler = TextImageSampler(vocab_size, int(cfg.data.image_size), source.cache_dir)
    holdout = OmegaConf.select(cfg, "data.holdout", default=None) or "none"
    conditional = bool(OmegaConf.select(cfg, "gan.conditional", default=True))
    data = "unconditional" if not conditional else "style" if data_spec(cfg) == "text_colour" else "reference"
    head = {
        "run": str(Path(run)),
        "vocab_size": vocab_size,
        "image_size": int(cfg.data.image_size),
    }
    if data == "unconditional":
        # G reads no text: its samples' nearest renders of any combination stand for their texts.
        n = min(samples, reed.UNCONDITIONAL_SAMPLES)
        measures, (fake, errors, pair, bg, fg) = reed.unconditional_measures(model, sampler, n, HOLDOUTS[holdout])
        nearest, exhaustive = pair, False
        breakdown = score_breakdown(errors, np.ones(n, bool), pair, bg, fg, pair, vocab_size)
        breakdown.update({k: None for k in breakdown if k.startswith("readability")}, confusions=[])
        result = {
            **head,
            "data": data,
            "version": EVALUATION_VERSION,
            "samples": n,
            "max_samples": reed.UNCONDITIONAL_SAMPLES,
            "input_space": vocab_size**2 * N_COLOURS**2,
            "exhaustive": False,
            "sample_seed": None,
            "truth": "nearest render of any combination (fast mask path); colours and characters: the nearest's",
            **breakdown,
            "unconditional": measures,
        }
    else:
        pair, bg, fg, exhaustive = select_samples(source.vocab_size, samples)
        if data == "style":
            # The spec names only the text colour: a sample's bg label picks nothing but its row (and z); its
            # error is to the nearest of its text's eight renders, whose background stands for its own.
            chars = _chars(pair, vocab_size)
            fake = model(char_tokens(chars), spec_tokens(np.full(len(pair), UNNAMED), fg))
            errors, bg = reed.nearest_background(fake, sampler, chars, fg)
            bg = bg.astype(np.int32)
            fake = fake.reshape(len(pair), -1)
        else:
            fake, errors = generate_and_score(model, sampler, pair, bg, fg)
        pixels = int(np.prod(fake.shape[1:]))
        slow = len(pair) * vocab_size**2 * pixels > 2e10  # worth a progress line: tens of seconds or more
        nearest = nearest_renders(fake, sampler, pair, bg, fg, _progress if verbose and slow else None)
        result = {
            **head,
            "samples": len(pair),
            "input_space": vocab_size**2 * N_COLOURS**2,
            "exhaustive": bool(exhaustive),
            "sample_seed": None if exhaustive else SAMPLE_SEED,
            "truth": "fast mask path (t2i.data.render.compose)",
            **score_breakdown(
                errors,
                nearest == pair,
                pair,
                bg,
                fg,
                nearest,
                vocab_size,
                holdout="none" if data == "style" else holdout,
            ),
        }
        if data == "style":
            if HOLDOUTS[holdout] is not None:  # a style-data text is unseen when its character pair is held out
                unseen = HOLDOUTS[holdout].pair_mask(vocab_size)[pair]
                result = {"holdout": holdout, **seen_unseen(errors, nearest == pair, unseen), **result}
            result = {**head, "data": data, "version": EVALUATION_VERSION, **result}
            result["truth"] = "nearest of the text's eight renders (one per background; fast mask path)"
            result["reed"] = reed.style_measures(
                model, sampler, HOLDOUTS[holdout], seed=int(OmegaConf.select(cfg, "seed", default=0))
            )
    result["seconds"] = round(time.perf_counter() - started, 2)
    out_dir = Path(output_dir) if output_dir is not None else source.root
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "evaluation.json").write_text(json.dumps(result, indent=2))
    paths = [out_dir / "evaluation.json", *write_tables(out_dir, result, pair, bg, fg, errors, nearest, vocab_size)]
    how = "all inputs" if exhaustive else f"uniform sample, seed {SAMPLE_SEED}"
    title = f"{source.root}: {len(pair)} samples ({how}), MAE {result['mae']:.4f}"
    if result["readability"] is not None:
        title += f", readability {result['readability']:.3f}"
    plot(out_dir / "evaluation.png", result, title)
    result["files"] = [str(p) for p in [*paths, out_dir / "evaluation.png"]]
    return result


def _reed_lines(result: dict) -> list[str]:
    """The Reed measures of a style-data or unconditional result, readably."""
    if result.get("data") == "unconditional":
        u = result["unconditional"]
        lines = [
            f"unconditional GAN: {u['samples']} samples, MAE to the nearest render of any text {u['mae']:.4f}",
            f"  distinct nearest texts {u['distinct_texts']} of {u['texts']} ({u['distinct_texts_share']:.3f}); "
            + f"character pairs {u['distinct_pairs']} of {u['pairs']}, "
            + f"colour pairs {u['distinct_colour_pairs']} of {u['colour_pairs']}",
        ]
        if u.get("nearest_unseen_share") is not None:
            lines.append(f"  nearest text held out of training: {u['nearest_unseen_share']:.3f} of samples")
        return lines
    r = result.get("reed")
    if not r:
        return []
    c = r["coverage"]
    lines = [
        "Reed et al.'s measures (style data):",
        f"  background coverage: {c['distinct_mean']:.2f} of {c['backgrounds']} backgrounds per text "
        + f"({c['share']:.3f}; {c['texts']} texts x {c['draws']} z, min {c['distinct_min']}, max {c['distinct_max']})",
    ]
    if "seen" in c:
        lines.append(
            f"    seen texts {_fmt(c['seen']['distinct_mean'], 2)}   unseen {_fmt(c['unseen']['distinct_mean'], 2)}"
        )
    t, a, s = r["style_transfer"], r["style_auc"], r["style_loss"]
    if t is None:
        lines.append("  style transfer, AUC, S loss: none (the run has no style encoder S)")
        return lines
    rz = t["random_z"]
    lines += [
        f"  style transfer G(S(x_a), h(t_b)) ({t['queries']} queries x {t['targets_per_query']} texts): "
        + f"MAE to t_b in x_a's background {t['mae']:.4f} (random z {rz['mae']:.4f}), "
        + f"background kept {t['background_match']:.3f} (random z {rz['background_match']:.3f}, "
        + f"chance {t['chance_background_match']:.3f})",
        f"  disentangling: ROC AUC of cos(S(x_i), S(x_j)), same vs different background {_fmt(a['auc'], 3)} "
        + f"(untrained S {_fmt(a.get('untrained_auc'), 3)}, raw pixels {_fmt(a.get('pixel_auc'), 3)}; "
        + f"{a['pairs']} pairs of {a['images']} renders)",
        f"  S loss on the final G: mean ||z - S(G(z, h))||^2 = {s['loss']:.4f} "
        + f"({s['samples']} z, z of {s['latent_dim']} dims)",
    ]
    return lines


def format_table(result: dict, worst: int = 5) -> str:
    if result.get("data") == "unconditional":
        lines = [f"{result['samples']} samples in {result['seconds']}s", *_reed_lines(result), ""]
        lines.append(f"{'colour':<8} {'MAE as bg':>10} {'as text':>8}  (of the nearest renders' colours)")
        for c in COLOURS:
            lines.append(
                f"{c:<8} {_fmt(result['mae_per_background'][c]):>10} {_fmt(result['mae_per_text_colour'][c]):>8}"
            )
        return "\n".join(lines)
    space, seed = result["input_space"], result["sample_seed"]
    how = "all inputs" if result["exhaustive"] else f"uniform sample of {space}, seed {seed}"
    lines = [
        f"{result['samples']} samples ({how}) in {result['seconds']}s",
        f"MAE {result['mae']:.4f}   readability {result['readability']:.3f} "
        + f"({_fmt(result['readability_distinct_colours'], 3)} with background != text colour)",
        "",
        f"{'colour':<8} {'MAE as bg':>10} {'as text':>8}",
    ]
    if result.get("holdout"):
        seen, unseen = result["seen"], result["unseen"]
        lines[2:2] = [
            f"hold-out {result['holdout']}: {'':<8} {'seen':>10} {'unseen':>10}",
            f"{'':<18} {'MAE':<8} {_fmt(seen['mae']):>10} {_fmt(unseen['mae']):>10}",
            f"{'':<18} {'readable':<8} {_fmt(seen['readability'], 3):>10} {_fmt(unseen['readability'], 3):>10}",
            f"{'':<18} {'samples':<8} {seen['samples']:>10} {unseen['samples']:>10}",
        ]
    for c in COLOURS:
        lines.append(f"{c:<8} {_fmt(result['mae_per_background'][c]):>10} {_fmt(result['mae_per_text_colour'][c]):>8}")
    per_char = [(v, c) for c, v in result["mae_per_char"].items() if v is not None]
    lines.append("worst characters: " + "  ".join(f"{c} {v:.4f}" for v, c in sorted(per_char, reverse=True)[:worst]))
    if result["confusions"]:
        lines.append(
            "most frequent confusions: "
            + "  ".join(f"{x['target']}->{x['nearest']} ({x['count']})" for x in result["confusions"][:worst])
        )
    if result.get("data") == "style":
        lines[1] += "   (MAE to the nearest of the text's eight renders; bg: that render's)"
    return "\n".join([*lines, *_reed_lines(result)])
