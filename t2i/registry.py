"""Named pieces picked by config: every trick (loss, penalty, D step, G term, optimizer, schedule) registers
under the name its YAML uses, and validation takes the allowed names from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(dict, Generic[T]):
    """name -> piece. `kind` names the concept in errors ("D step", "penalty", ...)."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[T], T]:
        def add(piece: T) -> T:
            if name in self:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self[name] = piece
            return piece

        return add

    def __missing__(self, name):
        raise KeyError(f"unknown {self.kind} {name!r} (available: {', '.join(sorted(self))})")
