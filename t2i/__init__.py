"""t2i: an ablation-experiment runner for a text-conditional GAN (characters + colour spec -> image)."""

__version__ = "0.1.0"
