"""The session file's schema: version, key names, and the validated data classes.

See :mod:`stratsim.engine.session` for the file layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import fileio, outputs
from ..decisions import Decision
from ..device import DEVICES
from ..kpi import OPTIONAL_KPIS, PROBABILITY_KPIS, Summary
from ..models import MODEL_ATTRS

if TYPE_CHECKING:
    from ..scenario import Scenario
    from .branches import BranchRecord

#: 4 added ``[[model_switches]]`` and ``[[branches]]`` (files of version 3 load unchanged).
SCHEMA_VERSION = 4
AUTOSAVE_SUFFIX = ".autosave"
#: Model roles in ``[models]``: role -> Simulation attribute.
MODEL_ROLES = MODEL_ATTRS
#: Relative tolerance of :meth:`LoadedSession.first_difference` (absorbs float formatting;
#: TOML floats written by tomli-w round-trip exactly, so a same-device replay differs by 0).
DEFAULT_REL_TOL = 1e-9
_INT64 = (-(2**63), 2**63 - 1)
#: Output kind of session files and autosaves: an existing file is replaced without
#: ``force`` only when it is a stratsim session (``schema_version`` plus ``[meta]`` and
#: ``[run]`` tables; fast path: the layout :func:`save_session` writes).
SESSION_FILE = outputs.toml_kind(
    "session file",
    lambda d: (
        isinstance(d.get("schema_version"), int)
        and isinstance(d.get("meta"), dict)
        and isinstance(d.get("run"), dict)
    ),
    re.compile(r"\A(?:[ \t]*(?:#[^\n]*)?\n)*schema_version = \d+\n\n\[meta\]\n"),
)
_SAVED_DEVICES = tuple(d for d in DEVICES if d != "auto")


@dataclass(frozen=True)
class SessionMeta:
    """``[meta]`` of a session, plus the schema version the file was written in."""

    name: str
    created: datetime
    saved: datetime
    app_version: str
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True)
class ModelRef:
    """One ``[models.ROLE]`` table; ``file`` is the resolved absolute path."""

    role: str
    path: str
    file: Path
    sha256: str
    kind: str
    metrics: dict[str, float] = field(default_factory=dict)
    undefined_metrics: tuple[str, ...] = ()
    #: The first period simulated with this model (1: ``[models]``; later: a
    #: ``[[model_switches]]`` entry).
    period: int = 1
    #: The table's key path in messages: ``models.ROLE`` or ``model_switches[i]``.
    key: str = ""

    @property
    def table_key(self) -> str:
        return self.key or f"models.{self.role}"


@dataclass(frozen=True)
class SessionData:
    """A validated (and migrated) session file, before any simulation is built."""

    path: Path
    meta: SessionMeta
    scenario: Scenario
    seed: int
    n_paths: int
    dtype: str
    device: str
    policy: str
    period: int
    decisions: list[Decision]
    next_decision: Decision
    history: list[Summary]
    models: dict[str, ModelRef]
    warnings: list[str]
    optimizations: list[dict[str, Any]] = field(default_factory=list)
    #: ``[[model_switches]]``: models adopted from a later period, in order.
    switches: list[ModelRef] = field(default_factory=list)
    #: ``[[branches]]``: kept branches (:class:`~.branches.BranchRecord`), in order.
    branches: list[BranchRecord] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


_NA_KPIS = PROBABILITY_KPIS | OPTIONAL_KPIS


def _base_name(path: Path) -> str:
    """The session name a file gives by default: its stem without ``.autosave``, as
    printable text (bytes of a non-UTF-8 name as ``\\xe9``: TOML holds only UTF-8)."""
    stem = path.stem
    return fileio.printable(stem.removesuffix(AUTOSAVE_SUFFIX) or stem)


_TOP_KEYS = (
    "schema_version",
    "meta",
    "run",
    "models",
    "scenario",
    "decisions",
    "history",
    "optimizations",
    "model_switches",
    "branches",
)
_META_KEYS = ("name", "created", "saved", "app_version")
_RUN_KEYS = ("seed", "n_paths", "dtype", "device", "policy", "period", "next_decision")
_MODEL_KEYS = ("path", "sha256", "kind", "metrics", "undefined_metrics", "recipe")
