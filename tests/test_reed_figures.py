"""t2i/analysis/reed_figures.py: the style-transfer grid holds G(S(query), h(text)) for every query and text, the
interpolation grid moves the text with z fixed and z with the text fixed."""

from __future__ import annotations

import matplotlib.image
import numpy as np

from t2i.analysis import reed_figures as rf


class Recorder:
    """A stand-in model: z is the query's mean colour, an image is the z colour everywhere; calls are recorded."""

    latent_dim = 3

    def __init__(self):
        self.calls = []

    def style(self, images):
        return np.asarray(images).mean(axis=(1, 2))

    def features(self, chars, spec):
        return np.asarray(chars, np.float32)

    def from_features_and_z(self, features, z):
        self.calls.append((np.asarray(features).copy(), np.asarray(z).copy()))
        return np.broadcast_to(np.clip(z, -1, 1)[:, None, None, :], (len(z), 8, 8, 3)).copy()


def test_style_transfer_uses_each_querys_style_with_every_text(tmp_path):
    model = Recorder()
    out = rf.style_transfer_figure(model, 10, 32, tmp_path / "t.png")
    assert out.exists() and matplotlib.image.imread(out).ndim == 3
    assert len(model.calls) == len(rf.QUERIES)
    queries = rf._renders(rf.QUERIES, 32)
    for (feats, z), query in zip(model.calls, queries):
        assert len(feats) == len(rf.TEXTS)
        np.testing.assert_allclose(z, np.repeat(query.mean(axis=(0, 1))[None], len(rf.TEXTS), axis=0), rtol=1e-6)


def test_interpolation_holds_z_then_the_text(tmp_path):
    model = Recorder()
    rf.interpolation_figure(model, 10, tmp_path / "i.png", steps=5, z_rows=2)
    assert (tmp_path / "i.png").exists()
    (f0, z0), (_, z1), (f2, z2), (f3, _) = model.calls
    assert (z0 == z0[0]).all() and not (z0 == z1).all()  # z fixed along a row, another z per row
    assert not (f0 == f0[0]).all() and np.allclose(f0[0], model.calls[1][0][0])  # the text moves
    assert (f2 == f2[0]).all() and (f3 == f3[0]).all()  # the text fixed
    assert not (z2 == z2[0]).all()  # z moves


def test_what_z_draws_holds_each_text_over_the_same_z(tmp_path):
    model = Recorder()
    rf.z_samples_figure(model, 10, tmp_path / "z.png", draws=6)
    assert (tmp_path / "z.png").exists() and len(model.calls) == len(rf.Z_TEXTS)
    for feats, z in model.calls:
        assert len(z) == 6 and (feats == feats[0]).all()  # one text per row
        np.testing.assert_array_equal(z, model.calls[0][1])  # the same z in every row
    assert len({tuple(z[0]) for _, z in model.calls}) == 1 and not (model.calls[0][1] == model.calls[0][1][0]).all()
    again = Recorder()
    rf.z_samples_figure(again, 10, tmp_path / "z2.png", draws=6)
    np.testing.assert_array_equal(again.calls[0][1], model.calls[0][1])  # seeded: the same z in every run
