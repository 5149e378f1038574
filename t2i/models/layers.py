"""Layers the reference networks need beyond Keras's own."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable("t2i")
class MinibatchDiscrimination(keras.layers.Layer):
    """Minibatch discrimination (Salimans et al., 2016): per-sample closeness to the rest of the batch.

    Each sample's features are projected to `kernels` rows of `kernel_dim`; the output for kernel k is the
    sum over the batch of exp(-L1 distance of their rows k). A collapsed generator makes these large, which
    D can see, so collapse becomes costly. As in the reference, the sum includes the sample itself (a
    constant 1) and the kernel tensor is (kernels, features, dim) with LeCun-normal init: a larger init
    makes the distances large and exp(-distance) start at zero, with no gradient.
    """

    def __init__(self, kernels: int = 25, kernel_dim: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.kernels = kernels
        self.kernel_dim = kernel_dim

    def build(self, input_shape):
        self.tensor = self.add_weight(
            name="tensor",
            shape=(self.kernels, input_shape[-1], self.kernel_dim),
            initializer="lecun_normal",
        )

    def call(self, x):
        m = ops.einsum("bf,kfd->bkd", x, self.tensor)
        distances = ops.sum(ops.abs(m[:, None] - m[None, :]), axis=-1)  # [B, B, kernels]
        return ops.sum(ops.exp(-distances), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.kernels)

    def get_config(self):
        return {**super().get_config(), "kernels": self.kernels, "kernel_dim": self.kernel_dim}
