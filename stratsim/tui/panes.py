"""Filling the main screen's panes from the simulation: the KPI table, the next-period
preview (with its cache), the Compare pane and the charts.

:class:`Panes` belongs to the :class:`~stratsim.tui.screens.main.MainScreen`; the
header is drawn at once and the panes right after that frame (a simulated preview
period can take a while), so a key press shows its effect without waiting for it
(``bench/bench_tui.py``: key-to-screen latency while training).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.css.query import NoMatches

from .branches import refresh_compare
from .glyphs import glyph
from .widgets.allocation import AllocationPanel
from .widgets.charts import HistoryCharts
from .widgets.kpis import KpiTable, PreviewTable

if TYPE_CHECKING:
    from ..engine.decisions import Decision
    from .screens.main import MainScreen

#: The preview's title; with an invalid value, ``invalid draft, not previewed``.
PREVIEW_TITLE = "Next period preview (Δ = draft - policy)"
#: The preview's title while a value holds invalid text.
PREVIEW_INVALID = "Next period preview: [b]invalid draft[/b], not previewed"
#: The preview's title until the engine is loaded (keys pressed meanwhile are queued).
PREVIEW_LOADING = "Next period preview: loading the engine (torch)…; keys pressed now are queued"


class Panes:
    """Refreshes the panes of ``screen``; keeps the preview of the policy's decision
    (keyed by period, decisions and simulation) and the last draft preview
    (``draft_preview``: a KPI summary dict, or None while the draft is invalid)."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self.pending = False
        self._keep_draft = False
        self._baseline: tuple[tuple, dict] | None = None
        self.draft_preview: dict | None = None

    def forget_preview(self) -> None:
        """Drop the cached preview (the simulation or its policy changed)."""
        self._baseline = None

    def refresh(self, keep_draft: bool = False) -> None:
        """Re-render the panes right after the next frame (UI thread only); several
        calls before it render once (``keep_draft`` only if every call asked for it)."""
        if self.screen.app.sim is None:
            return
        self._keep_draft = self._keep_draft and keep_draft if self.pending else keep_draft
        if not self.pending:
            self.pending = True
            self.screen.call_after_refresh(self._refresh_now)

    def _refresh_now(self) -> None:
        self.pending = False
        if self.screen.app.sim is None:
            return
        try:
            self._render(self._keep_draft)
        except NoMatches:  # hidden panes not mounted yet (Lazy): try again shortly
            keep = self._keep_draft
            self.screen.set_timer(0.05, lambda: self.refresh(keep))

    def _render(self, keep_draft: bool) -> None:
        screen, app = self.screen, self.screen.app
        sim = app.sim
        with app.batch_update():
            history = list(sim.history)
            self.show_kpis(history)
            if app.busy:
                self.show_busy(history)
            else:
                panel = screen.query_one(AllocationPanel)
                panel.set_baseline(sim.next_decision(), keep_draft=keep_draft)
                self.update_preview(panel.draft)
            refresh_compare(app, screen, history)
            if screen.tabs.active == "tab-charts":
                screen.query_one(HistoryCharts).show(history)

    def show_busy(self, history: list[dict]) -> None:
        """While a worker runs the simulation: no preview (it would simulate on the UI
        thread), the title says why, and the table keeps the latest period's KPIs."""
        app = self.screen.app
        title = (
            f"Next period preview: paused while {app.busy} (Period {len(history)}); "
            "back when it ends (x stops a run)"
        )
        self.screen.query_one("#preview-title").update(title)
        self.screen.query_one(PreviewTable).show(history[-1] if history else None, None, None)

    def show_kpis(self, history: list[dict]) -> None:
        """The KPI table and its title (the period reached, also during a run)."""
        sim = self.screen.app.sim
        title = (
            f"Period {len(history)} of {sim.horizon}: KPIs over {sim.n_paths} paths "
            f"(mean, P10, P50, P90; {glyph('delta')} from the previous period)"
        )
        self.screen.query_one("#kpi-title").update(title)
        self.screen.query_one(KpiTable).show(history)

    def show_charts(self) -> None:
        sim = self.screen.app.sim
        if sim is not None:
            self.screen.query_one(HistoryCharts).show(list(sim.history))

    def update_preview(self, draft: Decision | None) -> None:
        """Preview the next period under ``draft`` and under the policy's decision; while
        a value holds invalid text there is no draft: the preview is cleared and says so."""
        screen, app = self.screen, self.screen.app
        sim = app.sim
        if sim is None or app.busy:
            return
        invalid = bool(screen.query_one(AllocationPanel).invalid)
        screen.query_one("#preview-title").update(
            PREVIEW_INVALID if invalid else PREVIEW_TITLE.replace("Δ", glyph("delta"))
        )
        current = sim.history[-1] if sim.history else None
        if invalid:
            self.draft_preview = None
            screen.query_one(PreviewTable).show(current, None, None)
            return
        base_decision = sim.next_decision()
        key = (sim.period, len(sim.decisions), base_decision, id(sim))
        if self._baseline is None or self._baseline[0] != key:
            self._baseline = (key, sim.preview(base_decision))
        baseline = self._baseline[1]
        same = draft is None or draft == base_decision
        self.draft_preview = baseline if same else sim.preview(draft)
        screen.query_one(PreviewTable).show(current, self.draft_preview, baseline)
