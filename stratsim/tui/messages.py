"""Messages posted from worker threads to the app (``post_message`` is thread-safe).

Workers never touch widgets or reactives; they post one of these and the app applies
it on the UI thread.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class EngineReady(Message):
    """The engine imported and the simulation built (or the session loaded).

    Attributes:
        sim: the :class:`~stratsim.engine.simulation.Simulation`.
        session_path: file it came from (None for a new session).
        model_refs: role -> label of a model loaded with the session.
        notes: lines for the log (e.g. migrations, warnings).
        recovery: autosaves newer than the session, offered for recovery (a list of
            :class:`~stratsim.engine.instances.RecoveryCandidate`, newest first), or None.
        meta: the loaded session's SessionMeta (name, created), or None.
        unsaved: True when the state is not what the session file holds (a recovered
            autosave): the header says modified and quitting asks.
        recovered_from: the autosave file this state was recovered from, or None.
    """

    def __init__(self, sim: Any, session_path: Any, model_refs: dict[str, str], notes: list[str], recovery: Any = None, meta: Any = None, unsaved: bool = False, recovered_from: Any = None) -> None:
        super().__init__()
        self.recovered_from = recovered_from
        self.meta = meta
        self.unsaved = unsaved
        self.sim = sim
        self.session_path = session_path
        self.model_refs = model_refs
        self.notes = notes
        self.recovery = recovery


class EngineFailed(Message):
    """Building the simulation (or loading ``path``) failed; ``error`` says what.
    ``startup``: it was the session given on the command line."""

    def __init__(self, error: str, startup: bool = False, path: Any = None) -> None:
        super().__init__()
        self.error = error
        self.startup = startup
        self.path = path


class TrainUpdate(Message):
    """Coalesced training progress (at most ~10 per second).

    Attributes:
        events: trainer events (TrainStart, BatchProgress, EpochEnd) since the last
            update, BatchProgress thinned to the latest one.
    """

    def __init__(self, events: list[Any]) -> None:
        super().__init__()
        self.events = events


class TrainFinished(Message):
    """Training ended: ``outcome`` (a :class:`~stratsim.tui.training_job.TrainOutcome`),
    or ``error`` (a message for the user), or ``cancelled``."""

    def __init__(self, outcome: Any = None, error: str | None = None, cancelled: bool = False) -> None:
        super().__init__()
        self.outcome = outcome
        self.error = error
        self.cancelled = cancelled


class RunProgress(Message):
    """The run-to-horizon worker stepped; ``period`` is the latest period."""

    def __init__(self, period: int, done: bool = False, error: str | None = None) -> None:
        super().__init__()
        self.period = period
        self.done = done
        self.error = error
