"""Compare the current run with a kept branch, side by side, at the same period."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ...cli._common import fmt
from .kpis import SHORT, SHOWN, signed


class ComparePane(Vertical):
    """KPI means of the current run and of a branch, and the difference."""

    DEFAULT_CSS = """
    ComparePane #compare-title { height: auto; }
    ComparePane DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static("No branch yet: press [b]b[/b] to keep the current run as a branch.", id="compare-title")
        table = DataTable(id="compare-table", cursor_type="none", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (("kpi", "KPI"), ("current", "current"), ("branch", "branch"), ("delta", "Δ current-branch")):
            table.add_column(label, key=key)

    def show(self, history: list[dict], branch, branches: list[str]) -> None:
        """``history``: the current run; ``branch``: a :class:`~stratsim.tui.branches.Branch` or None."""
        title = self.query_one("#compare-title", Static)
        table = self.query_one(DataTable)
        table.clear()
        if branch is None:
            title.update("No branch yet: press [b]b[/b] to keep the current run as a branch.")
            return
        period = len(history)
        other = branch.summary_at(period) if period else branch.summary_at(branch.period)
        shown_period = min(period, branch.period) if period else branch.period
        title.update(
            f"Current run at Period {period} vs branch [b]{branch.name}[/b] at period {shown_period} "
            f"(kept at {branch.period}, policy {branch.policy}). Branches: {', '.join(branches)}"
        )
        cur = history[-1] if history else None
        for k in SHOWN:
            c = cur[k]["mean"] if cur else None
            b = other[k]["mean"] if other else None
            table.add_row(
                SHORT[k],
                fmt(c) if c is not None else "–",
                fmt(b) if b is not None else "–",
                signed(c - b) if c is not None and b is not None else "–",
                key=k,
            )
