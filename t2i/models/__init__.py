"""The reference networks: a text encoder shared by G and D, a generator and a discriminator."""

import tensorflow as tf

from t2i.models.discriminator import build_discriminator
from t2i.models.generator import build_generator
from t2i.models.text_encoder import build_text_encoder

# Grappler's oneDNN remapper fuses Conv2D + BiasAdd + Add + LeakyReLU (the residual blocks of both G and
# D) into a kernel that computes a different function on CPU (TF 2.21: max error ~0.3 on a unit-scale
# input; tests/test_models.py checks graph == eager). Without this every tf.function (the training step,
# evaluation) silently ran different networks than eager calls; XLA was unaffected. The switch is global, so it
# holds on GPU too, where the fused kernel's numbers and the switch's cost are not verified yet.
tf.config.optimizer.set_experimental_options({"remapping": False})

__all__ = ["build_discriminator", "build_generator", "build_text_encoder"]
