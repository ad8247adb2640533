"""Autosave on SIGHUP (a lost SSH connection) and SIGTERM, then exit."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .autosave import autosave

if TYPE_CHECKING:
    from ..simulation import Simulation


class SignalAutosave:
    """Autosave on SIGHUP / SIGTERM, then exit; made by :func:`install_signal_autosave`.

    The handler calls ``get_simulation()``; when it returns a simulation, that is saved
    with :func:`autosave` (errors are printed to stderr if it still exists, never raised).
    Then ``on_saved(signum)`` is called if given (e.g. the TUI's clean exit); otherwise
    the previous handlers are restored and ``SystemExit(128 + signum)`` is raised (the
    shell's convention for death by a signal: 129 for SIGHUP, 143 for SIGTERM).
    """

    def __init__(
        self,
        get_simulation: Callable[[], Simulation | None],
        path: str | Path,
        *,
        name: str | None = None,
        created: datetime | None = None,
        signals: tuple[int, ...] | None = None,
        on_saved: Callable[[int], Any] | None = None,
    ) -> None:
        self.get_simulation = get_simulation
        self.path = Path(path)
        self.name = name
        self.created = created
        self.signals = signals if signals is not None else default_autosave_signals()
        self.on_saved = on_saved
        self.last_saved: Path | None = None
        self._previous: dict[int, Any] = {}
        self._busy = False

    def install(self) -> SignalAutosave:
        """Install the handlers (main thread only; ValueError otherwise)."""
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def uninstall(self) -> None:
        """Restore the handlers that were there before :meth:`install`."""
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    def __enter__(self) -> SignalAutosave:
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def _handle(self, signum: int, frame: object) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            sim = self.get_simulation()
            if sim is not None:
                self.last_saved = autosave(sim, self.path, name=self.name, created=self.created)
        except Exception as exc:  # a failed autosave must not hide the signal
            with contextlib.suppress(Exception):
                print(
                    f"stratsim: autosave on {signal.Signals(signum).name} failed: {exc}",
                    file=sys.stderr,
                )
        finally:
            self._busy = False
        if self.on_saved is not None:
            self.on_saved(signum)
            return
        self.uninstall()
        raise SystemExit(128 + signum)


def default_autosave_signals() -> tuple[int, ...]:
    """SIGHUP (lost terminal/SSH connection) where the platform has it, and SIGTERM."""
    return tuple(s for s in (getattr(signal, "SIGHUP", None), signal.SIGTERM) if s is not None)


def install_signal_autosave(
    get_simulation: Callable[[], Simulation | None],
    path: str | Path,
    *,
    name: str | None = None,
    created: datetime | None = None,
    signals: tuple[int, ...] | None = None,
    on_saved: Callable[[int], Any] | None = None,
) -> SignalAutosave:
    """Autosave the simulation returned by ``get_simulation()`` to ``autosave_path(path)``
    on SIGHUP and SIGTERM, then exit with 128 + signum (or call ``on_saved(signum)``).

    Returns the installed :class:`SignalAutosave`; call ``.uninstall()`` (or use it as a
    context manager) to restore the previous handlers.

    Raises:
        ValueError: not called from the main thread (a limit of :func:`signal.signal`).
    """
    return SignalAutosave(
        get_simulation, path, name=name, created=created, signals=signals, on_saved=on_saved
    ).install()
