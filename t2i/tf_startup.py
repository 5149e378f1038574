"""TensorFlow's start-up chatter on stderr, filtered out without hiding anything else.

Importing TensorFlow 2.21 prints six lines from C++ static initialisers, before absl's logging is set up, so no
TF_CPP_MIN_LOG_LEVEL silences them (checked at every level): absl's pre-initialisation notice, oneDNN's "custom
operations are on" and the CUDA stub's "could not find cuda drivers", once for each of two libraries. So the
first import of tensorflow runs with stderr (file descriptor 2, where C++ writes) captured, and every captured
line but those INFO lines is written back afterwards: an error printed while importing is still seen.

On a machine with no CUDA driver at all, TensorFlow's first device query also logs "failed call to cuInit" as an
error. With no libcuda to load, that line says nothing the user does not know, so that first query runs right
after the import, filtered the same way. Where a driver is installed, a failing cuInit is a real fault and shows.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

CHATTER = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|I\d{4} \S+ +\d+ (?:port|cudart_stub|cpu_feature_guard)\.cc:\d+\] .*"
    rb"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\."
)
NO_DRIVER = re.compile(rb"E\d{4} \S+ +\d+ cuda_platform\.cc:\d+\] failed call to cuInit: .*")


def without_chatter(text: bytes, chatter: re.Pattern = CHATTER) -> bytes:
    return b"".join(line for line in text.splitlines(keepends=True) if not chatter.fullmatch(line.rstrip(b"\r\n")))


def has_cuda_driver() -> bool:
    return ctypes.util.find_library("cuda") is not None


@contextlib.contextmanager
def _stderr_filtered(chatter: re.Pattern = CHATTER):
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            os.write(2, without_chatter(captured.read(), chatter))


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader  # the package keeps its own loader
        with _stderr_filtered():
            self.loader.exec_module(module)
        if not has_cuda_driver():
            with _stderr_filtered(NO_DRIVER):
                module.config.list_physical_devices()  # thread pools stay unset: this creates no context


class _FirstTensorFlowImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: later imports find the module in sys.modules anyway
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Quiet TensorFlow's C++ logging below errors unless the user chose a level, and filter its import."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # errors still show; INFO and WARNING do not
    if "tensorflow" not in sys.modules and not any(isinstance(f, _FirstTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _FirstTensorFlowImport())
