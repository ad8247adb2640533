"""The newcomer's findings on charts, sensitivity, Advise and number/unit formatting: legends
outside the plots, the band on a chart's first draw, a tornado with one labelled row per
assumption at 60x20, the app's objective (NPV+TV) in Sensitivity, money shortened and named
without a placeholder, tiny changes shown as 0, Advise at the horizon, invalid shares that
do not pretend, and the ASCII mode's tab marker, heat-map shades and file icons."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("textual")

from textual.app import App  # noqa: E402

from stratsim.format import fmt, pct  # noqa: E402
from stratsim.tui import advise, glyphs  # noqa: E402
from stratsim.tui.screen_text import screen_text  # noqa: E402
from stratsim.tui.widgets import charts  # noqa: E402
from stratsim.tui.widgets import sensitivity as sens  # noqa: E402
from stratsim.tui.widgets.kpis import signed  # noqa: E402
from tests import test_tui as _tui  # noqa: E402

make_app, ready, until = _tui.make_app, _tui.ready, _tui.until


@pytest.fixture(autouse=True)
def _unicode_after():
    yield
    glyphs.set_ascii(False)


def _history(n: int) -> list[dict]:
    keys = {s.kpi for c in charts.CHARTS.values() for s in c.series}
    out = []
    for i in range(1, n + 1):
        v = 1000.0 * i
        out.append({k: {"mean": v, "p10": v * 0.5, "p50": v, "p90": v * 1.5} for k in keys})
    return out


def _region_text(app, widget) -> list[str]:
    r = widget.region
    lines = screen_text(app).splitlines()
    return [line[r.x : r.right] for line in lines[r.y : r.bottom]]


def test_tiny_changes_are_zero_never_an_exponent():
    assert [signed(x) for x in (7.1e-05, 2.3e-07, -4e-08)] == ["0", "0", "0"]
    assert (
        signed(-4e-10, 3, "incident_prob") == "0"
        and signed(-0.00015, 2, "incident_prob") == "-0.015pp"
    )
    assert fmt(7.1e-05) == "0" and pct(1e-9) == "0%" and signed(1234.0) == "+1234"
    assert signed(float("nan"), 3, "incident_prob") == "n/a"
    for x in (1e-5, -3e-7, 5e-12):
        assert (
            "e" not in fmt(x) and "e" not in pct(x) and "e" not in signed(x, 3, "p_cash_negative")
        )


def test_axis_thousands_like_the_tables():
    assert charts.value_ticks(0, 4000, "users")[1] == ["0", "1k", "2k", "3k", "4k"]
    assert charts.tick_label(2500, "users") == "2.5k"


async def test_chart_legend_is_above_the_plot_and_first_draw_has_the_band():
    """The legend is a line above the plot (the plot holds no legend text), on every page;
    the first draw of a page equals its redraw (the band's fill is there at once)."""

    class Host(App):
        def compose(self):
            yield charts.HistoryCharts(id="charts")

    async with Host().run_test(size=(80, 24)) as pilot:
        widget = pilot.app.query_one(charts.HistoryCharts)
        widget.show(_history(1), decisions=[])  # one period: a message, the plot hidden
        await pilot.pause()
        widget.show(_history(12), decisions=[])  # the plot shown again: not laid out yet
        await pilot.pause(0.2)
        plot = pilot.app.query_one("#chart-plot")
        first = _region_text(pilot.app, plot)
        widget.focus()
        for page in charts.PAGES:
            body = "\n".join(_region_text(pilot.app, plot))
            title = str(pilot.app.query_one("#chart-title").render())
            assert "mean" not in body and "privacy" not in body, (page, body)
            if page != charts.DECISIONS_PAGE:
                legends = [s.legend for s in charts.CHARTS[page].series]
                assert all(f"{name} mean" in title for name in legends) and "P10..P90" in title
            else:
                assert all(label in title for label, _, _ in charts.LEVERS)
            await pilot.press("right_square_bracket")
            await pilot.pause(0.1)
        assert charts.PAGES[widget.page] == charts.PAGES[0]
        await pilot.pause(0.1)
        assert _region_text(pilot.app, plot) == first  # the first draw is the redraw
        assert sum(line.count(glyphs.marker("band")) for line in first) > 100  # filled band


def test_tornado_text_draws_every_assumption_with_a_label():
    rows = [
        SimpleNamespace(
            key=f"sec.param_{i}_with_a_long_name", kpi_low=-3e6 - i * 1e5, kpi_high=-3e6 + i * 2e5
        )
        for i in range(8, 0, -1)
    ]
    rows.append(SimpleNamespace(key="sec.flat", kpi_low=-3e6, kpi_high=-3e6))
    text = sens.tornado_text(rows, -3e6, 60).plain.splitlines()
    assert len(text) == 1 + len(rows)  # a legend line, then one line per assumption
    for row, line in zip(rows, text[1:], strict=True):
        name = row.key.split(".", 1)[1]
        assert line.strip().startswith(name[:10]) and len(line) <= 60
        assert "|" in line
    assert "base -3M" in text[0] and "+1.6M" in text[1] and "-800k" in text[1]


async def test_sensitivity_tornado_at_60x20_labels_every_assumption_and_names_npv_tv(
    make_app, monkeypatch
):
    monkeypatch.setattr(sens, "TUI_PATHS", 8)
    app = make_app(paths=50)
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(app, pilot)
        app.screen.query_one("#tabs").active = "tab-sensitivity"
        await pilot.pause()
        pane = app.screen.query_one(sens.SensitivityPane)
        pane.action_run("tornado")
        await until(pilot, lambda: pane.last is not None and pane.running is None, "the tornado")
        t = pane.last.result
        assert t.kpi == "npv_total"  # the app's objective, not NPV without terminal value
        status = str(pane.query_one("#sens-status").render())
        assert "NPV+TV" in status and f"{len(t.rows)} assumptions" in status
        tornado = str(pane.query_one("#sens-tornado-text").render())
        for r in t.rows:
            assert r.key.split(".", 1)[1][:12] in tornado, r.key
        assert len(tornado.strip().splitlines()) == len(t.rows) + 1


async def test_allocation_money_is_shortened_and_invalid_shares_do_not_pretend(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        text = screen_text(app)
        assert re.search(r"Budget\s+300k\s+per month", text), text
        assert "cur" not in text and "currency" not in text
        panel = app.screen.query_one("#allocation")
        budget = panel.input_for("budget")
        budget.focus()
        await pilot.pause()
        assert budget.value == "300000"  # the raw value while editing
        product = panel.input_for("c_split.product")
        product.focus()
        await pilot.pause()
        assert budget.value == "300k"
        before = {
            k: panel.input_for(f"c_split.{k}").value for k in ("ux", "service", "acquisition")
        }
        for ch in "1e39":
            await pilot.press(ch)
        await pilot.pause()
        assert "c_split.product" in panel.invalid
        after = {k: panel.input_for(f"c_split.{k}").value for k in before}
        assert after == before  # not the shares a valid prefix ("1") rebalanced them to
        total = str(app.screen.query_one("#sum-c_split").render())
        assert "1.000" not in total and "invalid" in total


async def test_advise_refuses_past_the_horizon_and_formats_its_axes(make_app, tmp_path):
    scenario = tmp_path / "short.toml"
    scenario.write_text("[simulation]\nhorizon_months = 1\n")
    app = make_app(scenario=scenario)
    notes: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
        await pilot.press("n")
        await ready(app, pilot)
        assert app.sim.period == 1 == app.sim.horizon
        await pilot.press("v", "g")
        await pilot.pause()
        pane = app.screen.query_one(advise.AdvisePane)
        assert not pane.running and any("horizon" in n for n in notes), notes
        pane.trace = [(i, 9_705_910.0 - i * 1e5, 9_705_910.0) for i in range(1, 30)]
        pane._plot_trace()
        await pilot.pause(0.2)
        chart = "\n".join(_region_text(app, pane.query_one("#advise-chart")))
        assert "9705910" not in chart and not re.search(r"\d\.\d \d", chart)
        assert re.search(r"\d(\.\d+)?M", chart) and "objective" not in chart.split("\n", 1)[1]


async def test_ascii_mode_tab_marker_heat_shades_and_file_icons(make_app, tmp_path):
    (tmp_path / "plans").mkdir()
    app = make_app(ascii=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        lines = screen_text(app).splitlines()
        rule = next(line for line in lines if set(line.strip()) <= set("-=") and line.strip())
        assert "=" in rule and "-" in rule  # the active tab's part differs from the rest
        await pilot.press("a")  # save as: the file browser
        await until(pilot, lambda: app.screen.query("TomlTree"), "the file browser")
        await pilot.pause(0.3)
        text = screen_text(app)
        assert re.search(r"\+ plans", text) and not any(ch in text for ch in "📁📂📄"), text
        await pilot.press("escape")
        await pilot.pause()
        assert glyphs.glyph("delta") == "chg"
        # heat map: the cells carry the legend's glyphs
        res = SimpleNamespace(
            prepared=SimpleNamespace(
                design=SimpleNamespace(
                    values=np.array([[s, p] for p in (0.0, 0.1) for s in (0.0, 1.0)])
                )
            ),
            horizon_values=lambda kpi: np.array([1.0, 2.0, 3.0, 4.0]),
            best=lambda kpi: 3,
            spec=SimpleNamespace(steps=36),
        )
        pane = app.screen.query_one(sens.SensitivityPane)
        pane._show_heat(res, {"draft_share": 0.5, "draft_privacy": 0.1})
        heat = str(pane.query_one("#sens-heat").render()).splitlines()
        cells = "".join(line for line in heat if "%" in line and "c_share" not in line)
        legend = next(line for line in heat if line.startswith("colour"))
        shown = {c for c in glyphs.shades() if c != " " and c in cells}
        assert shown and all(c in legend for c in shown)


def test_units_name_no_placeholder():
    from stratsim.tui import edit
    from stratsim.tui.widgets.allocation import unit_label

    assert unit_label("budget") == "per month"
    assert "currency" not in edit.FIELD_BY_KEY["budget"].describe()
    titles = " ".join(charts.PAGE_TITLES.values())
    assert "currency" not in titles and "per month" in titles
