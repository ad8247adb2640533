"""Compare the current run with a kept branch, side by side, at the same period."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ..text import safe
from .kpis import SHORT, SHOWN, signed, value


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
        # Both runs at the same period (the later of the two periods both have reached).
        period = min(len(history), branch.period)
        other = branch.summary_at(period) if period else None
        cur = history[period - 1] if period else None
        ahead = "" if len(history) == branch.period else f"; the current run is at Period {len(history)}"
        title.update(
            f"Period {period}: current run vs branch [b]{safe(branch.name)}[/b] (kept at {branch.period}, "
            f"policy {branch.policy}{ahead}). Branches: {safe(', '.join(branches))}"
        )
        for k in SHOWN:
            c = cur[k]["mean"] if cur else None
            b = other[k]["mean"] if other else None
            table.add_row(
                SHORT[k],
                value(k, c),
                value(k, b),
                signed(c - b, kpi=k) if c is not None and b is not None else value(k, None),
                key=k,
            )
