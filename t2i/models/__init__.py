"""The reference networks: a text encoder shared by G and D, a generator and a discriminator."""

from t2i.models.discriminator import build_discriminator
from t2i.models.generator import build_generator
from t2i.models.text_encoder import build_text_encoder

__all__ = ["build_discriminator", "build_generator", "build_text_encoder"]
