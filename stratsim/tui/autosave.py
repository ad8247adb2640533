"""Autosave of the TUI: this instance's autosave slot, the autosave after every period,
and the autosave on a lost terminal (SIGHUP, SIGTERM, EOF/EIO).

The slot is claimed through :mod:`stratsim.engine.instances` (``NAME.autosave.toml``, or
``NAME.2.autosave.toml``... when another instance holds that one); the signal autosave
is :func:`stratsim.engine.session.install_signal_autosave`. A failed autosave is shown
in the header (``app.autosave_error``) until one succeeds.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from . import terminal
from .text import printable, safe

if TYPE_CHECKING:
    from ..engine.instances import AutosaveClaim
    from ..engine.session import SessionSnapshot
    from ..engine.simulation import Simulation
    from .app import StratsimApp

#: The session file name used for autosaves before the first save.
UNTITLED = "untitled.toml"
#: Seconds between the signal autosave and the end of the process at the latest.
EXIT_GRACE_S = 1.5


def describe_error(exc: Exception, path: Path | None) -> str:
    """One printable line for ``exc`` (control characters in file names escaped)."""
    from ..engine.errors import StratsimError

    if isinstance(exc, StratsimError):
        return printable(exc)
    where = f"{path}: " if path else ""
    return printable(f"{where}{type(exc).__name__}: {exc}")


class Autosaver:
    """The autosave of one app: ``claim`` (the slot this instance writes, or None),
    ``startup_claim`` (claimed by the engine worker on start, taken over once the
    engine is ready), ``stable`` (the state saved on a signal while a worker replays)."""

    def __init__(self, app: StratsimApp) -> None:
        self.app = app
        self.claim: AutosaveClaim | None = None
        self.startup_claim: AutosaveClaim | None = None
        self.signal_guard = None
        self.stable: SessionSnapshot | None = None

    @property
    def enabled(self) -> bool:
        return self.app.options.autosave

    def release(self) -> None:
        """On unmount: uninstall the signal handlers and release the slot."""
        if self.signal_guard is not None:
            self.signal_guard.uninstall()
            self.signal_guard = None
        if self.claim is not None:
            self.claim.release()
            self.claim = None

    def remove_own(self) -> None:
        """Delete this instance's own autosave (after a save, a discard, a clean quit)."""
        if self.claim is not None and self.enabled:
            with contextlib.suppress(OSError):
                self.claim.path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ the slot
    def claim_for_startup(self, target: Path) -> list | None:
        """(Engine worker, on start.) Claim this instance's slot of ``target``, then list
        the autosaves left by instances that ended (newest first); None when there are
        none. Claimed first: a second instance starting at the same moment then neither
        takes nor offers this one's slot."""
        from ..engine.errors import SessionError
        from ..engine.instances import claim_autosave, recovery_candidates

        if self.enabled:
            with contextlib.suppress(
                SessionError
            ):  # every slot taken: reported on the first autosave
                self.startup_claim = claim_autosave(target)
        own = self.startup_claim.path if self.startup_claim is not None else None
        return recovery_candidates(target, own=own) or None

    def drop_startup_claim(self) -> None:
        if self.startup_claim is not None:
            self.startup_claim.release()
            self.startup_claim = None

    def take_claim(self, claim: AutosaveClaim | None = None) -> None:
        """Hold the slot of the current session file (``claim`` if the loader already
        claimed it); the old slot is released when the file changed."""
        if not self.enabled:
            return
        target = self.target()
        if claim is None and self.claim is not None and self.claim.session == target:
            return
        old = self.claim
        if claim is None:
            from ..engine.instances import claim_autosave

            try:
                claim = claim_autosave(target)
            except Exception as exc:
                self.failed(describe_error(exc, target))
                return
        self.claim = claim
        if old is not None and old is not claim:
            old.release()

    def target(self) -> Path:
        path = self.app.session_path
        return path if path is not None else Path.cwd() / UNTITLED

    def file(self) -> Path:
        """The autosave this instance writes (its claimed slot)."""
        from ..engine import session as store

        return self.claim.path if self.claim is not None else store.autosave_path(self.target())

    def name(self) -> str:
        return self.app.session_name if self.app.session_name is not None else self.target().stem

    # ------------------------------------------------------------------ saving
    def save(self) -> bool:
        """Autosave to this instance's slot; returns True when saved."""
        app = self.app
        if not self.enabled or app.sim is None:
            return False
        from ..engine import session as store

        try:
            store.save_session(app.sim, self.file(), name=self.name(), created=app.session_created)
        except Exception as exc:
            self.failed(describe_error(exc, self.file()))
            return False
        if app.autosave_error:
            app.note("autosave works again")
            app.autosave_error = ""
        return True

    def failed(self, error: str) -> None:
        app = self.app
        first = not app.autosave_error
        app.autosave_error = error
        app.note(f"autosave failed: {error}", "warning")
        if first:
            app.notify(
                f"Autosave failed: {safe(error)}. Save elsewhere with a (save as).",
                severity="error",
                timeout=10,
            )

    # ------------------------------------------------------------------ signals
    def install_signal_autosave(self) -> None:
        """(Re)install the autosave on SIGHUP/SIGTERM/a lost terminal (main thread only)."""
        if not self.enabled or threading.current_thread() is not threading.main_thread():
            return
        from ..engine import session as store

        if self.signal_guard is not None:
            self.signal_guard.uninstall()
        try:
            self.signal_guard = store.install_signal_autosave(
                self.consistent_state, self.file(), name=self.name(),
                created=self.app.session_created, on_saved=self.on_signal_saved,
            )  # fmt: skip
        except ValueError:  # not the main thread (e.g. some embedders)
            self.signal_guard = None

    def consistent_state(self) -> Simulation | SessionSnapshot | None:
        """Called by the signal handler before it autosaves: stops the run and training
        (the process is about to end), and returns what to save: the snapshot taken
        before a replay while a worker replays (never a half-replayed run), else the
        simulation; None when nothing changed since the session was saved or opened."""
        app = self.app
        app.stop_jobs()
        if not app.dirty and app.busy in ("", "loading"):
            # nothing beyond the session file (or an untouched new session); while a
            # session or an autosave loads, the file it loads from is that state: a
            # period-0 autosave written now would be offered above it at the next start
            return None
        return self.stable if self.stable is not None else app.sim

    def on_signal_saved(self, signum: int) -> None:
        """After the signal autosave: exit, at the latest :data:`EXIT_GRACE_S` later (the
        terminal may be gone and a worker may still run: never wait on either)."""
        app = self.app
        if not app.is_headless:
            terminal.exit_within(128 + signum, EXIT_GRACE_S)
        app.stop_jobs()
        app.exit(return_code=128 + signum)
