"""The stratsim Textual app: options, lifecycle, the session file, autosave and quit.

Public API:

* :class:`TuiOptions`: what ``stratsim`` / ``stratsim tui`` pass in.
* :class:`StratsimApp` ``(options)``: the app. ``app.sim`` is the simulation once the
  engine is loaded (``app.engine_ready`` is then True); ``app.session_path``,
  ``app.dirty``, ``app.busy``, ``app.training`` and ``app.branches`` hold the session's
  state; ``app.main`` is the :class:`~stratsim.tui.screens.main.MainScreen`, which owns
  the simulation actions (step, run, undo, policy, branch, train, advise) and the panes.

State that drives the key bindings and the header (``sim``, ``busy``, ``dirty``,
``training``, ``session_path``, ``autosave_error``) is reactive: a change refreshes the
footer's bindings and the header through watchers.

The engine (and so torch) is imported in a thread worker after the first frame; until
then the header says "loading engine…". This module does not import torch, and imports
the screens only when they are first shown (:attr:`StratsimApp.SCREENS` factories).
Every worker runs on the App; a worker that raises is handled in one place,
:meth:`StratsimApp.on_worker_state_changed`.

Losing the terminal (SIGHUP, SIGTERM, or EOF/EIO on the terminal:
:mod:`stratsim.tui.terminal`) autosaves the last consistent state
(:mod:`stratsim.tui.autosave`) and ends the process within
:data:`~stratsim.tui.autosave.EXIT_GRACE_S` seconds.

Environment: ``STRATSIM_EXIT_ON_READY=1`` exits right after the first frame (the splash
screen) (used by ``bench/bench_tui.py`` to time startup); ``STRATSIM_EXIT_ON_READY=engine``
exits once the engine is loaded.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events
from textual.app import App, SystemCommand
from textual.reactive import reactive
from textual.worker import Worker, WorkerState

from . import glyphs, terminal
from .autosave import EXIT_GRACE_S, Autosaver, describe_error
from .bindings import MAIN_BINDINGS, TABS
from .loading import EngineLoader
from .messages import EngineReady
from .screens.splash import SplashScreen
from .text import printable
from .widgets.status import StatusInfo

if TYPE_CHECKING:
    from textual.screen import Screen

    from ..engine.simulation import Simulation
    from .advise import AdviseProgress
    from .branches import Branch
    from .screens.main import MainScreen
    from .session_file import SessionFile

__all__ = ["EXIT_GRACE_S", "StratsimApp", "TuiOptions"]


@dataclass
class TuiOptions:
    """Start-up options (``stratsim tui --help``).

    Attributes:
        session: session TOML to open, or None for a new session.
        scenario: scenario TOML for a new session (None: the shipped default).
        seed: random seed of a new session (>= 0).
        paths: Monte-Carlo paths of a new session (default 2000: responsive on a laptop).
        device: ``auto``, ``cpu``, ``cuda``, ``mps``.
        theme: a Textual theme name (``ansi-dark`` uses the terminal's 16 colours).
        models_dir: where trained models go (default: ``models/`` beside the session
            file, or ``./models``).
        autosave: autosave after every period, beside the session (or ``./untitled.toml``) in
            this instance's own slot: ``NAME.autosave.toml``, or ``NAME.2.autosave.toml``...
            when another instance holds that one (:mod:`stratsim.engine.instances`).
        check_recovery: offer a newer autosave for recovery on start.
        train_epochs: maximum epochs proposed in the training dialog.
        ascii: draw ASCII replacements of every symbol (:mod:`stratsim.tui.glyphs`).
    """

    session: Path | None = None
    scenario: Path | None = None
    seed: int = 0
    paths: int = 2000
    device: str = "auto"
    theme: str | None = None
    models_dir: Path | None = None
    autosave: bool = True
    check_recovery: bool = True
    train_epochs: int = 30
    ascii: bool = False


def _main_screen() -> Screen:
    """Factory of the main screen (imports the widgets only when it is first shown)."""
    from .screens.main import MainScreen

    return MainScreen()


class StratsimApp(App):
    """The terminal UI. See the module docstring."""

    CSS_PATH = "stratsim.tcss"
    TITLE = "stratsim"
    ENABLE_COMMAND_PALETTE = True
    SCREENS = {"main": _main_screen}

    #: The simulation (None until the engine is loaded).
    sim: reactive[Simulation | None] = reactive(None, bindings=True, init=False)
    #: What a worker does with the simulation ("running", "undoing", "loading", ...), or "".
    busy: reactive[str] = reactive("", bindings=True, init=False)
    #: True when the state differs from the session file (quitting asks).
    dirty: reactive[bool] = reactive(False, bindings=True, init=False)
    #: True while a model trains (the simulation stays usable).
    training: reactive[bool] = reactive(False, bindings=True, init=False)
    #: The file ``s`` saves to (None before the first save of a new session).
    session_path: reactive[Path | None] = reactive(None, init=False)
    #: The last autosave failure, shown in the header until an autosave succeeds.
    autosave_error: reactive[str] = reactive("", init=False)

    def __init__(self, options: TuiOptions | None = None) -> None:
        super().__init__()
        self.options = options or TuiOptions()
        glyphs.set_ascii(self.options.ascii)
        self.set_reactive(StratsimApp.session_path, self.options.session)
        self.engine_ready = False
        self.session_name: str | None = None
        self.session_created: str | None = None
        self.branches: dict[str, Branch] = {}
        self.compare_with: str | None = None
        self.autosaver = Autosaver(self)
        self.train_stop = threading.Event()
        self.run_stop = threading.Event()
        self._main: MainScreen | None = None
        self._pending_notes: list[tuple[str, str]] = []
        self._when_idle: list[Callable[[], object]] = []
        #: When the latest key or click arrived (``Message.time``): keys pressed before
        #: the run reached its horizon stop there (:meth:`MainScreen.stop_at_horizon`).
        self.last_input_at = 0.0
        self.loader = EngineLoader(self)
        if self.options.theme:
            self.theme = self.options.theme

    # ================================================================ lifecycle
    def get_driver_class(self):
        """Textual's driver, except on a terminal of Linux/macOS: :class:`terminal`'s
        StratsimDriver (a vanished terminal is a SIGHUP). A driver named in
        ``TEXTUAL_DRIVER`` (``textual serve``, ``textual run --dev``) is kept."""
        return terminal.driver_class() or super().get_driver_class()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self.last_input_at = max(self.last_input_at, event.time)
        await super().on_event(event)

    def get_default_screen(self) -> SplashScreen:
        return SplashScreen()

    @property
    def main(self) -> MainScreen | None:
        """The main screen once shown (it stays installed under any dialog)."""
        return self._main

    @property
    def files(self) -> SessionFile:
        """Save, save as, open and the discard question (:mod:`stratsim.tui.session_file`)."""
        from .session_file import SessionFile

        return SessionFile(self)

    def show_main_screen(self) -> None:
        """Called by the splash screen once drawn: show the main screen over it."""
        if os.environ.get("STRATSIM_EXIT_ON_READY", "") == "1":
            self.exit()
            return
        self._main = self.get_screen("main")  # type: ignore[assignment]
        self.push_screen("main")

    def main_screen_shown(self) -> None:
        """Called by the main screen after its first refresh (the first frame)."""
        if self.sim is None and not self.engine_ready:
            self.note("stratsim started; loading the engine (torch) in the background")
            self.load_engine(self.options.session, startup=True)

    def on_unmount(self) -> None:
        self.stop_jobs()
        self.autosaver.release()

    def session_label(self) -> str:
        """The session's name (``[meta] name``, else the file's stem), printable (no
        control characters; not markup-escaped: use :func:`~stratsim.tui.text.safe`)."""
        if self.session_name:
            return printable(self.session_name)
        return printable(self.session_path.stem) if self.session_path else "untitled"

    # ============================================================ reactive state
    def _state_changed(self) -> None:
        """The watcher of every reactive above: redraw the header; once idle, run what
        waits for it (:meth:`when_idle`). (Bindings refresh through ``bindings=True``.)"""
        if self._main is not None:
            self._main.show_header()
        self.call_later(self.run_idle_callbacks)

    watch_sim = watch_busy = watch_dirty = watch_training = _state_changed
    watch_session_path = watch_autosave_error = _state_changed

    def working(self) -> str:
        """What runs now ("running, training"), or "" when idle."""
        return ", ".join(x for x in (self.busy, "training" if self.training else "") if x)

    def when_idle(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once no job, training or queued key is left (now if idle)."""
        self._when_idle.append(callback)
        self.run_idle_callbacks()

    def run_idle_callbacks(self) -> None:
        """Run the :meth:`when_idle` callbacks, in order, while the app stays idle."""
        while self._when_idle and not self.working() and not (self.main and self.main.queued):
            self._when_idle.pop(0)()

    def stop_jobs(self) -> None:
        """Tell the run to the horizon and training to stop (at the next period/batch)."""
        self.train_stop.set()
        self.run_stop.set()

    # ============================================================== log / status
    def note(self, text: str, level: str = "info") -> None:
        """Add a timestamped line to the Log pane (and keep it if not mounted yet)."""
        from rich.text import Text

        stamp = time.strftime("%H:%M:%S")
        style = {"error": "bold red", "warning": "yellow"}.get(level, "")
        log = self.main.log_pane if self.main is not None else None
        if log is None:
            self._pending_notes.append((f"{stamp} {text}", style))
            return
        for line, st in self._pending_notes:
            log.write(Text(line, style=st))
        self._pending_notes.clear()
        log.write(Text(f"{stamp} {text}", style=style))

    def error_dialog(self, title: str, text: str) -> None:
        """Show an error that says what happened and what to do; also logged."""
        from .screens.dialogs import MessageDialog

        self.note(f"{title}: {text}", "error")
        self.push_screen(MessageDialog(title, text))

    def status_info(self) -> StatusInfo:
        """What the header shows now."""
        sim, main = self.sim, self.main
        queued = len(main.queued) if main is not None else 0
        file = printable(str(self.session_path)) if self.session_path is not None else ""
        if sim is None:
            return StatusInfo(session=self.session_label(), loading=True, queued=queued, file=file)
        models = (
            ("satisfaction", self.model_label(sim.satisfaction_model)),
            ("privacy", self.model_label(sim.privacy_model)),
        )
        return StatusInfo(
            session=self.session_label(),
            period=sim.period,
            horizon=sim.horizon,
            policy=sim.policy_name,
            device=str(sim.device),
            paths=sim.n_paths,
            models=models,
            dirty=self.dirty,
            busy=self.working(),
            file=file,
            autosave_error=self.autosave_error,
            queued=queued,
            ignored=main.ignored_keys if main is not None else 0,
            invalid=main.invalid_reason() if main is not None else "",
        )

    @staticmethod
    def model_label(model: object) -> str:
        """The model's description (from its metadata file: made printable)."""
        return printable(getattr(model, "description", type(model).__name__))

    def models_dir(self) -> Path:
        """Where trained models go (``--models``, else ``models/`` beside the session)."""
        if self.options.models_dir is not None:
            return self.options.models_dir
        base = self.session_path.resolve().parent if self.session_path is not None else Path.cwd()
        return base / "models"

    # ============================================================ engine loading
    def load_engine(self, path: Path | None, startup: bool = False) -> None:
        """Import the engine and build the simulation (or load ``path``) in a worker."""
        self.loader.load(path, startup)

    def on_engine_ready(self, message: EngineReady) -> None:
        self.loader.ready(message)

    # ================================================================ workers
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where a worker's failure is handled (every worker runs on the
        App): the engine loader, the simulation jobs and training report to their owner;
        anything else gets an error dialog."""
        worker = event.worker
        if event.state != WorkerState.ERROR or worker.error is None:
            return
        error = worker.error if isinstance(worker.error, Exception) else Exception(worker.error)
        if worker.group == "engine":
            self.autosaver.drop_startup_claim()
            self.loader.failed(describe_error(error, self.loader.loading[0]))
        elif worker.group in ("sim", "training") and self.main is not None:
            self.main.job_failed(worker, error)
        else:
            self.error_dialog("A background job failed", describe_error(error, None))

    def on_advise_progress(self, message: AdviseProgress) -> None:
        """The Advise worker posts to the App: pass it on to the Advise pane."""
        if self.main is not None:
            self.main.on_advise_progress(message)

    # ================================================================ sessions
    def action_save(self) -> None:
        """Save to the session file (asks for a name the first time)."""
        if self.main is not None and self.main.can("save"):
            self.files.save()

    def action_save_as(self) -> None:
        """Ask for a file name and save there (asks before replacing another file)."""
        if self.main is not None and self.main.can("save"):
            self.files.save_as()

    def action_open(self) -> None:
        """Open a session file (asks first if there are unsaved changes)."""
        self.files.open()

    # ================================================================ quit
    async def action_quit(self) -> None:
        """Textual's own quit (ctrl+q, the palette's "Quit"): ask like ``q`` does."""
        self.action_quit_app()

    def action_quit_app(self) -> None:
        """Quit; asks to save when there are unsaved changes or a job runs."""
        self.files.confirm_discard("Quit", self.quit_now)

    def quit_now(self) -> None:
        """Stop what runs and exit (bounded: a worker thread may not stop at once)."""
        self.stop_jobs()
        if self.main is not None:
            self.main.stop_advise()
        if self.sim is not None and not self.dirty:
            self.autosaver.remove_own()
        if any(w.is_running for w in self.workers) and not self.is_headless:
            # a worker thread (an optimization's last evaluation, a replay at 1M paths)
            # can run for many seconds after it is told to stop, and Python waits for it
            # before the process ends: bound the exit like the signal path does, once
            # Textual has given the terminal back (a clean shell after a slow shutdown)
            terminal.exit_after_restore(0, EXIT_GRACE_S)
        self.exit()

    def get_system_commands(self, screen):
        """Textual's commands, every main-screen action, and one command per tab."""
        yield from super().get_system_commands(screen)
        for b in MAIN_BINDINGS:
            owner = self if b.action.startswith("app.") else self.main
            method = getattr(owner, f"action_{b.action.removeprefix('app.')}", None)
            if method is not None:  # (the tab keys take a parameter: listed below)
                key = b.key_display or b.key
                yield SystemCommand(f"{b.description} ({key})", b.tooltip or b.description, method)
        if self.main is not None:
            for i, (tab, title) in enumerate(TABS, start=1):
                show = partial(self.main.action_show_tab, tab)
                yield SystemCommand(f"Show the {title} tab ({i})", f"Show the {title} tab", show)
