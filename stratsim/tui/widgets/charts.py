"""History charts with P10..P90 bands (textual-plotext).

Each chart draws the mean of a KPI as a solid line and its P10 and P90 as thinner
lines of the same colour (the band). Values a chart cannot scale (NaN, ±inf, and
magnitudes beyond :data:`MAX_DRAWN`, such as an overflowing cash or NPV) are left out of
the line, and the title says how many: plotext fails with "cannot convert float NaN to
integer" on them. Charts are redrawn only when visible
(:meth:`HistoryCharts.show` is called by the app when the tab is active).
"""

from __future__ import annotations

import math

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
#: Largest magnitude drawn: plotext computes (max - min) of the axis, which overflows to
#: inf for values near the float limit (±1e308 made it fail).
MAX_DRAWN = 1e100


def finite_points(xs: list[int], ys: list[float]) -> tuple[list[int], list[float]]:
    """The ``(x, y)`` pairs whose ``y`` a chart can draw: a finite number of magnitude at
    most :data:`MAX_DRAWN` (NaN, ±inf and overflowing values dropped)."""
    keep = [(x, y) for x, y in zip(xs, ys, strict=True) if isinstance(y, int | float) and math.isfinite(y) and abs(y) <= MAX_DRAWN]
    return [p[0] for p in keep], [p[1] for p in keep]


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
            skipped = 0
            for (kpi, legend), color in zip(series, _COLORS, strict=False):
                for stat, extra in (("mean", {"label": f"{legend} mean", "marker": "braille"}), ("p10", {"marker": "dot"}), ("p90", {"marker": "dot"})):
                    xs, ys = finite_points(x, [h[kpi][stat] for h in history])
                    skipped += len(x) - len(xs)
                    if xs:
                        plt.plot(xs, ys, color=color, **extra)
            if skipped:
                plt.title(f"{title} ({skipped} values not drawable: non-finite or overflowing)")
            widget.refresh()
