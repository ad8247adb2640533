"""The main screen: status header, tabs (Run, KPIs, Charts, Training, Advise, Compare,
Sensitivity, Log) and the footer of key bindings. It owns the simulation actions (step,
run, undo, policy, branch, train, advise), the queue of keys pressed while busy, and
the panes (:class:`~stratsim.tui.panes.Panes`, with the preview cache).

Bindings live on this screen (not the App) and are not priority bindings, so a focused
Input takes the letters and digits being typed and they never fire an action; ``escape``
leaves an input. They are inactive while a dialog is open (dialogs are other screens).
Long jobs run in thread workers on the App (:mod:`stratsim.tui.sim_jobs`).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.lazy import Lazy
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static, TabbedContent, TabPane

from ...engine.policies import POLICIES
from ..advise import AdvisePane
from ..bindings import FOOTER_OPTIONAL, MAIN_BINDINGS, TABS
from ..draft import DraftActions
from ..messages import RunProgress, SimJobDone, TrainFinished, TrainUpdate
from ..panes import PREVIEW_LOADING, Panes
from ..sim_jobs import SimJobs
from ..text import printable
from ..widgets.allocation import AllocationPanel
from ..widgets.charts import HistoryCharts
from ..widgets.compare import ComparePane
from ..widgets.kpis import KpiTable, PreviewTable
from ..widgets.sensitivity import SensitivityPane
from ..widgets.status import StatusHeader
from ..widgets.training import TrainingPane

if TYPE_CHECKING:
    from textual.binding import ActiveBinding
    from textual.worker import Worker

    from ..advise import AdviseProgress
    from ..app import StratsimApp

__all__ = ["MAIN_BINDINGS", "MainScreen"]

#: Simulation keys queued (in order) when pressed while the engine loads or a job runs.
QUEUEABLE = ("step", "run_horizon", "undo", "cycle_policy")
#: At most this many queued keys; more are counted as ignored (and the header says so).
MAX_QUEUED = 100
#: Actions that need the simulation (dimmed until the engine is ready).
SIM_ACTIONS = ("step", "run_horizon", "undo", "cycle_policy", "branch", "train")
#: Left out of the footer after :data:`FOOTER_OPTIONAL` when it still does not fit.
FOOTER_LAST_RESORT = ("app.save_as", "app.save")
#: Shorter tab titles below :data:`NARROW` columns, so all eight tabs stay on the bar.
SHORT_TITLES = {"tab-training": "Train", "tab-sensitivity": "Sensit."}
NARROW = 70
#: The clock of Textual's event timestamps (``Message.time``): monotonic, or
#: perf_counter on Windows (textual._time).
_clock = time.perf_counter if sys.platform == "win32" else time.monotonic


class MainScreen(Screen):
    """The panes and the simulation actions (the App holds the simulation itself)."""

    BINDINGS = MAIN_BINDINGS
    app: StratsimApp

    def __init__(self) -> None:
        super().__init__()
        self.queued: list[str] = []  # simulation actions pressed while busy, in order
        self.ignored_keys = 0
        # The horizon stops a key flood: ``n`` pressed before the run reached the
        # horizon (queued while busy, or still in the input buffer) is dropped there.
        self.horizon_reached_at = 0.0  # _clock() when a step or run reached the horizon
        self.dropped_steps = 0  # dropped at the horizon, reported once per flood
        self.panes = Panes(self)
        self.draft = DraftActions(self)
        self.jobs = SimJobs(self)

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        with TabbedContent(id="tabs", initial="tab-run"):
            with TabPane("Run", id="tab-run"):
                yield Lazy(
                    Horizontal(
                        AllocationPanel(id="allocation"),
                        Vertical(
                            Static(PREVIEW_LOADING, id="preview-title"),
                            PreviewTable(id="preview"),
                            id="preview-box",
                        ),
                    )
                )
            # Panes mount just after the first frame (textual.lazy.Lazy): a faster start.
            with TabPane("KPIs", id="tab-kpis"):
                yield Lazy(Vertical(Static("", id="kpi-title"), KpiTable(id="kpis")))
            with TabPane("Charts", id="tab-charts"):
                yield Lazy(HistoryCharts(id="charts"))
            with TabPane("Training", id="tab-training"):
                yield Lazy(TrainingPane(id="training"))
            with TabPane("Advise", id="tab-advise"):
                yield Lazy(AdvisePane(id="advise"))
            with TabPane("Compare", id="tab-compare"):
                yield Lazy(ComparePane(id="compare"))
            with TabPane("Sensitivity", id="tab-sensitivity"):
                yield Lazy(SensitivityPane(id="sensitivity"))
            with TabPane("Log", id="tab-log"):
                yield Lazy(RichLog(id="log", max_lines=2000, wrap=True, markup=False))
        yield Footer(compact=True, show_command_palette=False)

    # ------------------------------------------------------------ typed parts
    @property
    def header(self) -> StatusHeader:
        return self.query_one(StatusHeader)

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one(TabbedContent)

    @property
    def log_pane(self) -> RichLog | None:
        """The Log pane, or None until it is mounted."""
        found = self.query("#log")
        return found.first(RichLog) if found else None

    @property
    def allocation(self) -> AllocationPanel:
        return self.query_one(AllocationPanel)

    @property
    def training_pane(self) -> TrainingPane:
        return self.query_one(TrainingPane)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The bindings the footer shows (key dispatch does not use this): the keys of
        :data:`~stratsim.tui.bindings.FOOTER_OPTIONAL` are left out, in that order, until
        the footer fits the screen's width, so Save, Save as, Help and Quit stay visible
        when a focused pane (Advise, Sensitivity) adds its own keys; on a narrower screen
        (60 columns) Save as, Save, then the pane's last keys go, and Help and Quit stay."""
        bindings = super().active_bindings
        app = self.app

        def width(shown: dict[str, ActiveBinding]) -> int:  # compact footer: "k Label "
            return sum(
                len(app.get_key_display(ab.binding)) + len(ab.binding.description) + 2
                for ab in shown.values()
                if ab.binding.show
            )

        for action in (*FOOTER_OPTIONAL, *FOOTER_LAST_RESORT):
            if width(bindings) <= self.size.width:
                break
            bindings = {
                k: ab
                for k, ab in bindings.items()
                if not (ab.node is self and ab.binding.action == action)
            }
        # still too wide (a pane's own keys at 60 columns): its last keys go; Help stays
        for key in reversed([k for k, ab in bindings.items() if ab.node is not self]):
            if width(bindings) <= self.size.width:
                break
            bindings = {k: ab for k, ab in bindings.items() if k != key}
        return bindings

    # ------------------------------------------------------------ lifecycle
    def on_key(self, event) -> None:
        """alt+letter outside a value (tmux/SSH glue a quick esc to the next key:
        ``\x1bn`` arrives as alt+n) is escape (nothing to leave here) then the letter."""
        if event.key.startswith("alt+") and len(event.key) == 5:
            event.stop()
            self.app.simulate_key(event.key[4:])

    def on_resize(self) -> None:
        """Below :data:`NARROW` columns the long tab titles get shorter (every tab stays
        visible on the tab bar)."""
        narrow = self.size.width < NARROW
        for tab, title in TABS:
            label = SHORT_TITLES.get(tab, title) if narrow else title
            tab_widget = self.tabs.get_tab(tab)
            if str(tab_widget.label) != label:
                tab_widget.label = label

    def on_mount(self) -> None:
        self.show_header()
        self.call_after_refresh(self.app.main_screen_shown)

    def show_header(self) -> None:
        """Draw the header from the app's state (called by the app's watchers too)."""
        self.header.show(self.app.status_info())

    def refresh_all(self, keep_draft: bool = False) -> None:
        """Re-render the header now and the panes right after the next frame."""
        self.show_header()
        self.panes.refresh(keep_draft)

    def sim_replaced(self) -> None:
        """A new simulation (engine ready, a session opened or recovered)."""
        self.panes.forget_preview()
        self.refresh_all()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "tab-charts":
            self.panes.show_charts()

    def action_show_tab(self, tab: str) -> None:
        """Show the tab ``tab`` (keys 1-8). Focus leaves any value field (digits then
        switch tabs again); on Advise it goes to the pane, whose keys then act."""
        if tab == "tab-advise":
            self.action_advise()
            return
        self.tabs.active = tab
        self.set_focus(None)

    # ------------------------------------------------------------ the draft
    def invalid_reason(self) -> str:
        """Why the typed allocation values are refused ("" when none is), for the header."""
        panels = self.query(AllocationPanel)
        return printable("; ".join(panels.first().invalid.values())) if panels else ""

    def on_allocation_panel_draft_changed(self, event: AllocationPanel.DraftChanged) -> None:
        self.show_header()
        self.panes.update_preview(event.decision)

    def on_allocation_panel_draft_invalid(self, event: AllocationPanel.DraftInvalid) -> None:
        self.show_header()
        self.panes.update_preview(None)

    def on_allocation_panel_apply(self, event: AllocationPanel.Apply) -> None:
        self.draft.apply(event.decision)

    # ------------------------------------------------------------ busy and the queue
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        app = self.app
        if action == "cancel":
            return bool(app.training or app.busy == "running")
        if action in QUEUEABLE:
            return True  # queued while the engine loads or a job runs (see can)
        if action in SIM_ACTIONS:
            if app.sim is None:
                return None  # shown dimmed until the engine is ready
            if app.busy and action != "train":
                return None
        return True

    def can(self, what: str, action: str | None = None) -> bool:
        """True when ``what`` can run now. Otherwise a simulation key (``action`` in
        :data:`QUEUEABLE`) is queued, in order, and runs once the app is idle; anything
        else is refused with a notification."""
        app = self.app
        if app.sim is not None and not app.busy:
            return True
        if action in QUEUEABLE:
            if len(self.queued) < MAX_QUEUED:
                self.queued.append(action)
            else:
                self.ignored_keys += 1
            self.show_header()
            return False
        if app.sim is None:
            app.notify(f"Cannot {what} yet: the engine is still loading", severity="warning")
            return False
        app.notify(
            f"Cannot {what} while {app.busy}: wait, or press x to cancel", severity="warning"
        )
        return False

    def drain_queue(self) -> None:
        """Run the queued simulation keys in order while the app stays idle (a key that
        starts a worker, undo or run, leaves the rest for when it is done)."""
        app = self.app
        if app.sim is None:
            return
        if app.screen is not self:  # a dialog first: try again after it
            if self.queued:
                self.set_timer(0.2, self.drain_queue)
            return
        while self.queued and not app.busy and app.screen is self:
            action = self.queued.pop(0)
            if action == "step" and self.stop_at_horizon():
                continue  # pressed while busy, before the run reached the horizon
            getattr(self, f"action_{action}")()
        if not self.queued:
            self.ignored_keys = 0
        self.show_header()
        app.call_later(app.run_idle_callbacks)

    def ignore_queue(self, why: str) -> None:
        n = len(self.queued) + self.ignored_keys
        self.queued.clear()
        self.ignored_keys = 0
        keys = f"{n} key{'s' if n != 1 else ''}"
        self.app.notify(f"{keys} pressed while busy ignored: {why}", severity="warning")
        self.app.note(f"{n} queued key(s) ignored: {why}", "warning")

    # ------------------------------------------------------------ the horizon
    def reached(self) -> None:
        """Call after a step or run: at the horizon, ``n`` keys pressed before now stop."""
        sim = self.app.sim
        if sim is not None and sim.period == sim.horizon:
            self.horizon_reached_at = _clock()

    def stop_at_horizon(self) -> bool:
        """True (and the step is dropped) when no key or click arrived since the run
        reached its horizon: the rest of a flood of ``n`` stops there; a later ``n``
        steps beyond it (the header then marks "beyond the horizon")."""
        sim = self.app.sim
        if (
            sim is None
            or sim.period < sim.horizon
            or self.app.last_input_at > self.horizon_reached_at
        ):
            return False
        self.drop_step()
        return True

    def drop_step(self) -> None:
        """Count a step key dropped at the horizon; one notification per flood (after
        the keys already waiting are handled)."""
        self.dropped_steps += 1
        if self.dropped_steps == 1:
            self.call_after_refresh(self._report_dropped)

    def _report_dropped(self) -> None:
        n, self.dropped_steps = self.dropped_steps, 0
        period = self.app.sim.period
        what = f"{n} step key{'s' if n != 1 else ''} pressed before the horizon dropped"
        self.app.notify(
            f"Stopped at the horizon (Period {period}): {what}; press n to step beyond it",
            severity="warning",
        )
        self.app.note(f"stopped at the horizon (Period {period}): {what}", "warning")

    # ------------------------------------------------------------ simulation actions
    def action_step(self) -> None:
        """Simulate one period with the policy's decision (asks first about an
        unapplied draft allocation). Keys pressed before the horizon stop there."""
        if not self.can("step", "step") or self.stop_at_horizon():
            return
        if not self.draft.ask_first("step", self.jobs.step_now):
            self.jobs.step_now()

    def action_run_horizon(self) -> None:
        """Run to the horizon with the policy, in a worker (x cancels)."""
        if not self.can("run", "run_horizon"):
            return
        if not self.draft.ask_first("run to the horizon", self.jobs.run_now):
            self.jobs.run_now()

    def action_undo(self) -> None:
        """Undo the last period (re-simulates the earlier decisions)."""
        if not self.can("undo", "undo"):
            return
        sim = self.app.sim
        if not sim.decisions:
            self.app.notify("Nothing to undo: Period 0", severity="warning")
            return
        period = sim.period
        self.jobs.sim_job(lambda s: s.undo(1), f"undo Period {period}", "undoing")

    def action_cycle_policy(self) -> None:
        """Switch policy: manual -> fixed -> feedback -> optimize -> manual."""
        if not self.can("switch policy", "cycle_policy"):
            return
        sim = self.app.sim
        current = sim.policy_name
        i = POLICIES.index(current) if current in POLICIES else -1
        nxt = POLICIES[(i + 1) % len(POLICIES)] if i >= 0 else "fixed"
        sim.set_policy(nxt)
        self.app.dirty = True
        self.panes.forget_preview()
        self.app.note(f"policy {current} -> {nxt}")
        self.refresh_all()

    def action_cancel(self) -> None:
        """Cancel training and/or the run to the horizon."""
        app = self.app
        if app.training:
            app.train_stop.set()
            app.note("cancelling training…")
        if app.busy == "running":
            app.run_stop.set()
            app.note("cancelling the run…")

    def action_branch(self) -> None:
        """Keep the current run as a named branch, or compare / restore one
        (:func:`stratsim.tui.branches.branch_action`)."""
        if not self.can("branch"):
            return
        from ..branches import branch_action

        branch_action(self.app)

    def action_train(self) -> None:
        """Choose a model and data, then train in a worker."""
        self.jobs.ask_training()

    def action_advise(self) -> None:
        """Open the Advise tab (optimizer, frontier, copy to draft)."""
        from ..advise import open_advise

        open_advise(self.app)

    def on_advise_progress(self, message: AdviseProgress) -> None:
        self.query_one(AdvisePane).apply(message)

    def stop_advise(self) -> None:
        """Tell a running optimization (the Advise tab) to stop."""
        for pane in self.query(AdvisePane):
            pane.stop_event.set()

    # ------------------------------------------------------------ worker messages
    def on_run_progress(self, message: RunProgress) -> None:
        self.jobs.run_progress(message)

    def on_sim_job_done(self, message: SimJobDone) -> None:
        self.jobs.sim_job_done(message.label, None)

    def on_train_update(self, message: TrainUpdate) -> None:
        self.training_pane.apply_events(message.events)

    def on_train_finished(self, message: TrainFinished) -> None:
        self.jobs.training_finished(message.outcome, message.cancelled)

    def job_failed(self, worker: Worker, error: Exception) -> None:
        """A simulation or training worker raised (from the app's one failure handler)."""
        self.jobs.failed(worker, error)

    # ------------------------------------------------------------ help
    def help_rows(self) -> list[tuple[str, str, str]]:
        from ..widgets.allocation import ValueInput
        from .help import binding_rows

        value_keys = [
            ("+", "", "Step up"),
            ("-", "", "Typed (a minus sign; never a step)"),
            ("enter", "", "Apply the draft"),
            ("tab", "", "Next value"),
        ]
        return binding_rows(
            ("main", [b for b in MAIN_BINDINGS if b.action not in TABS_ACTIONS]),
            ("value", ValueInput.BINDINGS + value_keys),
            ("app", [("ctrl+p", "command_palette", "Command palette (every action)")]),
        )

    def action_help(self) -> None:
        """List every key binding."""
        from .help import HELP_NOTES, HelpScreen

        self.app.push_screen(HelpScreen(self.help_rows(), HELP_NOTES))


#: The actions of the tab keys (listed once in the help's navigation rows).
TABS_ACTIONS = {f"show_tab('{tab}')" for tab, _ in TABS}
