"""Charts, number formats and units of the TUI: axis ticks (whole periods, k/M, %), points a
chart cannot draw, the band fill, the decisions-over-time data, and tables that keep their
units at 60 columns."""

from __future__ import annotations

import asyncio
import math
import re

import pytest

from stratsim.format import fmt, pct
from stratsim.tui.widgets import charts
from stratsim.tui.widgets.kpis import signed, value


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, []),
        (1, [1]),
        (2, [1, 2]),
        (7, [1, 2, 3, 4, 5, 6, 7]),
        (12, [2, 4, 6, 8, 10, 12]),
        (36, [6, 12, 18, 24, 30, 36]),
        (100, [24, 48, 72, 100]),
    ],
)
def test_period_ticks_are_whole_periods(n, expected):
    ticks = charts.period_ticks(n)
    assert ticks == expected
    assert all(isinstance(t, int) for t in ticks) and len(ticks) < 8


@pytest.mark.parametrize("n", range(1, 200, 7))
def test_period_ticks_end_on_the_last_period(n):
    ticks = charts.period_ticks(n)
    assert ticks[-1] == n and ticks == sorted(set(ticks)) and all(1 <= t <= n for t in ticks)


def test_value_ticks_use_the_table_suffixes():
    ticks, labels = charts.value_ticks(5.5e6, 9.6e6, "currency")
    assert labels == ["6M", "7M", "8M", "9M"] and ticks == [6e6, 7e6, 8e6, 9e6]
    assert charts.value_ticks(1e5, 3.3e5, "users")[1] == ["100k", "150k", "200k", "250k", "300k"]
    assert charts.value_ticks(-31.8e6, -1e6, "currency")[1] == ["-30M", "-20M", "-10M"]
    assert charts.value_ticks(5.4, 6.7, "0..10")[1] == ["5.5", "6", "6.5"]
    for lo, hi in ((0, 9620322.1), (123.4, 98765.4), (-5e4, 3e5)):
        _, labels = charts.value_ticks(lo, hi, "currency")
        assert all(re.fullmatch(r"-?\d+(\.\d+)?[kMG]?", label) for label in labels), labels
        assert all(len(label) <= 5 for label in labels)  # never 9620322.1


def test_value_ticks_as_percent():
    assert charts.value_ticks(0, 0.0172, "%")[1] == ["0.0%", "0.5%", "1.0%", "1.5%"]
    assert charts.value_ticks(0, 0.01, "%")[1] == ["0.0%", "0.2%", "0.4%", "0.6%", "0.8%", "1.0%"]
    assert charts.value_ticks(0, 0.01, "%", most=5)[1] == [
        "0.00%",
        "0.25%",
        "0.50%",
        "0.75%",
        "1.00%",
    ]
    assert charts.value_ticks(0, 1, "%")[1] == ["0%", "20%", "40%", "60%", "80%", "100%"]
    assert charts.value_ticks(0, 0, "%") == ([0], ["0%"])
    assert charts.value_ticks(math.nan, 1, "%") == ([], [])


def test_finite_points_skip_what_cannot_be_drawn():
    xs, ys = charts.finite_points([1, 2, 3, 4, 5, 6], [1.0, math.inf, math.nan, 2.0, -1e308, True])
    assert (xs, ys) == ([1, 4], [1.0, 2.0])
    runs = charts._segments([1, 2, 3, 4, 5], [1, 2, math.nan, 4, 5], [2, 3, 4, 5, 6])
    assert [r[0] for r in runs] == [[1, 2], [4, 5]]  # a gap breaks the band


def test_band_points_fill_between_p10_and_p90():
    bx, by = charts.band_points(
        [1, 2, 3], [0.0, 1.0, 2.0], [10.0, 11.0, 12.0], columns=20, rows=10, y_span=12.0
    )
    assert bx and len(bx) == len(by)
    for x, y in zip(bx, by, strict=True):
        lo = (x - 1) * 1.0
        assert lo - 1e-9 <= y <= lo + 10 + 1e-9  # inside the band at that x
    assert min(bx) == 1 and max(bx) == pytest.approx(3)
    col = [y for x, y in zip(bx, by, strict=True) if x == 1]
    assert len(col) >= 9  # filled, one point per row or so, not just the two edges
    assert charts.band_points([1], [0.0], [1.0], 10, 10, 1.0) == ([], [])


def test_lever_spend_is_the_decision_history():
    from stratsim.engine.simulation import Simulation

    sim = Simulation(n_paths=20, seed=0, device="cpu")
    sim.step()
    sim.step(sim.decision.with_changes(budget=400_000.0, c_share=0.8, privacy_share=0.2))
    spend = charts.lever_spend(sim.decisions)
    assert list(spend) == [label for label, _, _ in charts.LEVERS]
    totals = [math.fsum(spend[k][i] for k in spend) for i in range(2)]
    assert totals == pytest.approx([300_000.0, 400_000.0])
    assert spend["privacy"] == pytest.approx([30_000.0, 80_000.0])
    d = sim.decisions[1]
    rest = 400_000.0 * (1 - 0.2)  # after privacy
    assert spend["C marketing"][1] == pytest.approx(rest * 0.8 * d.c_split["acquisition"])
    assert spend["B sales"][1] == pytest.approx(rest * 0.2 * d.b_split["acquisition"])
    assert spend["C build"][0] == pytest.approx(270_000.0 * 0.5 * (1 - d.c_split["acquisition"]))


