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
(:mod:`stratsim.tui.messages`), throttled to about 10 per second.

Environment: ``STRATSIM_EXIT_ON_READY=1`` exits right after the first frame (the splash screen) (used by
``bench/bench_tui.py`` to time startup); ``STRATSIM_EXIT_ON_READY=engine`` exits once
the engine is loaded.
"""

from __future__ import annotations

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

from .bindings import MAIN_BINDINGS
from .messages import EngineFailed, EngineReady, RunProgress, TrainFinished, TrainUpdate
from .screens.splash import SplashScreen
from .widgets.status import StatusHeader, StatusInfo

if TYPE_CHECKING:
    from textual.widgets import RichLog, TabbedContent

    from .screens.dialogs import BranchDialog, ChoiceDialog, FileDialog, MessageDialog
    from .screens.help import HelpScreen, binding_rows
    from .screens.main import MainScreen
    from .widgets.allocation import AllocationPanel, ValueInput
    from .widgets.charts import HistoryCharts
    from .widgets.compare import ComparePane
    from .widgets.kpis import KpiTable, PreviewTable
    from .widgets.training import TrainingPane


def _import_ui() -> None:
    """Import the screens and widgets into this module. Called right after the first
    frame (the splash screen), so they do not delay it."""
    global BranchDialog, ChoiceDialog, FileDialog, MessageDialog, HelpScreen, binding_rows
    global MainScreen, AllocationPanel, ValueInput, HistoryCharts, ComparePane, KpiTable
    global PreviewTable, TrainingPane, RichLog, TabbedContent
    from textual.widgets import RichLog, TabbedContent

    from .screens.dialogs import BranchDialog, ChoiceDialog, FileDialog, MessageDialog
    from .screens.help import HelpScreen, binding_rows
    from .screens.main import MainScreen
    from .widgets.allocation import AllocationPanel, ValueInput
    from .widgets.charts import HistoryCharts
    from .widgets.compare import ComparePane
    from .widgets.kpis import KpiTable, PreviewTable
    from .widgets.training import TrainingPane

POLICY_CYCLE = ("manual", "fixed", "feedback")
UNTITLED = "untitled.toml"


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
        autosave: autosave after every period (beside the session, or ``./untitled.autosave.toml``).
        check_recovery: offer a newer autosave for recovery on start.
        train_epochs: maximum epochs proposed in the training dialog.
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


class StratsimApp(App):
    """The terminal UI. See the module docstring."""

    CSS_PATH = "stratsim.tcss"
    TITLE = "stratsim"
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, options: TuiOptions | None = None) -> None:
        super().__init__()
        self.options = options or TuiOptions()
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
        if self.options.theme:
            self.theme = self.options.theme

    # ================================================================ lifecycle
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

    def session_label(self) -> str:
        if self.session_name:
            return self.session_name
        return self.session_path.stem if self.session_path else "untitled"

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
            return StatusInfo(session=self.session_label(), loading=True)
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
        )

    @staticmethod
    def _model_label(model: Any) -> str:
        return getattr(model, "description", type(model).__name__)

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
                    recovery = store.find_recovery(path)
                if Path(path).exists() or recovery is None:
                    loaded = store.load_session(path, device=None if self.options.device == "auto" else self.options.device)
                    notes += loaded.warnings + loaded.simulation.model_warnings()
                    self.post_message(EngineReady(loaded.simulation, Path(path), {}, notes, recovery, meta=loaded.meta))
                    return
            sim = self._new_simulation()
            if startup and path is None and self.options.check_recovery:
                recovery = store.find_recovery(Path.cwd() / UNTITLED)
            self.post_message(EngineReady(sim, path, {}, notes, recovery))
        except Exception as exc:  # shown to the user; the current session stays
            self.post_message(EngineFailed(self._describe_error(exc, path), startup=startup, path=path))

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
        from ..engine.errors import StratsimError

        if isinstance(exc, StratsimError):
            return str(exc)
        where = f"{path}: " if path else ""
        return f"{where}{type(exc).__name__}: {exc}"

    @on(EngineReady)
    def _engine_ready(self, message: EngineReady) -> None:
        from ..engine.kpi import KPIS

        self._kpi_labels = {k: v[0] for k, v in KPIS.items()}
        first = not self.engine_ready
        self.sim = message.sim
        self.engine_ready = True
        self.busy = ""
        self.session_path = message.session_path
        meta = getattr(message, "meta", None)
        self.session_name = meta.name if meta is not None else None
        self.session_created = meta.created if meta is not None else None
        self.dirty = bool(getattr(message, "unsaved", False))
        self._baseline_cache = None
        for line in message.notes:
            self.note(line, "warning")
        where = f"opened {message.session_path}" if message.session_path else "new session on the default scenario" if self.options.scenario is None else f"new session on {self.options.scenario}"
        self.note(f"engine ready: {where}; Period {self.sim.period}/{self.sim.horizon}, {self.sim.n_paths} paths on {self.sim.device}")
        self._install_signal_autosave()
        self.refresh_bindings()
        self.refresh_all()
        if os.environ.get("STRATSIM_EXIT_ON_READY") == "engine":
            self.exit()
            return
        if first and message.recovery is not None:
            self._offer_recovery(Path(message.recovery))

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
        if self.sim is None:
            self.error_dialog("Cannot start the engine", f"{message.error}\n\nCheck --scenario/--device, then restart.")
            return
        self.error_dialog("Cannot open the session", f"{message.error}\n\nYour current session is unchanged.")
        self.refresh_all()

    def _offer_recovery(self, autosave: Path) -> None:
        def answer(choice: str | None) -> None:
            if choice == "y":
                self.note(f"recovering {autosave}")
                self.busy = "loading"
                self._open_recovery(autosave)
            else:
                self.note(f"autosave {autosave} not recovered (it stays on disk)")

        self.push_screen(
            ChoiceDialog(
                f"An autosave newer than the session was found:\n{autosave}\n"
                f"(saved {time.strftime('%Y-%m-%d %H:%M', time.localtime(autosave.stat().st_mtime))}). Recover it?",
                [("y", "y Recover"), ("n", "n Ignore")],
            ),
            answer,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine")
    def _open_recovery(self, autosave: Path) -> None:
        try:
            from ..engine import session as store

            loaded = store.load_session(autosave)
            target = self.session_path  # keep saving to the real session file
            notes = [*loaded.warnings, f"recovered from {autosave}: save (s) to keep it in the session file"]
            self.post_message(EngineReady(loaded.simulation, target, {}, notes, None, meta=loaded.meta, unsaved=True))
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
                lambda: self.sim, self._autosave_target(), on_saved=self._on_signal_saved
            )
        except ValueError:  # not the main thread (e.g. some embedders)
            self._signal_guard = None

    def _on_signal_saved(self, signum: int) -> None:
        self._train_stop.set()
        self._run_stop.set()
        self.exit(return_code=128 + signum)

    def _autosave_target(self) -> Path:
        return self.session_path if self.session_path is not None else Path.cwd() / UNTITLED

    def _autosave(self) -> None:
        if not self.options.autosave or self.sim is None:
            return
        from ..engine import session as store

        try:
            store.autosave(self.sim, self._autosave_target(), name=self.session_name, created=self.session_created)
        except Exception as exc:
            self.note(f"autosave failed: {exc}", "warning")

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
        branch = self.branches.get(self.compare_with) if self.compare_with else None
        screen.query_one(ComparePane).show(history, branch, list(self.branches))

    def _update_preview(self, draft: Any) -> None:
        """Preview the next period under ``draft`` and under the policy's decision."""
        sim = self.sim
        screen = self._main_screen()
        if sim is None or screen is None or self.busy:
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
        if action in sim_actions:
            if self.sim is None:
                return None  # shown dimmed until the engine is ready
            if self.busy and action != "train":
                return None
        return True

    def _can(self, what: str) -> bool:
        if self.sim is None:
            self.notify(f"Cannot {what} yet: the engine is still loading", severity="warning")
            return False
        if self.busy:
            self.notify(f"Cannot {what} while {self.busy}: wait, or press x to cancel", severity="warning")
            return False
        return True

    def action_step(self) -> None:
        """Simulate one period with the policy's decision."""
        if not self._can("step"):
            return
        panel = self.screen.query_one(AllocationPanel) if isinstance(self.screen, MainScreen) else None
        if panel is not None and panel.has_draft:
            self.note("draft allocation not applied (press enter in a value to apply it); stepping with the policy's decision", "warning")
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
        if not self._can("run"):
            return
        steps = self.sim.horizon - self.sim.period
        if steps <= 0:
            self.notify(f"Already at the horizon (Period {self.sim.period}); n steps beyond it", severity="information")
            return
        self.busy = "running"
        self._run_stop.clear()
        self.note(f"running {steps} periods to the horizon with policy {self.sim.policy_name} (x cancels)")
        self.refresh_bindings()
        self.refresh_all()
        self._run_worker(steps)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sim")
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

    def action_undo(self) -> None:
        """Undo the last period (re-simulates the earlier decisions)."""
        if not self._can("undo"):
            return
        if not self.sim.decisions:
            self.notify("Nothing to undo: Period 0", severity="warning")
            return
        period = self.sim.period
        self._sim_job(lambda sim: sim.undo(1), f"undo Period {period}", "undoing")

    def _sim_job(self, fn: Callable[[Any], Any], label: str, busy: str) -> None:
        """Run ``fn(sim)`` in the sim worker (replays can take a while), then refresh."""
        self.busy = busy
        self.refresh_bindings()
        if isinstance(self.screen, MainScreen):
            self.query_one(StatusHeader).show(self.status_info())
        self._sim_worker(fn, label)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sim")
    def _sim_worker(self, fn: Callable[[Any], Any], label: str) -> None:
        try:
            fn(self.sim)
            self.call_from_thread(self._sim_job_done, label, None)
        except Exception as exc:
            self.call_from_thread(self._sim_job_done, label, self._describe_error(exc, None))

    def _sim_job_done(self, label: str, error: str | None) -> None:
        self.busy = ""
        self._baseline_cache = None
        if error:
            self.error_dialog(f"Could not {label}", f"{error}\n\nThe simulation is as it was before.")
        else:
            self.dirty = True
            self.note(f"{label}: now Period {self.sim.period}")
            self._autosave()
        self.refresh_bindings()
        self.refresh_all()

    def action_cycle_policy(self) -> None:
        """Switch policy: manual -> fixed -> feedback -> manual."""
        if not self._can("switch policy"):
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
        self.note(f"training {request.label} (max {request.epochs} epochs; x cancels)")
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

        def use(sim: Any) -> None:
            if role == "satisfaction":
                sim.set_models(satisfaction=model)
            else:
                sim.set_models(incident=model)

        self._sim_job(use, f"use the {role} model {label}", "re-simulating with the new model")

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

    def save_to(self, path: Path, then: Callable[[], Any] | None = None) -> bool:
        """Save the session to ``path``; on error show it and keep everything as is."""
        from ..engine import session as store

        try:
            store.save_session(self.sim, path, name=self.session_name, created=self.session_created)
        except Exception as exc:
            self.error_dialog("Not saved", f"{self._describe_error(exc, path)}\n\nChoose another file with a (save as).")
            return False
        old_auto = self._autosave_target()
        self.session_path = Path(path)
        try:
            store.discard_autosave(old_auto)
            store.discard_autosave(path)
        except OSError:
            pass
        self.dirty = False
        self.note(f"saved {path} (Period {self.sim.period})")
        self._install_signal_autosave()
        self.refresh_all(keep_draft=True)
        if then is not None:
            then()
        return True

    def action_save_as(self, then: Callable[[], Any] | None = None) -> None:
        """Ask for a file name and save there."""
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
            self.save_to(path, then)

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
                self.note(f"opening {path}")
                self.busy = "loading"
                self.refresh_all(keep_draft=True)
                self._load_engine(path)

            self.push_screen(FileDialog("Open session", str(self.session_path.parent if self.session_path else Path.cwd()) + "/"), chosen)

        self._confirm_discard("Open another session", pick)

    def _confirm_discard(self, what: str, proceed: Callable[[], Any]) -> None:
        if not self.dirty:
            proceed()
            return

        def answer(choice: str | None) -> None:
            if choice == "s":
                if self.session_path is None:
                    self.action_save_as(then=proceed)
                else:
                    self.save_to(self.session_path, then=proceed)
            elif choice == "d":
                proceed()

        self.push_screen(
            ChoiceDialog(
                f"{what}: the session [b]{self.session_label()}[/b] has unsaved changes (Period {self.sim.period}).",
                [("s", "s Save first"), ("d", "d Discard changes"), ("c", "esc Cancel")],
            ),
            answer,
        )

    async def action_quit(self) -> None:
        """Textual's own quit (ctrl+q, the palette's "Quit"): ask like ``q`` does."""
        self.action_quit_app()

    def action_quit_app(self) -> None:
        """Quit; asks to save when there are unsaved changes."""
        self._confirm_discard("Quit", self._quit_now)

    def _quit_now(self) -> None:
        self._train_stop.set()
        self._run_stop.set()
        if self.sim is not None and not self.dirty and self.options.autosave:
            try:
                from ..engine import session as store

                store.discard_autosave(self._autosave_target())
            except OSError:
                pass
        self.exit()

    # ---------------------------------------------------------------- branches
    def action_branch(self) -> None:
        """Keep the current run as a named branch, or compare / restore one."""
        if not self._can("branch"):
            return
        from .branches import Branch

        suggested = f"p{self.sim.period}-{self.sim.policy_name}"

        def chosen(answer: tuple[str, str] | None) -> None:
            if answer is None:
                return
            what, name = answer
            if what == "keep":
                self.branches[name] = Branch.of(name, self.sim)
                self.compare_with = name
                self.note(f"kept branch {name} at Period {self.sim.period}")
                self.screen.query_one(TabbedContent).active = "tab-compare"
            elif what == "compare":
                self.compare_with = name
                self.screen.query_one(TabbedContent).active = "tab-compare"
            elif what == "restore":
                branch = self.branches[name]
                self._sim_job(lambda sim: sim.replay(list(branch.decisions)), f"restore branch {name}", "restoring")
            self.refresh_all(keep_draft=True)

        self.push_screen(BranchDialog(list(self.branches), suggested), chosen)

    # ---------------------------------------------------------------- help
    def help_rows(self) -> list[tuple[str, str, str]]:
        return binding_rows(
            ("main", MAIN_BINDINGS),
            ("value", ValueInput.BINDINGS + [("+", "", "Step up"), ("-", "", "Step down"), ("enter", "", "Apply the draft"), ("tab", "", "Next value")]),
            ("app", [("ctrl+p", "command_palette", "Command palette (every action)"), ("left/right", "", "Switch tab (tab bar focused)")]),
        )

    def action_help(self) -> None:
        """List every key binding."""
        notes = (
            "Allocation: tab into a value, change it with up/down or +/-, or type a number; "
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
