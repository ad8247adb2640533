"""History charts with P10..P90 bands (textual-plotext).

Each chart draws the mean of a KPI as a solid line and its P10 and P90 as thinner
lines of the same colour (the band). Charts are redrawn only when visible
(:meth:`HistoryCharts.show` is called by the app when the tab is active).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual_plotext import PlotextPlot

#: chart id -> (title, [(kpi, legend)]).
CHARTS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "users": ("Users (To C)", [("users_c", "active"), ("paid_c", "paid")]),
    "mrr": ("MRR by segment (currency/month)", [("mrr_c", "To C"), ("mrr_b", "To B")]),
    "satisfaction": ("Satisfaction (0..10)", [("satisfaction_c", "To C"), ("satisfaction_b", "To B")]),
    "incident": ("Incident probability (per month)", [("incident_prob", "p")]),
    "cash": ("Cash (currency)", [("cash", "cash")]),
}
_COLORS = ("cyan", "orange")


class HistoryCharts(VerticalScroll):
    """A column of history charts; scroll with the arrow keys or page up/down."""

    DEFAULT_CSS = """
    HistoryCharts { height: 1fr; }
    HistoryCharts PlotextPlot { height: 12; min-height: 8; }
    """

    def compose(self) -> ComposeResult:
        for cid in CHARTS:
            yield PlotextPlot(id=f"chart-{cid}")

    def show(self, history: list[dict]) -> None:
        """Redraw every chart from the simulation's history (periods 1..N)."""
        x = list(range(1, len(history) + 1))
        for cid, (title, series) in CHARTS.items():
            widget = self.query_one(f"#chart-{cid}", PlotextPlot)
            plt = widget.plt
            plt.clear_data()
            plt.clear_figure()
            plt.title(title)
            plt.xlabel("period")
            if x:
                for (kpi, legend), color in zip(series, _COLORS, strict=False):
                    plt.plot(x, [h[kpi]["mean"] for h in history], label=f"{legend} mean", color=color, marker="braille")
                    plt.plot(x, [h[kpi]["p10"] for h in history], color=color, marker="dot")
                    plt.plot(x, [h[kpi]["p90"] for h in history], color=color, marker="dot")
            widget.refresh()