def test_fmt_digits_shorten_digits_never_the_suffix():
    assert [fmt(v) for v in (78_700.0, 8025.0, 99.94, 999_999.0)] == [
        "78.7k",
        "8025",
        "99.9",
        "1000k",
    ]
    assert [fmt(v, 2) for v in (78_700.0, 8025.0, 99.94, 0.0943, -9999.0)] == [
        "79k",
        "8k",
        "100",
        "0.094",
        "-10k",
    ]
    assert [pct(v) for v in (0.013, 0.00015, 0.0, math.nan)] == ["1.3%", "0.015%", "0%", "n/a"]
    assert value("incident_prob", 0.0164) == "1.64%" and value("mrr_c", 78_700.0, 2) == "79k"
    assert signed(-0.00015, 2, "incident_prob") == "-0.015pp" and signed(1234.0) == "+1234"


async def test_tables_keep_their_units_at_60_columns(tmp_path, monkeypatch):
    """At 60x20 the preview beside the allocation panel has 24 columns: it shortens digits
    and leaves out columns, and every number it shows keeps its k/M suffix or %."""
    from stratsim.tui.app import StratsimApp, TuiOptions
    from stratsim.tui.widgets.kpis import KpiTable, PreviewTable

    monkeypatch.chdir(tmp_path)
    app = StratsimApp(
        TuiOptions(paths=100, device="cpu", seed=0, check_recovery=False, autosave=False)
    )
    async with app.run_test(size=(60, 20)) as pilot:
        for _ in range(1500):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if app.engine_ready and not app.busy:
                break
            await asyncio.sleep(0.02)
        for _ in range(6):
            await pilot.press("n")
            for _ in range(500):
                await app.workers.wait_for_complete()
                await pilot.pause()
                if not app.busy:
                    break
        await pilot.pause(0.3)
        for table_type, tab in ((PreviewTable, "tab-run"), (KpiTable, "tab-kpis")):
            app.screen.query_one("#tabs").active = tab
            await pilot.pause(0.3)
            table = app.screen.query_one(table_type)
            region = table.region
            lines = [s.text for s in app.screen._compositor.render_strips()]
            shown = [line[region.x : region.right] for line in lines[region.y : region.bottom]]
            row = next(line for line in shown if "MRR /mo" in line)
            numbers = row.split("MRR /mo", 1)[1].split()
            assert numbers and all(re.fullmatch(r"\d+(\.\d+)?k", n) for n in numbers[:1]), (
                tab,
                shown,
            )
            prob = next(line for line in shown if "Incident p./mo" in line)
            assert re.search(r"\d%", prob), (tab, shown)
            total = sum(c.get_render_width(table) for c in table.columns.values())
            assert total <= region.width, (tab, total, region.width)


async def test_chart_pages_before_two_periods_say_so_and_page_with_keys():
    """A bare app holding only the charts: period 0 and one period give a one-line message
    (no empty frame); two periods draw; ] and [ page (wrapping), on every page."""
    from textual.app import App

    def summary(scale: float) -> dict:
        keys = {s.kpi for c in charts.CHARTS.values() for s in c.series}
        return {
            k: {"mean": scale, "p10": scale * 0.9, "p50": scale, "p90": scale * 1.1} for k in keys
        }

    class Host(App):
        def compose(self):
            yield charts.HistoryCharts(id="charts")

    async with Host().run_test(size=(80, 20)) as pilot:
        widget = pilot.app.query_one(charts.HistoryCharts)
        empty = pilot.app.query_one("#chart-empty")
        plot = pilot.app.query_one("#chart-plot")
        for history, what in (([], "no period simulated"), ([summary(1.0)], "one period so far")):
            widget.show(history, decisions=[])
            await pilot.pause()
            text = str(empty.render())
            assert empty.display and not plot.display and what in text and "\n" not in text
        widget.focus()
        widget.show([summary(1.0), summary(2.0), summary(3.0)], decisions=[])
        await pilot.pause()
        assert plot.display and not empty.display
        for page in [*charts.PAGES[1:], charts.PAGES[0]]:
            await pilot.press("right_square_bracket")
            await pilot.pause()
            assert charts.PAGES[widget.page] == page
            assert f"Chart {widget.page + 1}/{len(charts.PAGES)}" in str(
                pilot.app.query_one("#chart-hint").render()
            )
        await pilot.press("left_square_bracket")
        assert charts.PAGES[widget.page] == charts.PAGES[-1]
