"""Compare the current run with a kept branch, side by side, at the same period."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ..glyphs import glyph
from ..text import safe
from .kpis import SHORT, SHOWN, signed, value


class ComparePane(Vertical):
    """KPI means of the current run and of a branch, and the difference."""

    DEFAULT_CSS = """
    ComparePane #compare-title { height: auto; }
    ComparePane DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static(
            "No branch yet: press [b]b[/b] to keep the current run as a branch.", id="compare-title"
        )
        table = DataTable(id="compare-table", cursor_type="none", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (
            ("kpi", "KPI"),
            ("current", "current"),
            ("branch", "branch"),
            ("delta", f"{glyph('delta')} current-branch"),
        ):
            table.add_column(label, key=key)

    @property
    def is_on_screen(self) -> bool:
        """True when the pane is shown (its tab is the active one)."""
        return self.is_mounted and self.display and self.region.area > 0

    def on_show(self) -> None:
        """Shown again (its tab activated): let the app refresh it (a branch kept earlier
        is stepped to the current period only while Compare is shown)."""
        refresh = getattr(self.screen, "refresh_all", None)
        if refresh is not None:
            refresh(keep_draft=True)

    def show(
        self,
        history: list[dict],
        branch,
        branches: list[str],
        branch_history: list[dict] | None = None,
    ) -> None:
        """``history``: the current run; ``branch``: a :class:`~stratsim.tui.branches.Branch`
        or None; ``branch_history``: the branch's history up to at least the current
        period (stepped on with its own policy when it was kept earlier), or None while
        it is being computed. Both sides are shown at the current run's period."""
        title = self.query_one("#compare-title", Static)
        table = self.query_one(DataTable)
        table.clear()
        if branch is None:
            title.update("No branch yet: press [b]b[/b] to keep the current run as a branch.")
            return
        period = len(history)
        cur = history[period - 1] if period else None
        other = (
            branch_history[period - 1]
            if branch_history is not None and 1 <= period <= len(branch_history)
            else None
        )
        if period == 0:
            how = "the current run has no period yet: step it (n)"
        elif branch_history is None:
            how = f"stepping the branch to Period {period}…"
        elif branch.period < period:
            how = f"at Period {period}: kept at {branch.period}, stepped on with its policy {branch.policy}"
        elif branch.period > period:
            how = f"at Period {period} of its {branch.period}, the history both share; policy {branch.policy}"
        else:
            how = f"at Period {period}, policy {branch.policy}"
        title.update(
            f"Period {period}: current run vs branch [b]{safe(branch.name)}[/b] ({safe(how)}). "
            f"Branches: {safe(', '.join(branches))}"
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
