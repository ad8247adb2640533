"""Messages posted from worker threads (``post_message`` is thread-safe).

Workers never touch widgets or reactives; they post one of these and the app or the
main screen applies it on the UI thread. A worker that raises posts nothing: its
failure reaches :meth:`StratsimApp.on_worker_state_changed` (one place for every
worker's failure). Each message is a small dataclass with typed fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from ..engine.instances import RecoveryCandidate
    from ..engine.session import SessionMeta
    from ..engine.simulation import Simulation
    from ..engine.training import TrainEvent
    from .training_job import TrainOutcome


@dataclass
class EngineReady(Message):
    """The engine imported and the simulation built (or a session or autosave loaded).

    Attributes:
        sim: the simulation.
        session_path: the file ``s`` saves to (None for a new session).
        notes: lines for the Log (migrations, model warnings, recovery).
        recovery: autosaves newer than the session, offered for recovery (newest
            first), or None.
        meta: the loaded session's ``[meta]`` (name, created), or None for a new one.
        unsaved: True when the state is not what the session file holds (a recovered
            autosave): the header says modified and quitting asks.
        recovered_from: the autosave file this state was recovered from, or None.
    """

    sim: Simulation
    session_path: Path | None
    notes: list[str]
    recovery: list[RecoveryCandidate] | None = None
    meta: SessionMeta | None = None
    unsaved: bool = False
    recovered_from: Path | None = None


@dataclass
class TrainUpdate(Message):
    """Coalesced training progress (at most ~10 per second): the trainer's events
    (TrainStart, BatchProgress, EpochEnd) since the last update, BatchProgress thinned
    to the latest one."""

    events: list[TrainEvent]


@dataclass
class TrainFinished(Message):
    """Training ended (done, early-stopped or ``cancelled``: the best model so far)."""

    outcome: TrainOutcome
    cancelled: bool = False


@dataclass
class RunProgress(Message):
    """The run-to-horizon worker reached ``period`` (``done``: the run ended there)."""

    period: int
    done: bool = False


@dataclass
class SimJobDone(Message):
    """A simulation job (undo, restore, a model swap) finished; ``label`` says which."""

    label: str
