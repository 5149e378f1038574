"""Cross-process file locks. flock, so the kernel drops a lock when its holder dies: a crash never leaves
one stale, and a killed run stays resumable."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path


class LockHeld(RuntimeError):
    """Another process holds the lock (only raised when not waiting)."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is held by pid {holder}")
        self.holder = holder


@contextmanager
def file_lock(path, wait: bool = True):
    """Hold an exclusive lock on `path` (created if missing), which names the holder's pid while held."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            fh.seek(0)
            raise LockHeld(path, fh.read().strip() or "?") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
