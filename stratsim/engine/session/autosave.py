"""Autosaves beside a session file, recovery, and consistent snapshots to save."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..decisions import Decision
from ..kpi import Summary
from ..scenario import Scenario
from .schema import AUTOSAVE_SUFFIX, _base_name
from .store import save_session

if TYPE_CHECKING:
    from ..simulation import Simulation


@dataclass(frozen=True)
class SessionSnapshot:
    """A consistent copy of what :func:`session_document` reads from a simulation, taken
    on the thread that owns it (see :func:`snapshot`); saveable wherever a Simulation is.

    A signal can arrive while a worker thread replays the simulation (undo, restoring a
    branch, a new model: the decisions and history are reset, then rebuilt period by
    period); an autosave of the live object would then hold a half-replayed run. Saving
    the snapshot taken before the replay keeps the last consistent state instead.
    """

    seed: int
    n_paths: int
    dtype_name: str
    device: Any
    policy_name: str
    decision: Decision
    satisfaction_model: Any
    privacy_model: Any
    scenario: Scenario
    decisions: tuple[Decision, ...]
    history: tuple[Summary, ...]
    base_models: dict[str, Any] = field(default_factory=dict)
    model_switches: tuple[Any, ...] = ()
    branches: dict[str, Any] = field(default_factory=dict)

    @property
    def period(self) -> int:
        """Months simulated (the number of complete periods kept)."""
        return min(len(self.decisions), len(self.history))


def snapshot(sim: Simulation) -> SessionSnapshot:
    """A :class:`SessionSnapshot` of ``sim`` (lists copied; decisions, summaries and models
    are not mutated after a step, so they are shared). Cost: O(periods), no tensor copy."""
    return SessionSnapshot(
        seed=sim.seed,
        n_paths=sim.n_paths,
        dtype_name=sim.dtype_name,
        device=sim.device,
        policy_name=sim.policy_name,
        decision=sim.decision,
        satisfaction_model=sim.satisfaction_model,
        privacy_model=sim.privacy_model,
        scenario=sim.scenario,
        decisions=tuple(sim.decisions),
        history=tuple(sim.history),
        base_models=dict(getattr(sim, "base_models", {})),
        model_switches=tuple(getattr(sim, "model_switches", ())),
        branches=dict(getattr(sim, "branches", {})),
    )


def autosave_path(path: str | Path) -> Path:
    """The autosave sibling of a session file: ``DIR/NAME.toml`` -> ``DIR/NAME.autosave.toml``."""
    p = Path(path)
    if p.stem.endswith(AUTOSAVE_SUFFIX):
        return p
    return p.with_name(f"{p.stem}{AUTOSAVE_SUFFIX}{p.suffix or '.toml'}")


def autosave(
    sim: Simulation,
    path: str | Path,
    *,
    name: str | None = None,
    created: datetime | None = None,
    force: bool = False,
) -> Path:
    """Save ``sim`` to :func:`autosave_path` of the session ``path`` (atomically).

    Call after every period stepped. Returns the autosave path.

    Raises:
        OutputError, SessionError: as :func:`save_session` (``force`` likewise).
    """
    p = Path(path)
    return save_session(
        sim,
        autosave_path(p),
        name=name if name is not None else _base_name(p),
        created=created,
        force=force,
    )


def find_recovery(path: str | Path) -> Path | None:
    """The autosave of session ``path`` when it is newer than the session (modification
    time) or the session does not exist, else None. The autosave is not validated:
    load it with :func:`load_session` to do so."""
    p = Path(path)
    auto = autosave_path(p)
    if auto == p:
        return None
    try:
        auto_mtime = auto.stat().st_mtime_ns
    except OSError:
        return None
    try:
        return auto if auto_mtime > p.stat().st_mtime_ns else None
    except OSError:
        return auto


def discard_autosave(path: str | Path) -> None:
    """Remove the autosave of session ``path`` (after an explicit save); no error if absent."""
    auto = autosave_path(path)
    if auto != Path(path):
        with contextlib.suppress(FileNotFoundError):
            auto.unlink()
