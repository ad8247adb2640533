"""The stratsim Textual app: drives a :class:`~stratsim.engine.simulation.Simulation`,
the trainer and the session store from the keyboard.

Public API:

* :class:`TuiOptions`: what ``stratsim`` / ``stratsim tui`` pass in.
* :class:`StratsimApp` ``(options)``: the app. ``app.sim`` is the simulation once the
  engine is loaded (``app.engine_ready`` is then True); ``app.session_path``,
  ``app.dirty``, ``app.branches`` hold the session's state.

The engine (and so torch) is imported in a thread worker after the first frame; until
then the header says "loading engine…". This module does not import torch.
Long work runs in thread workers started on the App: loading/opening a session
(group ``engine``), the run to the horizon, undo and model swaps (group ``sim``; only
one at a time, the simulation is never touched by two threads) and training (group
``training``, cancellable with ``x`` at any batch). Workers post messages
(:mod:`stratsim.tui.messages`), throttled to about 10 per second. Simulation keys pressed
while the engine loads or a job runs are queued and run in order once it is idle.

Losing the terminal (SIGHUP, SIGTERM, or EOF/EIO on the terminal:
:mod:`stratsim.tui.terminal`) autosaves the last consistent state (while a worker replays,
the snapshot taken before the replay) and ends the process within
:data:`EXIT_GRACE_S` seconds.

Environment: ``STRATSIM_EXIT_ON_READY=1`` exits right after the first frame (the splash screen) (used by
``bench/bench_tui.py`` to time startup); ``STRATSIM_EXIT_ON_READY=engine`` exits once
the engine is loaded.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, SystemCommand

from . import glyphs, terminal
from .bindings import MAIN_BINDINGS
from .messages import EngineFailed, EngineReady, RunProgress, TrainFinished, TrainUpdate
from .screens.splash import SplashScreen
from .text import printable, safe, shorten_path
from .widgets.status import StatusHeader, StatusInfo

if TYPE_CHECKING:
    from textual.widgets import RichLog, Static, TabbedContent

    from .screens.dialogs import ChoiceDialog, FileDialog, MessageDialog
    from .screens.help import HelpScreen, binding_rows
    from .screens.main import MainScreen
    from .widgets.allocation import AllocationPanel, ValueInput
    from .widgets.charts import HistoryCharts
    from .widgets.kpis import KpiTable, PreviewTable
    from .widgets.training import TrainingPane


def _import_ui() -> None:
    """Import the screens and widgets into this module. Called right after the first
    frame (the splash screen), so they do not delay it."""
    global ChoiceDialog, FileDialog, MessageDialog, HelpScreen, binding_rows
    global MainScreen, AllocationPanel, ValueInput, HistoryCharts, KpiTable
    global PreviewTable, TrainingPane, RichLog, Static, TabbedContent
    from textual.widgets import RichLog, Static, TabbedContent

    from .screens.dialogs import ChoiceDialog, FileDialog, MessageDialog
    from .screens.help import HelpScreen, binding_rows
    from .screens.main import MainScreen
    from .widgets.allocation import AllocationPanel, ValueInput
    from .widgets.charts import HistoryCharts
    from .widgets.kpis import KpiTable, PreviewTable
    from .widgets.training import TrainingPane

POLICY_CYCLE = ("manual", "fixed", "feedback", "optimize")
UNTITLED = "untitled.toml"
#: Simulation keys queued (in order) when pressed while the engine loads or a job runs.
QUEUEABLE = ("step", "run_horizon", "undo", "cycle_policy")
#: At most this many queued keys; more are counted as ignored (and the screen says so).
MAX_QUEUED = 100
#: Seconds between the signal autosave and the end of the process at the latest.
EXIT_GRACE_S = 1.5


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


class StratsimApp(App):
    """The terminal UI. See the module docstring."""

    CSS_PATH = "stratsim.tcss"
    TITLE = "stratsim"
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, options: TuiOptions | None = None) -> None:
        super().__init__()
        self.options = options or TuiOptions()
        glyphs.set_ascii(self.options.ascii)
        self.sim: Any = None
        self.engine_ready = False
        self.session_path: Path | None = self.options.session
        self.session_name: str | None = None
        self.session_created: Any = None
        self.dirty = False
        self.busy = ""  # "running", "undoing", "loading", ...
        self.training = False
        self.branches: dict[str, Any] = {}
        self.compare_with: str | None = None
        self._train_stop = threading.Event()
        self._run_stop = threading.Event()
        self._baseline_cache: tuple[Any, Any] | None = None
        self._draft_preview: Any = None
        self._signal_guard: Any = None
        self._switch_interval = sys.getswitchinterval()
        self._kpi_labels: dict[str, str] = {}
        self._pending_notes: list[tuple[str, str]] = []
        self._panes_pending = False
        self._panes_keep_draft = False
        self._claim: Any = None  # the autosave slot this instance writes (engine.instances)
        self._startup_claim: Any = None  # claimed by the engine worker on start
        self._stable: Any = None  # a SessionSnapshot while a worker replays the simulation
        self.autosave_error = ""  # the last autosave failure, shown until one succeeds
        self.queued: list[str] = []  # simulation actions pressed while busy, in order
        self.ignored_keys = 0
        self._when_idle: list[Callable[[], Any]] = []
        if self.options.theme:
            self.theme = self.options.theme

    # ================================================================ lifecycle
    def get_driver_class(self):
        """Textual's driver, except on a terminal of Linux/macOS: :class:`terminal`'s
        StratsimDriver (a vanished terminal is a SIGHUP). A driver named in
        ``TEXTUAL_DRIVER`` (``textual serve``, ``textual run --dev``) is kept."""
        return terminal.driver_class() or super().get_driver_class()

    def get_default_screen(self) -> SplashScreen:
        return SplashScreen()

    def show_main_screen(self) -> None:
        """Called by the splash screen once drawn: build the main screen and show it over the splash."""
        if os.environ.get("STRATSIM_EXIT_ON_READY", "") == "1":
            self.exit()
            return
        _import_ui()
        self.push_screen(MainScreen())

    def main_screen_shown(self) -> None:
        """Called by the main screen after its first refresh (the first frame)."""
        if self.sim is None and not self.engine_ready:
            self.note("stratsim started; loading the engine (torch) in the background")
            self._load_engine(self.options.session, startup=True)

    def on_unmount(self) -> None:
        self._train_stop.set()
        self._run_stop.set()
        if self._signal_guard is not None:
            self._signal_guard.uninstall()
            self._signal_guard = None
        if self._claim is not None:
            self._claim.release()
            self._claim = None

    def session_label(self) -> str:
        """The session's name (``[meta] name``, else the file's stem), printable (no
        control characters; not markup-escaped: use :func:`~stratsim.tui.text.safe`)."""
        if self.session_name:
            return printable(self.session_name)
        return printable(self.session_path.stem) if self.session_path else "untitled"

    # ============================================================== log / status
    def note(self, text: str, level: str = "info") -> None:
        """Add a timestamped line to the Log pane (and keep it if not mounted yet)."""
        stamp = time.strftime("%H:%M:%S")
        style = {"error": "bold red", "warning": "yellow"}.get(level, "")
        try:
            log = self.screen.query_one("#log", RichLog)
        except Exception:
            self._pending_notes.append((f"{stamp} {text}", style))
            return
        from rich.text import Text

        for line, st in self._pending_notes:
            log.write(Text(line, style=st))
        self._pending_notes.clear()
        log.write(Text(f"{stamp} {text}", style=style))

    def error_dialog(self, title: str, text: str) -> None:
        """Show an error that says what happened and what to do; also logged."""
        self.note(f"{title}: {text}", "error")
        self.push_screen(MessageDialog(title, text))

    def status_info(self) -> StatusInfo:
        sim = self.sim
        if sim is None:
            return StatusInfo(session=self.session_label(), loading=True, queued=len(self.queued))
        models = (
            ("satisfaction", self._model_label(sim.satisfaction_model)),
            ("privacy", self._model_label(sim.incident_model)),
        )
        busy = ", ".join(x for x in (self.busy, "training" if self.training else "") if x)
        return StatusInfo(
            session=self.session_label(),
            period=sim.period,
            horizon=sim.horizon,
            policy=sim.policy_name,
            device=str(sim.device),
            paths=sim.n_paths,
            models=models,
            dirty=self.dirty,
            busy=busy,
            file=shorten_path(self.session_path, 60) if self.session_path is not None else "",
            autosave_error=self.autosave_error,
            queued=len(self.queued),
            ignored=self.ignored_keys,
        )

    @staticmethod
    def _model_label(model: Any) -> str:
        """The model's description (from its metadata file: made printable)."""
        return printable(getattr(model, "description", type(model).__name__))

    # ============================================================ engine loading
    @work(thread=True, exclusive=True, exit_on_error=False, group="engine")
    def _load_engine(self, path: Path | None, startup: bool = False) -> None:
        """Import the engine and build the simulation (or load ``path``)."""
        try:
            import torch  # noqa: F401  (the slow import, off the UI thread)

            from ..engine import session as store

            notes: list[str] = []
            recovery = None
            if path is not None:
                if startup and self.options.check_recovery:
                    recovery = self._claim_and_find_recovery(Path(path))
                if Path(path).exists() or recovery is None:
                    loaded = store.load_session(path, device=None if self.options.device == "auto" else self.options.device)
                    notes += loaded.warnings + loaded.simulation.model_warnings()
                    self.post_message(EngineReady(loaded.simulation, Path(path), {}, notes, recovery, meta=loaded.meta))
                    return
            sim = self._new_simulation()
            if startup and path is None and self.options.check_recovery:
                recovery = self._claim_and_find_recovery(Path.cwd() / UNTITLED)
            self.post_message(EngineReady(sim, path, {}, notes, recovery))
        except Exception as exc:  # shown to the user; the current session stays
            if self._startup_claim is not None:
                self._startup_claim.release()
                self._startup_claim = None
            self.post_message(EngineFailed(self._describe_error(exc, path), startup=startup, path=path))

    def _claim_and_find_recovery(self, target: Path) -> list[Any] | None:
        """(Engine worker, on start.) Claim this instance's autosave slot of ``target``
        (kept in ``_startup_claim`` for :meth:`_engine_ready`), then list the autosaves left
        by instances that ended (:func:`stratsim.engine.instances.recovery_candidates`);
        None when there are none. Claimed first: a second instance starting at the same
        moment then neither takes nor offers this one's slot."""
        from ..engine.errors import SessionError
        from ..engine.instances import claim_autosave, recovery_candidates

        if self.options.autosave:
            with contextlib.suppress(SessionError):  # every slot taken: reported on the first autosave
                self._startup_claim = claim_autosave(target)
        own = self._startup_claim.path if self._startup_claim is not None else None
        return recovery_candidates(target, own=own) or None

    def _new_simulation(self) -> Any:
        from ..engine.scenario import load_scenario
        from ..engine.simulation import Simulation

        scenario = load_scenario(self.options.scenario)
        models: dict[str, Any] = {}
        return Simulation(
            scenario,
            seed=self.options.seed,
            n_paths=self.options.paths,
            device=self.options.device,
            policy="fixed",
            satisfaction_model=models.get("satisfaction"),
            incident_model=models.get("privacy"),
        )

    @staticmethod
    def _describe_error(exc: Exception, path: Path | None) -> str:
        """One printable line (control characters in file names escaped)."""
        from ..engine.errors import StratsimError

        if isinstance(exc, StratsimError):
            return printable(exc)
        where = f"{path}: " if path else ""
        return printable(f"{where}{type(exc).__name__}: {exc}")

    @on(EngineReady)
    def _engine_ready(self, message: EngineReady) -> None:
        from ..engine.kpi import KPIS

        self._kpi_labels = {k: v[0] for k, v in KPIS.items()}
        first = not self.engine_ready
        from .branches import session_branches

        self.sim = message.sim
        self.branches, self.compare_with = session_branches(self.sim), None
        self.engine_ready = True
        self.busy = ""
        self.session_path = message.session_path
        meta = getattr(message, "meta", None)
        self.session_name = meta.name if meta is not None else None
        self.session_created = meta.created if meta is not None else None
        self.dirty = bool(getattr(message, "unsaved", False))
        self._baseline_cache = None
        self._stable = None
        claim, self._startup_claim = self._startup_claim, None
        self._take_claim(claim)
        for line in message.notes:
            self.note(line, "warning")
        where = f"opened {printable(message.session_path)}" if message.session_path else "new session on the default scenario" if self.options.scenario is None else f"new session on {self.options.scenario}"
        self.note(f"engine ready: {where}; Period {self.sim.period}/{self.sim.horizon}, {self.sim.n_paths} paths on {self.sim.device}")
        self._install_signal_autosave()
        self.refresh_bindings()
        self.refresh_all()
        if os.environ.get("STRATSIM_EXIT_ON_READY") == "engine":
            self.exit()
            return
        recovered = getattr(message, "recovered_from", None)
        if recovered is not None and self._autosave() and self._claim is not None and Path(recovered) != self._claim.path:
            # now held in this instance's own autosave: the file recovered from goes
            with contextlib.suppress(OSError):
                Path(recovered).unlink()
        if first and message.recovery:
            if self.queued:
                self._ignore_queue("an autosave to recover comes first")
            self._offer_recovery(list(message.recovery))
        else:
            self._drain_queue()

    @on(EngineFailed)
    def _engine_failed(self, message: EngineFailed) -> None:
        self.busy = ""
        if message.startup and self.sim is None and message.path is not None:
            self.error_dialog(
                "Cannot open the session",
                f"{message.error}\n\nStarting a new session on the default scenario instead; "
                "fix the file and open it with o, or start `stratsim tui FILE` again.",
            )
            self.session_path = None
            self._load_engine(None, startup=False)
            return
        if self.queued:
            self._ignore_queue("the engine failed")
        if self.sim is None:
            self.error_dialog("Cannot start the engine", f"{message.error}\n\nCheck --scenario/--device, then restart.")
            return
        self.error_dialog("Cannot open the session", f"{message.error}\n\nYour current session is unchanged.")
        self.refresh_all()

    def _offer_recovery(self, candidates: list[Any]) -> None:
        """Ask which autosave to recover, if any: each with the period and time it holds.
        Keys 1..9 recover, ``i`` or esc ignores (never ``n``: Step's key, pressed out of
        habit as the dialog appears, must not dismiss it unseen)."""
        shown = candidates[:9]
        lines = "\n".join(f"{i}  {safe(c.describe())}" for i, c in enumerate(shown, start=1))
        folder = safe(shorten_path(shown[0].path.parent, 50))

        def answer(choice: str | None) -> None:
            if choice and choice.isdigit() and 1 <= int(choice) <= len(shown):
                chosen = shown[int(choice) - 1]
                self.note(f"recovering {printable(chosen.path)}")
                self.busy = "loading"
                self.refresh_all(keep_draft=True)
                self._open_recovery(chosen.path)
            else:
                self.note(f"autosave not recovered (it stays on disk: {printable(shown[0].path)})")
                self._drain_queue()

        many = len(shown) > 1
        self.push_screen(
            ChoiceDialog(
                f"{'Autosaves' if many else 'An autosave'} newer than the session "
                f"{'were' if many else 'was'} found in {folder}:\n{lines}\n"
                f"Recover {'one' if many else 'it'}?",
                [*((str(i), f"{i} Recover" if many else "1 Recover") for i in range(1, len(shown) + 1)), ("i", "i Ignore")],
            ),
            answer,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine")
    def _open_recovery(self, autosave: Path) -> None:
        try:
            from ..engine import session as store

            loaded = store.load_session(autosave)
            target = self.session_path  # keep saving to the real session file
            notes = [*loaded.warnings, f"recovered from {printable(autosave)}: save (s) to keep it in the session file"]
            self.post_message(EngineReady(loaded.simulation, target, {}, notes, None, meta=loaded.meta, unsaved=True, recovered_from=autosave))
        except Exception as exc:
            self.post_message(EngineFailed(self._describe_error(exc, autosave)))

    def _install_signal_autosave(self) -> None:
        if not self.options.autosave or threading.current_thread() is not threading.main_thread():
            return
        from ..engine import session as store

        if self._signal_guard is not None:
            self._signal_guard.uninstall()
        try:
            self._signal_guard = store.install_signal_autosave(
                self._consistent_state, self._autosave_file(), name=self._autosave_name(),
                created=self.session_created, on_saved=self._on_signal_saved,
            )  # fmt: skip
        except ValueError:  # not the main thread (e.g. some embedders)
            self._signal_guard = None

    def _consistent_state(self) -> Any:
        """Called by the signal handler (SIGHUP, SIGTERM, a lost terminal) before it
        autosaves: stops the run and training (the process is about to end; they would
        only slow the autosave down), and returns what to save: the snapshot taken
        before a replay while a worker replays (never a half-replayed run), else the
        simulation itself; None (nothing to save) when nothing changed since the
        session was saved or opened."""
        self._train_stop.set()
        self._run_stop.set()
        if not self.dirty and self.busy in ("", "loading"):
            # nothing beyond the session file (or an untouched new session); while a
            # session or an autosave loads, the file it loads from is that state: a
            # period-0 autosave written now would be offered above it at the next start
            return None
        return self._stable if self._stable is not None else self.sim

    def _on_signal_saved(self, signum: int) -> None:
        """After the signal autosave: exit, at the latest :data:`EXIT_GRACE_S` later (the
        terminal may be gone and a worker may still run: never wait on either)."""
        if not self.is_headless:
            terminal.exit_within(128 + signum, EXIT_GRACE_S)
        self._train_stop.set()
        self._run_stop.set()
        self.exit(return_code=128 + signum)

    def _take_claim(self, claim: Any = None) -> None:
        """Hold the autosave slot of the current session file (``claim`` if the loader
        already claimed it); the old slot is released when the file changed."""
        if not self.options.autosave:
            return
        target = self._autosave_target()
        if claim is None and self._claim is not None and self._claim.session == target:
            return
        old = self._claim
        if claim is None:
            from ..engine.instances import claim_autosave

            try:
                claim = claim_autosave(target)
            except Exception as exc:
                self._autosave_failed(self._describe_error(exc, target))
                return
        self._claim = claim
        if old is not None and old is not claim:
            old.release()

    def _autosave_target(self) -> Path:
        return self.session_path if self.session_path is not None else Path.cwd() / UNTITLED

    def _autosave_file(self) -> Path:
        """The autosave this instance writes (its claimed slot, engine.instances)."""
        from ..engine import session as store

        return self._claim.path if self._claim is not None else store.autosave_path(self._autosave_target())

    def _autosave_name(self) -> str:
        return self.session_name if self.session_name is not None else self._autosave_target().stem

    def _autosave(self) -> bool:
        """Autosave to this instance's slot; a failure stays in the header until an
        autosave succeeds. Returns True when saved."""
        if not self.options.autosave or self.sim is None:
            return False
        from ..engine import session as store

        try:
            store.save_session(self.sim, self._autosave_file(), name=self._autosave_name(), created=self.session_created)
        except Exception as exc:
            self._autosave_failed(self._describe_error(exc, self._autosave_file()))
            return False
        if self.autosave_error:
            self.note("autosave works again")
            self.autosave_error = ""
        return True

    def _autosave_failed(self, error: str) -> None:
        first = not self.autosave_error
        self.autosave_error = error
        self.note(f"autosave failed: {error}", "warning")
        if first:
            self.notify(f"Autosave failed: {safe(error)}. Save elsewhere with a (save as).", severity="error", timeout=10)

    # ================================================================ refreshing
    def refresh_all(self, keep_draft: bool = False) -> None:
        """Re-render every pane from the simulation (UI thread only)."""
        from textual.css.query import NoMatches

        try:
            self._refresh_all(keep_draft)
        except NoMatches:  # hidden panes not mounted yet (Lazy): try again shortly
            self.set_timer(0.05, lambda: self.refresh_all(keep_draft))

    def _refresh_all(self, keep_draft: bool) -> None:
        screen = self.screen if isinstance(self.screen, MainScreen) else self._main_screen()
        if screen is None:
            return
        # The header first, drawn at once; the panes (KPI table, preview: a simulated
        # period) right after that frame, so a key press shows its effect without waiting
        # for the preview (bench/bench_tui.py: key-to-screen latency while training).
        screen.query_one(StatusHeader).show(self.status_info())
        if self.sim is None:
            return
        self._panes_keep_draft = self._panes_keep_draft and keep_draft if self._panes_pending else keep_draft
        if not self._panes_pending:
            self._panes_pending = True
            self.call_after_refresh(self._refresh_panes_now)

    def _refresh_panes_now(self) -> None:
        from textual.css.query import NoMatches

        self._panes_pending = False
        screen = self._main_screen()
        if screen is None or self.sim is None:
            return
        try:
            self._refresh_panes(screen, self._panes_keep_draft)
        except NoMatches:  # hidden panes not mounted yet (Lazy): try again shortly
            self.set_timer(0.05, lambda: self.refresh_all(self._panes_keep_draft))

    def _refresh_panes(self, screen: MainScreen, keep_draft: bool) -> None:
        with self.batch_update():
            history = list(self.sim.history)
            screen.query_one("#kpi-title").update(f"Period {self.sim.period} of {self.sim.horizon}: KPIs over {self.sim.n_paths} paths (mean, P10, P50, P90; Δ from the previous period)")
            screen.query_one(KpiTable).show(history)
            if not self.busy:
                panel = screen.query_one(AllocationPanel)
                panel.set_baseline(self.sim.next_decision(), keep_draft=keep_draft)
                self._update_preview(panel.draft)
            self._refresh_compare(screen, history)
            tabs = screen.query_one(TabbedContent)
            if tabs.active == "tab-charts":
                screen.query_one(HistoryCharts).show(history)

    def _main_screen(self) -> MainScreen | None:
        for s in self.screen_stack:
            if isinstance(s, MainScreen):
                return s
        return None

    def _refresh_compare(self, screen: MainScreen, history: list) -> None:
        from .branches import refresh_compare

        refresh_compare(self, screen, history)

    #: The preview's title; with an invalid value, ``(invalid draft: not previewed)``.
    PREVIEW_TITLE = "Next period preview (Δ: draft minus policy)"

    def _update_preview(self, draft: Any) -> None:
        """Preview the next period under ``draft`` and under the policy's decision; while
        a value holds invalid text there is no draft: the preview is cleared and says so."""
        sim = self.sim
        screen = self._main_screen()
        if sim is None or screen is None or self.busy:
            return
        invalid = bool(screen.query_one(AllocationPanel).invalid)
        title = "Next period preview: [b]invalid draft[/b], not previewed" if invalid else self.PREVIEW_TITLE
        screen.query_one("#preview-title", Static).update(title)
        if invalid:
            self._draft_preview = None
            current = sim.history[-1] if sim.history else None
            screen.query_one(PreviewTable).show(current, None, None)
            return
        base_decision = sim.next_decision()
        key = (sim.period, len(sim.decisions), base_decision, id(sim))
        if self._baseline_cache is None or self._baseline_cache[0] != key:
            self._baseline_cache = (key, sim.preview(base_decision))
        baseline = self._baseline_cache[1]
        draft_preview = baseline if draft is None or draft == base_decision else sim.preview(draft)
        self._draft_preview = draft_preview
        current = sim.history[-1] if sim.history else None
        screen.query_one(PreviewTable).show(current, draft_preview, baseline)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "tab-charts" and self.sim is not None:
            self.screen.query_one(HistoryCharts).show(list(self.sim.history))

    # ============================================================ allocation
    def on_allocation_panel_draft_changed(self, event: AllocationPanel.DraftChanged) -> None:
        self._update_preview(event.decision)

    def on_allocation_panel_draft_invalid(self, event: AllocationPanel.DraftInvalid) -> None:
        self._update_preview(None)

    def on_allocation_panel_apply(self, event: AllocationPanel.Apply) -> None:
        from ..engine.errors import DecisionError

        if self.sim is None or self.busy:
            self.notify("Wait for the current job to finish", severity="warning")
            return
        before = self.sim.policy_name
        try:
            self.sim.set_decision(event.decision)
        except DecisionError as exc:
            self.error_dialog("Allocation not applied", f"{exc}\n\nFix the value and press enter again.")
            return
        self.dirty = True
        self.screen.set_focus(None)  # leave the value: letter keys act again (n steps)
        changed = self._describe_change(event.decision)
        self.note(f"allocation applied ({changed}); policy {before} -> manual" if before != "manual" else f"allocation applied ({changed})")
        self.refresh_all()

    def _describe_change(self, new: Any) -> str:
        from . import edit

        base = self.screen.query_one(AllocationPanel).baseline if isinstance(self.screen, MainScreen) else None
        if base is None:
            return "values set"
        diffs = [
            f"{f.label} {edit.format_value(f.key, edit.get_value(base, f.key))}->{edit.format_value(f.key, edit.get_value(new, f.key))}"
            for f in edit.FIELDS
            if edit.get_value(base, f.key) != edit.get_value(new, f.key)
        ]
        return ", ".join(diffs) or "no change"

    # ================================================================ actions
    def _main_action_allowed(self) -> bool:
        return isinstance(self.screen, MainScreen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        sim_actions = {"step", "run_horizon", "undo", "cycle_policy", "save", "save_as", "branch", "train"}
        if action == "cancel":
            return bool(self.training or self.busy == "running")
        if action in QUEUEABLE:
            return True  # queued while the engine loads or a job runs (see _can)
        if action in sim_actions:
            if self.sim is None:
                return None  # shown dimmed until the engine is ready
            if self.busy and action != "train":
                return None
        return True

    def _can(self, what: str, action: str | None = None) -> bool:
        """True when ``what`` can run now. Otherwise a simulation key (``action`` in
        :data:`QUEUEABLE`) is queued, in order, and runs once the app is idle; anything
        else is refused with a notification."""
        if self.sim is not None and not self.busy:
            return True
        if action in QUEUEABLE:
            if len(self.queued) < MAX_QUEUED:
                self.queued.append(action)
            else:
                self.ignored_keys += 1
            self._show_header()
            return False
        if self.sim is None:
            self.notify(f"Cannot {what} yet: the engine is still loading", severity="warning")
            return False
        self.notify(f"Cannot {what} while {self.busy}: wait, or press x to cancel", severity="warning")
        return False

    def _show_header(self) -> None:
        screen = self._main_screen()
        if screen is not None:
            screen.query_one(StatusHeader).show(self.status_info())

    def _drain_queue(self) -> None:
        """Run the queued simulation keys in order while the app stays idle (a key that
        starts a worker, undo or run, leaves the rest for when it is done), then the
        callbacks waiting for an idle app."""
        if self.sim is None:
            return
        if not isinstance(self.screen, MainScreen):  # a dialog first: try again after it
            if self.queued:
                self.set_timer(0.2, self._drain_queue)
            return
        while self.queued and not self.busy and self.sim is not None and isinstance(self.screen, MainScreen):
            action = self.queued.pop(0)
            getattr(self, f"action_{action}")()
        if not self.queued:
            self.ignored_keys = 0
        while self._when_idle and not self.busy and not self.queued:
            self._when_idle.pop(0)()
        self._show_header()

    def _ignore_queue(self, why: str) -> None:
        n = len(self.queued) + self.ignored_keys
        self.queued.clear()
        self.ignored_keys = 0
        self.notify(f"{n} key{'s' if n != 1 else ''} pressed while busy ignored: {why}", severity="warning")
        self.note(f"{n} queued key(s) ignored: {why}", "warning")

    def _draft_pending(self) -> Any:
        """The allocation panel's unapplied draft (a Decision), or None."""
        screen = self._main_screen()
        panel = screen.query_one(AllocationPanel) if screen is not None else None
        return panel.draft if panel is not None and panel.has_draft and not panel.invalid else None

    def _ask_about_draft(self, what: str, proceed: Callable[[], Any]) -> bool:
        """When a draft allocation is pending, ask whether to apply it before ``what``
        (then call ``proceed``); returns True when it asked."""
        draft = self._draft_pending()
        if draft is None:
            return False
        panel = self._main_screen().query_one(AllocationPanel)

        def answer(choice: str | None) -> None:
            if choice == "y":
                self.on_allocation_panel_apply(AllocationPanel.Apply(draft))
                if self.sim.decision == draft:
                    proceed()
            elif choice == "d":
                panel.discard_draft()
                proceed()

        self.push_screen(
            ChoiceDialog(
                f"A draft allocation is not applied ({safe(self._describe_change(draft))}).\n"
                f"Apply it before you {what}?",
                [("y", "y Apply and go on"), ("d", "d Discard the draft, use the policy"), ("c", "esc Cancel")],
            ),
            answer,
        )
        return True

    def action_step(self) -> None:
        """Simulate one period with the policy's decision (asks first about an
        unapplied draft allocation)."""
        if not self._can("step", "step"):
            return
        if not self._ask_about_draft("step", self._step_now):
            self._step_now()

    def _step_now(self) -> None:
        if self.sim is None or self.busy:
            return
        if self.sim.period >= self.sim.horizon:
            self.notify(f"Beyond the horizon ({self.sim.horizon}): stepping anyway", severity="information")
        summary = self.sim.step()
        self.dirty = True
        self.note(self._step_line(summary))
        self._autosave()
        self.refresh_all()

    def _step_line(self, summary: dict) -> str:
        from ..format import fmt

        return (
            f"Period {self.sim.period}: MRR {fmt(summary['mrr']['mean'])} (P10 {fmt(summary['mrr']['p10'])}, "
            f"P90 {fmt(summary['mrr']['p90'])}), cash {fmt(summary['cash']['mean'])}, policy {self.sim.policy_name}"
        )

    def action_run_horizon(self) -> None:
        """Run to the horizon with the policy, in a worker (x cancels)."""
        if not self._can("run", "run_horizon"):
            return
        if not self._ask_about_draft("run to the horizon", self._run_now):
            self._run_now()

    def _run_now(self) -> None:
        if self.sim is None or self.busy:
            return
        steps = self.sim.horizon - self.sim.period
        if steps <= 0:
            self.notify(f"Already at the horizon (Period {self.sim.period}); n steps beyond it", severity="information")
            return
        self.busy = "running"
        self._stable = None  # the live run stays consistent between periods: save it as it goes
        self._run_stop.clear()
        self.note(f"running {steps} periods to the horizon with policy {self.sim.policy_name} (x cancels)")
        self.refresh_bindings()
        self.refresh_all()
        self._run_worker(steps)

    @work(thread=True, exit_on_error=False, group="sim")
    def _run_worker(self, steps: int) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        last = [0.0]

        def on_step(period: int, summary: Any) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.1:
                last[0] = now
                self.post_message(RunProgress(period))

        try:
            self.sim.run(steps, on_step=on_step, should_stop=lambda: worker.is_cancelled or self._run_stop.is_set())
            self.post_message(RunProgress(self.sim.period, done=True))
        except Exception as exc:
            self.post_message(RunProgress(self.sim.period, done=True, error=self._describe_error(exc, None)))

    @on(RunProgress)
    def _run_progress(self, message: RunProgress) -> None:
        if not message.done:
            self.dirty = True  # periods simulated and not saved yet: quitting asks
            screen = self._main_screen()
            if screen is not None:
                screen.query_one(StatusHeader).show(self.status_info())
                screen.query_one(KpiTable).show(list(self.sim.history))
            return
        self.busy = ""
        self.dirty = True
        stopped = self._run_stop.is_set()
        if message.error:
            self.error_dialog("The run stopped", f"{message.error}\n\nThe periods simulated so far are kept.")
        else:
            self.note(f"run {'cancelled' if stopped else 'finished'} at Period {message.period}")
            if self.sim.history:
                self.note(self._step_line(self.sim.history[-1]))
        self._autosave()
        self.refresh_bindings()
        self.refresh_all()
        self._drain_queue()

    def action_undo(self) -> None:
        """Undo the last period (re-simulates the earlier decisions)."""
        if not self._can("undo", "undo"):
            return
        if not self.sim.decisions:
            self.notify("Nothing to undo: Period 0", severity="warning")
            return
        period = self.sim.period
        self._sim_job(lambda sim: sim.undo(1), f"undo Period {period}", "undoing")

    def _sim_job(self, fn: Callable[[Any], Any], label: str, busy: str) -> None:
        """Run ``fn(sim)`` in the sim worker (replays can take a while), then refresh.

        The state before the job is kept (:func:`stratsim.engine.session.snapshot`) for a
        signal autosave while the worker replays."""
        from ..engine import session as store

        self._stable = store.snapshot(self.sim)
        self.busy = busy
        self.refresh_bindings()
        if isinstance(self.screen, MainScreen):
            self.query_one(StatusHeader).show(self.status_info())
        self._sim_worker(fn, label)

    # Not exclusive: ``busy`` already keeps it to one job at a time, and an exclusive start
    # from a queued key would cancel the job that is just reporting its end.
    @work(thread=True, exit_on_error=False, group="sim")
    def _sim_worker(self, fn: Callable[[Any], Any], label: str) -> None:
        try:
            fn(self.sim)
            self.call_from_thread(self._sim_job_done, label, None)
        except Exception as exc:
            self.call_from_thread(self._sim_job_done, label, self._describe_error(exc, None))

    def _sim_job_done(self, label: str, error: str | None) -> None:
        self.busy = ""
        self._stable = None
        self._baseline_cache = None
        if error:
            self.error_dialog(f"Could not {label}", f"{error}\n\nThe simulation is as it was before.")
            if self.queued:
                self._ignore_queue(f"could not {label}")
        else:
            self.dirty = True
            self.note(f"{label}: now Period {self.sim.period}")
            self._autosave()
        self.refresh_bindings()
        self.refresh_all()
        self._drain_queue()

    def action_cycle_policy(self) -> None:
        """Switch policy: manual -> fixed -> feedback -> manual."""
        if not self._can("switch policy", "cycle_policy"):
            return
        current = self.sim.policy_name
        nxt = POLICY_CYCLE[(POLICY_CYCLE.index(current) + 1) % len(POLICY_CYCLE)] if current in POLICY_CYCLE else "fixed"
        self.sim.set_policy(nxt)
        self.dirty = True
        self._baseline_cache = None
        self.note(f"policy {current} -> {nxt}")
        self.refresh_all()

    # ---------------------------------------------------------------- training
    def action_train(self) -> None:
        """Choose a model and data, then train in a worker."""
        if self.sim is None:
            self.notify("The engine is still loading", severity="warning")
            return
        if self.training:
            self.notify("Training already running: x cancels it", severity="warning")
            return
        from .screens.train_dialog import TrainDialog

        def chosen(request: Any) -> None:
            if request is not None:
                self.start_training(request)

        self.push_screen(TrainDialog(epochs=self.options.train_epochs, seed=self.options.seed, device=self.options.device), chosen)

    def models_dir(self) -> Path:
        if self.options.models_dir is not None:
            return self.options.models_dir
        base = self.session_path.resolve().parent if self.session_path is not None else Path.cwd()
        return base / "models"

    def start_training(self, request: Any) -> None:
        """Start training ``request`` (a TrainRequest) in the training worker."""
        self.training = True
        self._train_stop.clear()
        # Hand the GIL over more often while the training thread runs (default 5 ms):
        # key presses then wait ~1 ms for the interpreter instead of ~5 ms per handoff.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)
        screen = self._main_screen()
        if screen is not None:
            screen.query_one(TabbedContent).active = "tab-training"
            screen.query_one(TrainingPane).begin(request.label)
        self.note(f"training {printable(request.label)} (max {request.epochs} epochs; x cancels)")
        self.refresh_bindings()
        self.refresh_all(keep_draft=True)
        self._train_worker(request, self.models_dir())

    @work(thread=True, exclusive=True, exit_on_error=False, group="training")
    def _train_worker(self, request: Any, models_dir: Path) -> None:
        from textual.worker import get_current_worker

        from .training_job import Coalescer, run_training

        worker = get_current_worker()
        coalesce = Coalescer(lambda events: self.post_message(TrainUpdate(events)))
        stop = self._train_stop
        try:
            outcome = run_training(request, models_dir, coalesce, stop)
            coalesce.flush()
            self.post_message(TrainFinished(outcome, cancelled=outcome.cancelled or worker.is_cancelled))
        except Exception as exc:
            coalesce.flush()
            self.post_message(TrainFinished(error=self._describe_error(exc, request.data_path)))

    @on(TrainUpdate)
    def _train_update(self, message: TrainUpdate) -> None:
        screen = self._main_screen()
        if screen is not None:
            screen.query_one(TrainingPane).apply_events(message.events)

    @on(TrainFinished)
    def _train_finished(self, message: TrainFinished) -> None:
        self.training = False
        sys.setswitchinterval(self._switch_interval)
        screen = self._main_screen()
        pane = screen.query_one(TrainingPane) if screen is not None else None
        self.refresh_bindings()
        if message.error:
            if pane is not None:
                pane.finish(f"failed: {message.error}", progress_full=False)
            self.error_dialog(
                "Training failed",
                f"{message.error}\n\nThe simulation keeps its current model. Check the data file, "
                "the column mapping and the target, or train on the sample data (leave the path empty).",
            )
            self.refresh_all(keep_draft=True)
            return
        outcome = message.outcome
        if message.cancelled:
            if pane is not None:
                pane.finish("cancelled: the simulation keeps its current model", progress_full=False)
            self.note(f"training {outcome.request.label} cancelled after {outcome.epochs_run} epochs; model unchanged", "warning")
            self.refresh_all(keep_draft=True)
            return
        metrics = outcome.metrics_text()
        coef = ""
        if outcome.coefficients:
            coef = "\ncoefficients: " + "  ".join(f"{k} {v:.3g}" for k, v in outcome.coefficients.items())
        ended = "early-stopped" if outcome.stopped_early else "done"
        text = f"{ended} after {outcome.epochs_run} epochs in {outcome.seconds:.1f}s; test {metrics}{coef}"
        if outcome.saved is not None:
            text += f"\nsaved {outcome.saved.weights}"
        if pane is not None:
            pane.finish(text, progress_full=True)
        for w in outcome.warnings:
            self.note(w, "warning")
        self.note(f"trained {outcome.request.label}: test {metrics}")
        role = outcome.request.role
        model = outcome.model
        label = self._model_label(model)
        for w in self.sim.model_warnings_with(**{role: model}):
            self.note(w, "warning")

        from .screens.adopt_dialog import offer_model

        offer_model(self, role, model, str(outcome.saved.weights) if outcome.saved is not None else label)

    def action_advise(self) -> None:
        """Open the Advise tab (optimizer, frontier, copy to draft)."""
        from .advise import open_advise

        open_advise(self)

    def on_advise_progress(self, message: Any) -> None:
        from .advise import AdvisePane

        screen = self._main_screen()
        if screen is not None:
            screen.query_one(AdvisePane).apply(message)

    def action_cancel(self) -> None:
        """Cancel training and/or the run to the horizon."""
        if self.training:
            self._train_stop.set()
            self.note("cancelling training…")
        if self.busy == "running":
            self._run_stop.set()
            self.note("cancelling the run…")

    # ---------------------------------------------------------------- sessions
    def action_save(self) -> None:
        """Save to the session file (asks for a name the first time)."""
        if not self._can("save"):
            return
        if self.session_path is None:
            self.action_save_as()
            return
        self.save_to(self.session_path)

    def save_to(self, path: Path, then: Callable[[], Any] | None = None, *, replace: bool = False) -> bool:
        """Save the session to ``path``; on error show it and keep everything as is.

        Trained models outside ``path``'s folder are copied beside it first
        (:func:`stratsim.engine.relocate.bring_models`), so the saved session opens again.
        ``replace``: the operator confirmed replacing a file that is not this session
        (passed on as the store's ``force`` where the store refuses such files).
        """
        from ..engine import session as store
        from ..engine.relocate import bring_models

        moved: list[tuple[Path, Path]] = []
        try:
            moved = bring_models(self.sim, path)
            store.save_session(self.sim, path, name=self.session_name, created=self.session_created, force=replace)
        except Exception as exc:
            for model in (self.sim.satisfaction_model, self.sim.incident_model):
                for src, dest in moved:
                    if getattr(model, "path", None) == dest.resolve():
                        model.path = src
            self.error_dialog("Not saved", f"{self._describe_error(exc, path)}\n\nChoose another file with a (save as).")
            return False
        for src, dest in moved:
            self.note(f"copied the model {printable(src)} to {printable(dest)} (beside the session)")
        if self._claim is not None and self.options.autosave:
            with contextlib.suppress(OSError):
                self._claim.path.unlink(missing_ok=True)  # only this instance's own autosave
        self.session_path = Path(path)
        self._take_claim()
        self.dirty = False
        self.note(f"saved {printable(path)} (Period {self.sim.period})")
        if moved:
            self.notify(f"Saved; {len(moved)} model file(s) copied beside it so it opens again", timeout=6)
        self._install_signal_autosave()
        self.refresh_all(keep_draft=True)
        if then is not None:
            then()
        return True

    @staticmethod
    def existing_file_note(path: Path) -> str | None:
        """Why saving to ``path`` needs a confirmation (None: nothing there to lose): what
        the engine's output check says (a link, a file that is not a session), or that
        it is another stratsim session."""
        from ..engine import session as store
        from ..engine.errors import StratsimError
        from ..engine.fileio import output_problem, read_toml

        if not path.exists() and not path.is_symlink():
            return None
        shown = safe(shorten_path(path, 60))
        problem = output_problem(path, store.SESSION_FILE)
        if problem is not None:
            return f"{shown} {safe(problem)}."
        try:
            doc = read_toml(path, StratsimError, "session")
        except StratsimError:
            return None  # an empty file or a stream: nothing to lose
        meta, run = doc.get("meta"), doc.get("run")
        if isinstance(meta, dict):
            period = run.get("period", "?") if isinstance(run, dict) else "?"
            return f"{shown} is another stratsim session ({safe(meta.get('name', '?'))}, Period {safe(period)})."
        return None

    def action_save_as(self, then: Callable[[], Any] | None = None) -> None:
        """Ask for a file name and save there (asks before replacing another file)."""
        if not self._can("save"):
            return
        initial = str(self.session_path) if self.session_path else str(Path.cwd() / "session.toml")

        def chosen(path: Path | None) -> None:
            if path is None:
                return
            if path.suffix == "":
                path = path.with_suffix(".toml")
            if path.is_dir() or not path.parent.is_dir():
                self.push_screen(FileDialog("Save session as", str(path), error=f"{path}: the folder {path.parent} does not exist (or it is a folder); choose another path"), chosen)
                return
            same = self.session_path is not None and path.resolve() == Path(self.session_path).resolve() and not path.is_symlink()
            why = None if same else self.existing_file_note(path)
            if why is None:
                self.save_to(path, then)
                return

            def confirm(choice: str | None) -> None:
                if choice == "r":
                    self.save_to(path, then, replace=True)
                elif choice == "o":
                    self.push_screen(FileDialog("Save session as", str(path)), chosen)

            self.push_screen(
                ChoiceDialog(f"{why}\nReplace it with this session?", [("r", "r Replace"), ("o", "o Other name"), ("c", "esc Cancel")]),
                confirm,
            )

        self.push_screen(FileDialog("Save session as", initial), chosen)

    def action_open(self) -> None:
        """Open a session file (asks first if there are unsaved changes)."""
        if self.busy:
            self.notify(f"Cannot open while {self.busy}", severity="warning")
            return

        def pick() -> None:
            def chosen(path: Path | None) -> None:
                if path is None:
                    return
                if not path.is_file():
                    self.push_screen(FileDialog("Open session", str(path), error=f"{path}: no such file"), chosen)
                    return
                self.note(f"opening {printable(path)}")
                self.busy = "loading"
                self.refresh_all(keep_draft=True)
                self._load_engine(path)

            self.push_screen(FileDialog("Open session", str(self.session_path.parent if self.session_path else Path.cwd()) + "/"), chosen)

        self._confirm_discard("Open another session", pick)

    def _confirm_discard(self, what: str, proceed: Callable[[], Any]) -> None:
        """Call ``proceed`` now when nothing would be lost; otherwise ask: save first,
        discard, or cancel. A run, replay or training in progress always asks (it is
        stopped first, then saved or not)."""
        working = ", ".join(x for x in (self.busy, "training" if self.training else "") if x)
        if not self.dirty and not working:
            proceed()
            return

        def save_then(after: Callable[[], Any]) -> None:
            if self.session_path is None:
                self.action_save_as(then=after)
            else:
                self.save_to(self.session_path, then=after)

        def answer(choice: str | None) -> None:
            if choice not in ("s", "d"):
                return
            if self.queued:
                self._ignore_queue(what.lower())
            if (self.busy or self.training) and not (choice == "d" and proceed == self._quit_now):
                # (quit and discard: nothing to wait for; _quit_now stops what runs and
                # bounds the exit, so a replay at 1M paths that cannot stop mid-period
                # does not hold the terminal for half a minute)
                self._run_stop.set()
                self._train_stop.set()
                self.note(f"stopping ({working}) before: {what.lower()}")
                self._when_idle.append(lambda: save_then(proceed) if choice == "s" else (self._discard_changes(), proceed()))
                self._wait_idle()
            elif choice == "s":
                save_then(proceed)
            else:
                self._discard_changes()
                proceed()

        def question() -> str:  # computed again while shown: a run goes on behind it
            working = ", ".join(x for x in (self.busy, "training" if self.training else "") if x)
            period = self.sim.period if self.sim is not None else 0
            state = f"is {safe(working)} (Period {period}); it will be stopped" if working else f"has unsaved changes (Period {period})"
            return f"{what}: the session [b]{safe(self.session_label())}[/b] {state}."

        self.push_screen(
            ChoiceDialog(question(), [("s", "s Save first"), ("d", "d Discard changes"), ("c", "esc Cancel")], live=question),
            answer,
        )

    def _wait_idle(self) -> None:
        """Run the ``_when_idle`` callbacks once no job or training runs (checked every
        0.1 s: stopping a run or training takes at most a period or a batch)."""
        if self.busy or self.training or not self._when_idle:
            if self._when_idle:
                self.set_timer(0.1, self._wait_idle)
            return
        while self._when_idle:
            self._when_idle.pop(0)()

    async def action_quit(self) -> None:
        """Textual's own quit (ctrl+q, the palette's "Quit"): ask like ``q`` does."""
        self.action_quit_app()

    def action_quit_app(self) -> None:
        """Quit; asks to save when there are unsaved changes or a job runs."""
        self._confirm_discard("Quit", self._quit_now)

    def _quit_now(self) -> None:
        self._train_stop.set()
        self._run_stop.set()
        self._stop_advise()
        if self.sim is not None and not self.dirty and self.options.autosave and self._claim is not None:
            with contextlib.suppress(OSError):
                self._claim.path.unlink(missing_ok=True)  # only this instance's own autosave
        if any(w.is_running for w in self.workers) and not self.is_headless:
            # a worker thread (an optimization's last evaluation, a replay at 1M paths)
            # can run for many seconds after it is told to stop, and Python waits for it
            # before the process ends: bound the exit like the signal path does
            terminal.exit_within(0, EXIT_GRACE_S)
        self.exit()

    def _stop_advise(self) -> None:
        """Tell a running optimization (the Advise tab) to stop."""
        screen = self._main_screen()
        if screen is None:
            return
        from .advise import AdvisePane

        for pane in screen.query(AdvisePane):
            pane.stop_event.set()

    def _discard_changes(self) -> None:
        """The operator chose "Discard changes": nothing is unsaved any more, and this
        instance's autosave (which holds exactly those changes) is removed, so it is not
        offered for recovery at the next start."""
        self.dirty = False
        if self._claim is not None:
            with contextlib.suppress(OSError):
                self._claim.path.unlink(missing_ok=True)  # only this instance's own autosave

    # ---------------------------------------------------------------- branches
    def action_branch(self) -> None:
        """Keep the current run as a named branch, or compare / restore one."""
        if not self._can("branch"):
            return
        from .branches import branch_action

        branch_action(self)

    # ---------------------------------------------------------------- help
    def help_rows(self) -> list[tuple[str, str, str]]:
        return binding_rows(
            ("main", MAIN_BINDINGS),
            ("value", ValueInput.BINDINGS + [("+", "", "Step up"), ("-", "", "Typed (a minus sign; never a step)"), ("enter", "", "Apply the draft"), ("tab", "", "Next value")]),
            ("app", [("ctrl+p", "command_palette", "Command palette (every action)"), ("left/right", "", "Switch tab (tab bar focused)")]),
        )

    def action_help(self) -> None:
        """List every key binding."""
        notes = (
            "Allocation: tab into a value, change it with up/down or +, or type a number "
            "(- is always typed: -3 is refused as negative); "
            "the Run tab previews the next period (Δ vs the policy's decision); enter applies "
            "it (policy becomes manual), esc discards and leaves the value so letters work again.\n"
            "Dialogs: tab moves, enter confirms, esc cancels. Training: t, pick 1-4, enter.\n"
            "Over SSH: works without a mouse; --theme ansi-dark uses the terminal's colours."
        )
        self.push_screen(HelpScreen(self.help_rows(), notes))

    def get_system_commands(self, screen):
        _import_ui()
        yield from super().get_system_commands(screen)
        for b in MAIN_BINDINGS:
            action = b.action.removeprefix("app.")
            method = getattr(self, f"action_{action}")
            yield SystemCommand(f"{b.description} ({b.key_display or b.key})", b.tooltip or b.description, method)
