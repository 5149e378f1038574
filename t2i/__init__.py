"""t2i: an ablation-experiment runner for a text-conditional GAN (characters + colour spec -> image)."""

from t2i import tf_startup

__version__ = "0.1.0"

tf_startup.install()  # before anything imports TensorFlow
