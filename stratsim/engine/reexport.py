"""Names a module keeps after they moved to a module that builds on it.

When a module is split by concept, the part that builds on the original imports from it,
so the original cannot import that part back at load time (whichever is imported first
would find the other half-initialized). :func:`moved_names` gives the original a module
``__getattr__`` (PEP 562) that imports the part on first use, so ``from old import name``
keeps working for every name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def moved_names(module: str, part: str, names: Iterable[str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``module`` serving ``names`` from its sibling ``part``.

    Args:
        module: the original module's ``__name__``.
        part: the sibling module's name (``"modelsave"`` for ``stratsim.engine.modelsave``).
        names: the names that moved.
    """
    moved = frozenset(names)
    package = module.rpartition(".")[0]

    def __getattr__(name: str) -> Any:
        if name in moved:
            return getattr(importlib.import_module(f"{package}.{part}"), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
