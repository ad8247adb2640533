"""History charts (textual-plotext), one page at a time: fan charts of the KPIs and a
chart of the decisions over time.

Each fan chart draws the P10..P90 band of a KPI as a light fill (dots in the series'
darker colour) and the mean over it as a bold line in the bright colour, so the mean is
never hidden under the band. Axes are labelled like the tables: values with the k/M/G
suffixes of :func:`stratsim.format.fmt` (or as % for shares and probabilities), periods
as whole months. A KPI with another unit or scale gets the right-hand axis (paid users
are not drawn on the axis of active users, where they would be a flat line).

Values a chart cannot scale (NaN, ±inf, magnitudes beyond :data:`MAX_DRAWN`, such as an
overflowing cash or NPV) are left out, and the page's hint says how many: plotext fails
with "cannot convert float NaN to integer" on them. Before two periods exist a one-line
message replaces the chart. The pane shows one chart at a time (80x24 holds one
readable chart): ``]``/``pagedown`` next, ``[``/``pageup`` previous. Charts are drawn
only when visible (:meth:`HistoryCharts.show` is called by the app when the tab is
active).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from ...format import MONEY, PER_MONTH, fmt
from .. import glyphs

#: Largest magnitude drawn: plotext computes (max - min) of the axis, which overflows to
#: inf for values near the float limit (±1e308 made it fail).
MAX_DRAWN = 1e100
#: Units drawn as percentages (the KPI is a fraction 0..1).
PERCENT_UNITS = frozenset({"%"})


@dataclass(frozen=True)
class Series:
    """One KPI of a chart: ``kpi`` (key of the simulation's summary), its legend, the
    axis (``left``/``right``) and its colours (bright for the mean, dark for the band)."""

    kpi: str
    legend: str
    side: str = "left"
    color: str = "cyan"


@dataclass(frozen=True)
class Chart:
    """A fan chart: ``title`` (with units), the unit of each axis (``%`` draws fractions
    as percentages; anything else uses :func:`~stratsim.format.fmt`), its series."""

    title: str
    series: tuple[Series, ...]
    left_unit: str = ""
    right_unit: str = ""


#: The fan charts, in page order (the decisions chart follows them).
CHARTS: dict[str, Chart] = {
    "users": Chart(
        "Users by segment: To C active users (left), To B seats (right)",
        (Series("users_c", "C active", "left", "cyan"), Series("seats_b", "B seats", "right", "orange")),
        "users", "seats",
    ),
    "paying": Chart(
        "Paying customers: To C paid users (left), To B accounts (right)",
        (Series("paid_c", "C paid", "left", "cyan"), Series("accounts_b", "B accounts", "right", "orange")),
        "users", "accounts",
    ),
    "mrr": Chart(
        f"MRR by segment ({PER_MONTH})",
        (Series("mrr_c", "To C", "left", "cyan"), Series("mrr_b", "To B", "left", "orange")),
        PER_MONTH,
    ),
    "cash": Chart(
        f"Cash ({MONEY}, left) and P(cash<0) (%, right)",
        (Series("cash", "cash", "left", "cyan"), Series("p_cash_negative", "P(cash<0)", "right", "red")),
        MONEY, "%",
    ),
    "npv": Chart(
        f"NPV + terminal value ({MONEY}) and NPV of the horizon only",
        (Series("npv_total", "NPV+TV", "left", "cyan"), Series("npv", "NPV", "left", "orange")),
        MONEY,
    ),
    "satisfaction": Chart(
        "Satisfaction (0..10)",
        (Series("satisfaction_c", "To C", "left", "cyan"), Series("satisfaction_b", "To B", "left", "orange")),
        "0..10",
    ),
    "incident": Chart(
        "Incident probability (%/month, left) and P(incident so far) (%, right)",
        (Series("incident_prob", "per month", "left", "red"), Series("p_incident_so_far", "so far", "right", "orange")),
        "%", "%",
    ),
}  # fmt: skip

#: Levers of the decisions chart: (label, colour, spend items of
#: :meth:`stratsim.engine.decisions.Decision.spend` summed into it).
LEVERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("privacy", "red", ("privacy",)),
    ("C build", "cyan", ("c_product", "c_ux", "c_service")),
    ("C marketing", "blue", ("c_acquisition",)),
    ("B build", "orange", ("b_product", "b_ux", "b_service")),
    ("B sales", "magenta", ("b_acquisition",)),
)
DECISIONS_PAGE = "decisions"
PAGES: tuple[str, ...] = (*CHARTS, DECISIONS_PAGE)
PAGE_TITLES = {
    **{k: c.title for k, c in CHARTS.items()},
    DECISIONS_PAGE: f"Decisions: spend per lever by period ({PER_MONTH}, stacked)",
}


def finite_points(xs: list[int], ys: list[float]) -> tuple[list[int], list[float]]:
    """The ``(x, y)`` pairs whose ``y`` a chart can draw: a finite number of magnitude at
    most :data:`MAX_DRAWN` (NaN, ±inf and overflowing values dropped)."""
    keep = [(x, y) for x, y in zip(xs, ys, strict=True) if _drawable(y)]
    return [p[0] for p in keep], [p[1] for p in keep]


def _drawable(y: object) -> bool:
    return (
        isinstance(y, int | float)
        and not isinstance(y, bool)
        and math.isfinite(y)
        and abs(y) <= MAX_DRAWN
    )


def period_ticks(n: int, most: int = 8) -> list[int]:
    """Whole-period ticks for periods ``1..n``: fewer than ``most`` of them, the multiples
    of a step of 1, 2, 3, 6, 12, 24... months (never ``2.2 3.5``); the last period is
    always one (it replaces a multiple closer than half a step)."""
    if n < 1:
        return []
    step = next(
        s for s in (1, 2, 3, 6, 12, 24, 60, 120, 10**9) if math.ceil(n / s) < most or s == 10**9
    )
    ticks = list(range(step, n + 1, step)) if step > 1 else list(range(1, n + 1))
    if step > 1:
        ticks = ticks or [n]
        if ticks[-1] != n:
            if n - ticks[-1] < step / 2:
                ticks[-1] = n
            else:
                ticks.append(n)
    return ticks


def tick_label(value: float, unit: str, step: float = 1.0) -> str:
    """An axis label: ``%`` units as a percentage of a fraction (``0.25`` -> ``25%``, with as
    many decimals as the tick ``step`` needs, up to 3: steps of 0.25% give ``0.75%``), others
    with :func:`~stratsim.format.fmt` (``150k``, ``2.5M``; thousands also as ``4k``)."""
    if unit in PERCENT_UNITS:
        decimals = next((d for d in range(3) if abs(round(step * 100, d) - step * 100) < 1e-9), 3)
        return f"{value * 100:.{decimals}f}%"
    if value == 0:
        return "0"
    if 1e3 <= abs(value) < 1e4:  # 4000 is 4k, as the tables' narrow columns show it
        return f"{value / 1e3:.3g}k"
    return fmt(value)


def value_ticks(lo: float, hi: float, unit: str, most: int = 6) -> tuple[list[float], list[str]]:
    """At most ``most`` round ticks covering ``lo..hi`` (steps 1, 2, 2.5, 5 x 10^k) and
    their labels (:func:`tick_label`). A flat range gets one tick."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [], []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [lo], [tick_label(lo, unit, abs(lo) or 1.0)]
    raw = (hi - lo) / max(1, most - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9 and len(ticks) < most + 2:
        ticks.append(0.0 if abs(v) < step * 1e-9 else v)
        v = first + len(ticks) * step
    return ticks, [tick_label(t, unit, step) for t in ticks]


def lever_spend(decisions: Sequence) -> dict[str, list[float]]:
    """Spend per lever of :data:`LEVERS` in each period (money per month), from the
    simulation's decision history (``decisions[i]`` held in period ``i + 1``;
    :meth:`~stratsim.engine.decisions.Decision.spend`): lever label -> ``[n_periods]``."""
    out: dict[str, list[float]] = {label: [] for label, _, _ in LEVERS}
    for d in decisions:
        spend = d.spend()
        for label, _, items in LEVERS:
            out[label].append(float(math.fsum(spend[i] for i in items)))
    return out


def band_points(
    xs: list[int], p10: list[float], p90: list[float], columns: int, rows: int, y_span: float
) -> tuple[list[float], list[float]]:
    """Points that fill the P10..P90 band between consecutive periods: one column of
    points every ``1/columns`` of the x range, one row every ``y_span/rows`` (about one
    per terminal cell), linearly interpolated between periods."""
    if len(xs) < 2 or columns < 1 or rows < 1 or not y_span > 0:
        return [], []
    dx = (xs[-1] - xs[0]) / columns
    dy = y_span / rows
    out_x: list[float] = []
    out_y: list[float] = []
    x = float(xs[0])
    j = 0
    while x <= xs[-1] + 1e-9:
        while j < len(xs) - 2 and x > xs[j + 1]:
            j += 1
        t = (x - xs[j]) / (xs[j + 1] - xs[j])
        lo = p10[j] + t * (p10[j + 1] - p10[j])
        hi = p90[j] + t * (p90[j + 1] - p90[j])
        if hi < lo:
            lo, hi = hi, lo
        y = lo
        while y <= hi:
            out_x.append(x)
            out_y.append(y)
            y += dy
        out_x.append(x)
        out_y.append(hi)
        x += dx
    return out_x, out_y


def _rich_colour(colour: str, bright: bool = False) -> str:
    """The Rich colour of a plotext colour name (``orange``/``orange+`` are not Rich's)."""
    if colour == "orange":
        return "orange1" if bright else "dark_orange3"
    return f"bright_{colour}" if bright else colour


def _segments(
    xs: list[int], lo: list[float], hi: list[float]
) -> list[tuple[list[int], list[float], list[float]]]:
    """Runs of consecutive periods where both quantiles are drawable (a gap breaks the band)."""
    runs: list[tuple[list[int], list[float], list[float]]] = []
    cur: tuple[list[int], list[float], list[float]] = ([], [], [])
    for x, a, b in zip(xs, lo, hi, strict=True):
        if _drawable(a) and _drawable(b):
            cur[0].append(x)
            cur[1].append(a)
            cur[2].append(b)
        elif cur[0]:
            runs.append(cur)
            cur = ([], [], [])
    if cur[0]:
        runs.append(cur)
    return runs


class HistoryCharts(Vertical):
    """One chart at a time, with a hint line naming the page and the keys."""

    can_focus = True

    DEFAULT_CSS = """
    HistoryCharts { height: 1fr; }
    HistoryCharts:focus #chart-hint { text-style: bold; }
    HistoryCharts #chart-hint { height: 1; color: $text-muted; }
    HistoryCharts #chart-title { height: auto; max-height: 3; }
    HistoryCharts #chart-empty { height: 1fr; padding: 1 2; }
    HistoryCharts #chart-plot { height: 1fr; min-height: 8; }
    """

    BINDINGS = [
        Binding("right_square_bracket,pagedown", "page(1)", "Next chart", show=False),
        Binding("left_square_bracket,pageup", "page(-1)", "Previous chart", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.page = 0
        self._history: list[dict] = []
        self._decisions: list = []
        self._deferred = False

    def compose(self) -> ComposeResult:
        yield Static("", id="chart-hint")
        yield Static("", id="chart-title")
        yield Static("", id="chart-empty")
        yield PlotextPlot(id="chart-plot")

    def on_show(self) -> None:
        if self.screen.focused is None:  # keys reach the pages without a tab or a click
            self.focus()

    def on_focus(self) -> None:
        self._draw_hint()

    def on_blur(self) -> None:
        self._draw_hint()

    def on_resize(self) -> None:
        if len(self._history) >= 2:  # the band's fill density follows the plot's size
            self.call_after_refresh(self._draw)

    def action_page(self, delta: int) -> None:
        self.page = (self.page + delta) % len(PAGES)
        self._draw()

    def show(self, history: list[dict], decisions: Sequence | None = None) -> None:
        """Redraw the current page from the simulation's history (periods 1..N) and its
        decisions (default: the app's simulation's ``decisions``, one per period)."""
        if decisions is None:
            decisions = getattr(getattr(self.app, "sim", None), "decisions", None) or []
        self._history = list(history)
        self._decisions = list(decisions)
        self._draw()

    # ------------------------------------------------------------------ draw
    def _skipped(self) -> int:
        """Values of every fan chart that cannot be drawn (for the hint line)."""
        n = 0
        for chart in CHARTS.values():
            for s in chart.series:
                for h in self._history:
                    stats = h.get(s.kpi)
                    if stats is None:
                        continue
                    n += sum(
                        1
                        for k in ("mean", "p10", "p90")
                        if stats.get(k) is not None
                        and not _drawable(stats[k])
                        and not (k != "mean" and stats[k] != stats[k])
                    )
        return n

    def _draw_hint(self) -> None:
        keys = (
            "] or PgDn next, [ or PgUp previous" if self.has_focus else "tab here, then ] / [ pages"
        )
        hint = f"Chart {self.page + 1}/{len(PAGES)}: {keys}"
        skipped = self._skipped()
        if skipped:
            hint += f" ({skipped} values not drawable: non-finite or overflowing)"
        self.query_one("#chart-hint", Static).update(hint)

    def _draw(self) -> None:
        key = PAGES[self.page]
        n = len(self._history)
        self._draw_hint()
        empty = self.query_one("#chart-empty", Static)
        title = self.query_one("#chart-title", Static)
        widget = self.query_one("#chart-plot", PlotextPlot)
        if n < 2:
            what = "no period simulated" if n == 0 else "one period so far"
            empty.update(f"No chart yet ({what}): charts need two periods; n steps one.")
            empty.display, widget.display, title.display = True, False, False
            return
        empty.display, widget.display, title.display = False, True, True
        title.update(self.title_text(key))
        if not (widget.size.width and widget.size.height):
            # Just shown: the plot has no size yet, and the band's fill is computed for
            # the plot's cells; draw once the layout gave it one (the first draw then
            # equals every redraw). Once: a hidden pane keeps no size, and its resize
            # when shown redraws it.
            if not self._deferred:
                self._deferred = True
                self.call_after_refresh(self._draw)
            return
        self._deferred = False
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        if key == DECISIONS_PAGE:
            self._draw_decisions(plt)
        else:
            self._draw_fan(plt, CHARTS[key], widget.size.width, widget.size.height)
        xt = period_ticks(n)
        plt.xticks(xt, [str(t) for t in xt])
        plt.xlabel("period (month)")
        widget.refresh()

    @staticmethod
    def title_text(key: str) -> Text:
        """The page's title and its legend, above the plot (a legend inside the plot
        covers data): each series' colour and marker, the band as P10..P90."""
        text = Text(PAGE_TITLES[key])
        text.append("\n")
        if key == DECISIONS_PAGE:
            for label, colour, _ in LEVERS:
                text.append("# " if glyphs.is_ascii() else "█ ", style=_rich_colour(colour))
                text.append(f"{label}  ")
            return text
        mean, band = glyphs.glyph("mean_mark"), glyphs.glyph("band_mark")
        for s in CHARTS[key].series:
            text.append(f"{mean}{mean} ", style="bold " + _rich_colour(s.color, bright=True))
            text.append(f"{s.legend} mean ")
            text.append(f"{band}{band}", style=_rich_colour(s.color))
            text.append(f" P10..P90{' (right axis)' if s.side == 'right' else ''}  ")
        return text

    def _draw_fan(self, plt, chart: Chart, width: int, height: int) -> None:
        x = list(range(1, len(self._history) + 1))
        mean_marker = glyphs.marker("mean")
        band_marker = glyphs.marker("band")
        for side, unit in (("left", chart.left_unit), ("right", chart.right_unit)):
            series = [s for s in chart.series if s.side == side]
            if not series:
                continue
            values = [
                h[s.kpi][stat] for s in series for h in self._history if s.kpi in h
                for stat in ("mean", "p10", "p90") if _drawable(h[s.kpi][stat])
            ]  # fmt: skip
            if not values:
                continue
            lo, hi = min(values), max(values)
            if unit in PERCENT_UNITS:  # from 0%, and at least 0..1% (a flat 0 is a line on 0%)
                lo = min(lo, 0.0)
                hi = max(hi, lo + 0.01)
            span = hi - lo
            for s in series:
                if any(s.kpi not in h for h in self._history):
                    continue
                p10 = [h[s.kpi]["p10"] for h in self._history]
                p90 = [h[s.kpi]["p90"] for h in self._history]
                for xs, a, b in _segments(x, p10, p90):
                    bx, by = band_points(
                        xs, a, b, max(1, width - 10), max(1, height - 4), span or 1.0
                    )
                    if bx:
                        plt.plot(bx, by, marker=band_marker, color=s.color, yside=side)
            for s in series:
                if any(s.kpi not in h for h in self._history):
                    continue
                xs, ys = finite_points(x, [h[s.kpi]["mean"] for h in self._history])
                if xs:
                    plt.plot(
                        xs, ys, marker=mean_marker, color=f"{s.color}+", style="bold", yside=side
                    )
            pad = span * 0.05 if span else (abs(hi) * 0.05 or 1.0)
            plt.ylim(lo - pad if lo != 0 else lo, hi + pad, yside=side)
            ticks, labels = value_ticks(lo, hi, unit)
            plt.yticks(ticks, labels, yside=side)

    def _draw_decisions(self, plt) -> None:
        spend = lever_spend(self._decisions[: len(self._history)])
        x = list(range(1, len(next(iter(spend.values()))) + 1))
        if not x:
            return
        ys = [spend[label] for label, _, _ in LEVERS]
        plt.stacked_bar(x, ys, color=[c for _, c, _ in LEVERS], width=0.6)
        totals = [math.fsum(col) for col in zip(*ys, strict=True)]
        ticks, labels = value_ticks(0.0, max(totals) if totals else 0.0, PER_MONTH)
        plt.yticks(ticks, labels)
