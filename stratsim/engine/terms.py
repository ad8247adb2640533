"""How engine messages name a user's setting, so that every front end can show its own.

The engine names a setting by its concept (:func:`term`): by default the recipe key
(``map``, ``derive``, ``skip_rows_matching``...) or a plain phrase (``relative range``),
which is what the TUI shows. A front end with other names installs them for the
duration of a command with :func:`naming` (the CLI passes its flags: ``--map``,
``--derive``...), so the engine never spells a command-line flag itself. The names live
in a :class:`contextvars.ContextVar`: a thread that did not install names (a TUI
worker) gets the defaults.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

#: Concept key -> the name messages use unless a front end installed another.
DEFAULT_NAMES: dict[str, str] = {
    # data preparation: the recipe keys (stratsim.engine.recipe)
    "sep": "sep",
    "decimal": "decimal",
    "thousands": "thousands",
    "encoding": "encoding",
    "skip_rows_matching": "skip_rows_matching",
    "target": "target",
    "positive": "positive",
    "label_period": "label_period",
    "map": "map",
    "min_items": "min_items",
    "scale": "scale",
    "missing": "missing",
    "max_missing": "max_missing",
    "derive": "derive",
    "set": "set",
    # analysis settings (stratsim.engine.analysis)
    "range": "relative range",
    "params": "parameters",
    "samples": "samples",
    "lhs": "Latin hypercube",
    "grid": "grid",
    "sample": "sample",
    "chunk_paths": "chunk paths",
    "backend": "backend",
    "ray_address": "Ray address",
    # sessions (stratsim.engine.session): the keyword of load_session
    "allow_external_models": "allow_external_models",
}

_names: ContextVar[Mapping[str, str] | None] = ContextVar("stratsim_term_names", default=None)


def term(key: str) -> str:
    """The name of setting ``key`` in messages (the installed name, else the default).

    Raises:
        KeyError: ``key`` is not a known concept (a programming error).
    """
    names = _names.get()
    if names is not None and key in names:
        return names[key]
    return DEFAULT_NAMES[key]


@contextmanager
def naming(names: Mapping[str, str]) -> Iterator[None]:
    """Messages raised inside the ``with`` name the settings of ``names`` (key -> name)."""
    unknown = set(names) - set(DEFAULT_NAMES)
    if unknown:
        raise KeyError(f"unknown setting concept(s): {', '.join(sorted(unknown))}")
    token = _names.set(dict(names))
    try:
        yield
    finally:
        _names.reset(token)
