"""Snapshot tests (pytest-textual-snapshot) of the charts, the number formats and units,
and the Sensitivity tab, at 80x24 (the KPIs and the Run tab also at 60x20).

Update with ``pytest tests/test_tui_snapshots_charts.py --snapshot-update`` and look at
the SVGs in tests/__snapshots__/test_tui_snapshots_charts/ before committing them."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("pytest_textual_snapshot")

from stratsim.tui.app import StratsimApp, TuiOptions  # noqa: E402
from stratsim.tui.widgets import charts as charts_mod  # noqa: E402
from stratsim.tui.widgets import sensitivity as sens  # noqa: E402


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return StratsimApp(
        TuiOptions(paths=100, device="cpu", seed=0, check_recovery=False, autosave=False)
    )


async def _idle(pilot) -> None:
    app = pilot.app
    for _ in range(1500):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.engine_ready and not app.busy and not (app.main and app.main.queued):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("app not idle")


async def _settle(pilot) -> None:
    await pilot.pause(0.2)  # the deferred refresh of lazily mounted panes
    await pilot.wait_for_scheduled_animations()


async def _steps(pilot, n: int) -> None:
    await _idle(pilot)
    for _ in range(n):
        await pilot.press("n")
        await _idle(pilot)
    await _settle(pilot)


def _tab(pilot, tab: str) -> None:
    pilot.app.screen.query_one("#tabs").active = tab


async def test_charts_after_12_periods_every_page(snapshot, app):
    """Every page of the Charts tab after 12 periods, in one run of the app (one SVG per
    page: ``..._every_page[users].svg``...; syrupy's SVG extension of
    pytest-textual-snapshot, so ``--snapshot-update`` writes them like the others)."""
    from pytest_textual_snapshot import SVGImageExtension

    svg = snapshot.use_extension(SVGImageExtension)
    async with app.run_test(size=(80, 24)) as pilot:
        await _steps(pilot, 12)
        _tab(pilot, "tab-charts")
        await _settle(pilot)
        charts = pilot.app.screen.query_one(charts_mod.HistoryCharts)
        charts.focus()
        for page in charts_mod.PAGES:
            await _settle(pilot)
            assert charts_mod.PAGES[charts.page] == page
            assert svg(name=page) == pilot.app.export_screenshot(title="stratsim")
            await pilot.press("right_square_bracket")


def test_charts_at_period_0_say_why_they_are_empty(snap_compare, app):
    async def run_before(pilot):
        await _steps(pilot, 0)
        _tab(pilot, "tab-charts")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_kpis_60x20_keep_their_units(snap_compare, app):
    async def run_before(pilot):
        await _steps(pilot, 12)
        _tab(pilot, "tab-kpis")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=(60, 20), run_before=run_before)


def test_run_tab_60x20_preview_keeps_units(snap_compare, app):
    async def run_before(pilot):
        await _steps(pilot, 12)

    assert snap_compare(app, terminal_size=(60, 20), run_before=run_before)


def test_allocation_panel_units_80x24(snap_compare, app):
    async def run_before(pilot):
        await _steps(pilot, 1)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("kind", ["heat", "tornado"])
def test_sensitivity(snap_compare, app, monkeypatch, kind):
    monkeypatch.setattr(sens, "TUI_PATHS", 8)

    async def run_before(pilot):
        await _idle(pilot)
        _tab(pilot, "tab-sensitivity")
        await _settle(pilot)
        pane = pilot.app.screen.query_one(sens.SensitivityPane)
        pane.action_run(kind)
        for _ in range(3000):
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            if pane.running is None:
                break
            await asyncio.sleep(0.02)
        assert pane.last is not None and pane.last.error is None
        await _settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
