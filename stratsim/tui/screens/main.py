"""The main screen: status header, tabs (Run, KPIs, Charts, Training, Advise, Compare, Sensitivity, Log)
and the footer of key bindings.

Bindings live on this screen (not the App) and are not priority bindings, so a focused
Input takes the letters being typed and they never fire an action; ``escape`` leaves an
input. They are inactive while a dialog is open (dialogs are other screens).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.lazy import Lazy
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static, TabbedContent, TabPane

from ..advise import AdvisePane
from ..bindings import MAIN_BINDINGS
from ..widgets.allocation import AllocationPanel
from ..widgets.charts import HistoryCharts
from ..widgets.compare import ComparePane
from ..widgets.kpis import KpiTable, PreviewTable
from ..widgets.sensitivity import SensitivityPane
from ..widgets.status import StatusHeader, StatusInfo
from ..widgets.training import TrainingPane


class MainScreen(Screen):
    """Composes the panes; the App fills them (it owns the simulation)."""

    BINDINGS = MAIN_BINDINGS

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        with TabbedContent(id="tabs", initial="tab-run"):
            with TabPane("Run", id="tab-run"):
                yield Lazy(
                    Horizontal(
                        AllocationPanel(id="allocation"),
                        Vertical(
                            Static("Next period preview (Δ: draft minus policy)", id="preview-title"),
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

    def on_key(self, event) -> None:
        """alt+letter outside a value (tmux/SSH glue a quick esc to the next key:
        ``\x1bn`` arrives as alt+n) is escape (nothing to leave here) then the letter."""
        if event.key.startswith("alt+") and len(event.key) == 5:
            event.stop()
            self.app.simulate_key(event.key[4:])

    def on_mount(self) -> None:
        self.query_one(StatusHeader).show(StatusInfo(session=self.app.session_label(), loading=True))
        self.call_after_refresh(self.app.main_screen_shown)
