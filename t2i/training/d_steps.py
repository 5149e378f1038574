"""The discriminator's part of one GAN step, one strategy each, chosen by `gan.d_step`.

A D step says which batches it reads (the data pipeline builds exactly those), which of them G makes
fakes for, and the names of its updates (their loss and accuracy metrics); calling it runs its updates
through `gan.d_update`.
"""

from __future__ import annotations

import tensorflow as tf

from t2i.registry import Registry

D_STEPS: Registry[type] = Registry("D step")


def permute(x, seed):
    """x with its batch order shuffled (stateless)."""
    return tf.gather(x, tf.random.experimental.stateless_shuffle(tf.range(tf.shape(x)[0]), seed))


class DStep:
    batches: tuple[str, ...]  # one batch per entry: "mismatched" has its texts shuffled, the rest are as drawn
    fakes_at: tuple[int, ...]  # the batches whose texts G makes fakes from, before D's first update
    names: tuple[str, ...]  # one per update: its metrics are <name>_loss and <name>_acc

    def __init__(self, gan_cfg, loss, penalty):
        self.loss, self.penalty = loss, penalty
        self.batches = self.batches_of(gan_cfg)

    @staticmethod
    def batches_of(gan_cfg) -> tuple[str, ...]:
        raise NotImplementedError

    @staticmethod
    def problem(gan_cfg) -> str | None:
        """Why this step cannot run with `gan_cfg`, or None."""
        return None

    def __call__(self, gan, data, fakes, seed) -> None:
        raise NotImplementedError


@D_STEPS.register("labelled")
class LabelledSubsteps(DStep):
    """The reference's: one update per sub-step of `gan.d_substeps`, each on one batch with its label
    (fake 0, real 1, mismatched 0: real images under shuffled text)."""

    LABELS = {"fake": 0.0, "real": 1.0, "mismatched": 0.0}

    def __init__(self, gan_cfg, loss, penalty):
        super().__init__(gan_cfg, loss, penalty)
        self.fakes_at = tuple(k for k, kind in enumerate(self.batches) if kind == "fake")
        self.names = tuple(f"d{i}_{kind}" for i, kind in enumerate(self.batches))

    @staticmethod
    def batches_of(gan_cfg):
        return tuple(gan_cfg.d_substeps)

    @staticmethod
    def problem(gan_cfg):
        for kind in gan_cfg.d_substeps:
            if kind not in LabelledSubsteps.LABELS:
                return f"gan.d_substeps: unknown sub-step {kind!r} ({', '.join(LabelledSubsteps.LABELS)})"
        return None

    def __call__(self, gan, data, fakes, seed):
        for k, (kind, batch) in enumerate(zip(self.batches, data["d"])):
            images = fakes[k] if kind == "fake" else batch["images"]
            label = self.LABELS[kind]

            def loss_fn(images=images, batch=batch, label=label):
                out = gan.judge(images, batch)
                return self.loss.d(out, label), tf.reduce_mean(tf.cast((out > 0) == (label > 0.5), tf.float32))

            gan.d_update(self.names[k], loss_fn)


@D_STEPS.register("critic")
class WassersteinCritic(DStep):
    """WGAN-GP as the reference runs it: two updates on one batch, each raising D(real) - D(other) (plus the
    penalty's term), other = the fakes, then the real images permuted within the batch. Accuracy: the share
    of pairs scored real > other."""

    OTHERS = ("fake", "permuted")
    fakes_at = (0,)
    names = tuple(f"d{i}_{kind}" for i, kind in enumerate(OTHERS))

    @staticmethod
    def batches_of(gan_cfg):
        return ("real",)

    @staticmethod
    def problem(gan_cfg):
        return None if gan_cfg.loss == "wasserstein" else "gan.d_step=critic needs gan.loss=wasserstein"

    def __call__(self, gan, data, fakes, seed):
        batch = data["d"][0]
        real = batch["images"]
        others = {"fake": fakes[0], "permuted": permute(real, seed)}
        for k, kind in enumerate(self.OTHERS):
            penalty_seed = seed + k + 1

            def loss_fn(other=others[kind], penalty_seed=penalty_seed):
                feats = gan.features(batch, training=True)
                real_score = gan.discriminator([real, feats], training=True)
                other_score = gan.discriminator([other, feats], training=True)
                loss = self.loss.d(real_score, 1.0) + self.loss.d(other_score, 0.0)
                gp = self.penalty.term(gan.discriminator, real, other, feats, penalty_seed)
                if gp is not None:
                    gan.gp.update_state(gp)
                    loss += self.penalty.weight * gp
                return loss, tf.reduce_mean(tf.cast(real_score > other_score, tf.float32))

            gan.d_update(self.names[k], loss_fn)


@D_STEPS.register("matching_aware")
class MatchingAware(DStep):
    """Reed et al. 2016's D step (GAN-CLS when `gan.cls_weight` > 0): one update on
    L_D = BCE(D(x, h), 1) + c BCE(D(x_wrong, h), 0) + (1 - c) BCE(D(G(z, h), h), 0),
    x_wrong a real image of another text of the batch shown with this text, c = `gan.cls_weight` (0.5 for
    GAN-CLS; 0 leaves real and fake at weight 1 and skips the wrong pass, as main_cls_int.lua's fDx does).
    Accuracy: the share of the update's judgements on the right side of 0."""

    fakes_at = (0,)
    names = ("d0_matching",)

    def __init__(self, gan_cfg, loss, penalty):
        super().__init__(gan_cfg, loss, penalty)
        self.cls_weight = gan_cfg.cls_weight

    @staticmethod
    def batches_of(gan_cfg):
        return ("real",)

    @staticmethod
    def problem(gan_cfg):
        if not 0.0 <= gan_cfg.cls_weight < 1.0:
            return f"gan.cls_weight must be in [0, 1), got {gan_cfg.cls_weight}"
        return None if gan_cfg.loss != "wasserstein" else "gan.d_step=matching_aware needs a cross-entropy gan.loss"

    def __call__(self, gan, data, fakes, seed):
        batch = data["d"][0]
        real = batch["images"]
        judgements = [(real, 1.0, 1.0), (fakes[0], 0.0, 1.0 - self.cls_weight)]
        if self.cls_weight > 0:
            # Another text's real image: the batch's texts are independent draws, so the next one's is as random
            # as any other and never the image's own sample.
            judgements.insert(1, (tf.roll(real, shift=1, axis=0), 0.0, self.cls_weight))

        def loss_fn():
            loss, right = 0.0, []
            for images, label, weight in judgements:
                out = gan.judge(images, batch)
                loss += weight * self.loss.d(out, label)
                right.append(tf.cast((out > 0) == (label > 0.5), tf.float32))
            return loss, tf.reduce_mean(tf.stack(right))

        gan.d_update(self.names[0], loss_fn)


def build_d_step(gan_cfg, loss, penalty) -> DStep:
    return D_STEPS[gan_cfg.d_step](gan_cfg, loss, penalty)


def batches_read(gan_cfg) -> tuple[str, ...]:
    """The batches the configured D step reads, without building it."""
    return D_STEPS[gan_cfg.d_step].batches_of(gan_cfg)
