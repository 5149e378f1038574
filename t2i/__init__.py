"""t2i: an ablation-experiment runner for a text-conditional GAN (characters + colour spec -> image)."""

import os

from t2i import tf_startup

# TensorFlow maps nearly all of a GPU's memory into the first process that touches it, so a second run on the
# same GPU (a local sweep's next worker) would fail to start. Growing on demand lets runs share a GPU; set
# TF_FORCE_GPU_ALLOW_GROWTH=false to get TensorFlow's default back, or trainer.gpu_memory_mb for a hard share.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

__version__ = "0.1.0"

tf_startup.install()  # before anything imports TensorFlow
