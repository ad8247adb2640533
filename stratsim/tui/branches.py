"""Named branches in the TUI: keep the current run, compare it with a branch at the same
period, restore a branch (its decisions, policy, held allocation and draft).

The branches live on the simulation (``sim.branches``, name -> :class:`Branch`), so the
session store saves them in the session file (``[[branches]]``) and opening a session
brings them back. Compare shows both runs at the current run's period: a branch kept
earlier is stepped forward with its own policy (:func:`~stratsim.engine.session.branches.branch_history`,
in a thread worker, cached); a branch kept later is compared on the periods both share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..engine.session.branches import BranchRecord as Branch
from .text import printable

if TYPE_CHECKING:
    from .app import StratsimApp

__all__ = ["Branch", "BranchCompare", "branch_action", "session_branches"]


def session_branches(sim: Any) -> dict[str, Branch]:
    """The branches of ``sim`` (created empty when it has none): the dict the session
    store saves, so the TUI's ``app.branches`` is this very object."""
    branches = getattr(sim, "branches", None)
    if not isinstance(branches, dict):
        branches = {}
        sim.branches = branches
    return branches


@dataclass
class BranchCompare:
    """The branch histories computed for Compare, by (branch, period, models), and the
    one being computed. ``show`` is called on every refresh of the panes."""

    cache: dict[tuple, tuple[Branch, list]] = field(default_factory=dict)
    pending: tuple | None = None

    @staticmethod
    def key(sim: Any, branch: Branch, period: int) -> tuple:
        models = (
            id(sim.base_models["satisfaction"]),
            id(sim.base_models["privacy"]),
            tuple(id(s.model) for s in sim.model_switches),
        )
        return (id(sim), id(branch), max(period, branch.period), models)

    def history(
        self, app: StratsimApp, branch: Branch, period: int, start: bool = True
    ) -> list | None:
        """The branch's history up to ``max(period, branch.period)`` when known; else
        None, and (when ``start``) a worker computing it is started (the pane refreshes
        when it is done)."""
        sim = app.sim
        if period <= branch.period and len(branch.history) == branch.period:
            return list(branch.history)
        key = self.key(sim, branch, period)
        kept = self.cache.get(key)
        if kept is not None and kept[0] is branch:
            return kept[1]
        if start and self.pending != key:
            self.pending = key
            self._start(app, branch, period, key)
        return None

    def _start(self, app: StratsimApp, branch: Branch, period: int, key: tuple) -> None:
        from ..engine.session.branches import branch_history

        sim = app.sim
        config = _SimView(sim)  # read on the UI thread: the worker never touches app.sim

        def work() -> None:
            try:
                hist = branch_history(config, branch, period)  # type: ignore[arg-type]
            except Exception as exc:  # shown in the Log; Compare says it could not
                app.call_from_thread(self._failed, app, key, branch, str(exc))
                return
            app.call_from_thread(self._done, app, key, branch, hist)

        app.run_worker(work, thread=True, group="compare", exit_on_error=False)

    def _done(self, app: StratsimApp, key: tuple, branch: Branch, hist: list) -> None:
        self.cache[key] = (branch, hist)
        if self.pending == key:
            self.pending = None
        if len(self.cache) > 16:
            self.cache.pop(next(iter(self.cache)))
        _refresh(app)

    def _failed(self, app: StratsimApp, key: tuple, branch: Branch, error: str) -> None:
        self.cache[key] = (branch, [])
        self.pending = None
        app.note(f"could not step the branch for Compare: {printable(error)}", "warning")
        _refresh(app)


class _SimView:
    """What :func:`branch_history` reads of a simulation, copied on the UI thread."""

    def __init__(self, sim: Any) -> None:
        self.scenario, self.seed, self.n_paths = sim.scenario, sim.seed, sim.n_paths
        self.dtype_name, self.device = sim.dtype_name, sim.device
        self.base_models = dict(sim.base_models)
        self.model_switches = list(sim.model_switches)


def refresh_compare(app: StratsimApp, screen: Any, history: list) -> None:
    """Show the Compare pane for ``app.compare_with`` at the current run's period."""
    from .widgets.compare import ComparePane

    pane = screen.query_one(ComparePane)
    branches = app.branches
    branch = branches.get(app.compare_with) if app.compare_with else None
    if branch is None:
        pane.show(history, None, list(branches))
        return
    comparer = _comparer(app)
    # stepping a branch costs a replay: only while Compare is shown (ComparePane
    # refreshes the app when it is shown again)
    other = comparer.history(app, branch, len(history), start=pane.is_on_screen)
    pane.show(history, branch, list(branches), other)


def _refresh(app: StratsimApp) -> None:
    if app.main is not None:
        app.main.refresh_all(keep_draft=True)


def _comparer(app: Any) -> BranchCompare:
    comparer = getattr(app, "_branch_compare", None)
    if comparer is None:
        comparer = app._branch_compare = BranchCompare()
    return comparer


def branch_action(app: StratsimApp) -> None:
    """The ``b`` key: keep the current run as a named branch (with the draft being
    edited), or compare / restore one."""
    from textual.widgets import TabbedContent

    from .screens.dialogs import BranchDialog

    sim = app.sim
    suggested = f"p{sim.period}-{sim.policy_name}"

    def chosen(answer: tuple[str, str] | None) -> None:
        if answer is None:
            return
        what, name = answer
        if what == "keep":
            app.branches[name] = Branch.of(
                name, app.sim, draft=app.main.draft.pending() if app.main else None
            )
            app.compare_with = name
            app.dirty = True
            app.note(
                f"kept branch {printable(name)} at Period {app.sim.period} (policy {app.sim.policy_name})"
            )
            app.screen.query_one(TabbedContent).active = "tab-compare"
        elif what == "compare":
            app.compare_with = name
            app.screen.query_one(TabbedContent).active = "tab-compare"
        elif what == "restore":
            restore(app, app.branches[name])
            return
        _refresh(app)

    app.push_screen(BranchDialog(list(app.branches), suggested), chosen)


def restore(app: StratsimApp, branch: Branch) -> None:
    """Replay the branch's decisions (in the sim worker), then bring back its policy,
    its held allocation and its draft (shown in the allocation panel, not applied)."""
    from ..engine.policies import make_policy

    def job(sim: Any) -> None:
        sim.replay(list(branch.decisions))
        sim.decision = branch.decision
        sim.policy = make_policy(branch.policy, sim.allocation, sim)

    label = f"restore branch {printable(branch.name)} (policy {branch.policy})"
    app.main.jobs.sim_job(job, label, "restoring")
    if branch.draft is not None and branch.draft != branch.decision:
        app.when_idle(lambda: app.call_after_refresh(_propose, app, branch.draft))


def _propose(app: Any, draft: Any) -> None:
    from .widgets.allocation import AllocationPanel

    screen = app.main
    if screen is not None:
        screen.query_one(AllocationPanel).propose(draft)
