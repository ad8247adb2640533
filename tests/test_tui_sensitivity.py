"""Pilot test of the Sensitivity tab: a tornado of the current scenario, a c_share sweep
around the draft (line) and a c_share x privacy_share heat map, each in a worker."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("textual")

from stratsim.tui.app import StratsimApp, TuiOptions  # noqa: E402
from stratsim.tui.widgets import sensitivity as sens  # noqa: E402


async def _wait_done(app, pilot, pane) -> None:
    for _ in range(1500):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if pane.running is None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("analysis did not finish")


async def test_sensitivity_tab_tornado_line_and_heat_map(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sens, "TUI_PATHS", 8)
    opts = TuiOptions(
        paths=50, device="cpu", seed=0, check_recovery=False, models_dir=tmp_path / "m"
    )
    app = StratsimApp(opts)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(400):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if app.engine_ready and not app.busy:
                break
            await asyncio.sleep(0.02)
        from textual.widgets import TabbedContent

        app.screen.query_one(TabbedContent).active = "tab-sensitivity"
        await pilot.pause()
        pane = app.screen.query_one(sens.SensitivityPane)
        await pilot.click("#sens-tornado")
        await _wait_done(app, pilot, pane)
        assert pane.last is not None and pane.last.kind == "tornado", pane.last and pane.last.error
        t = pane.last.result
        assert len(t.rows) >= 3 and t.best_share_base is not None
        status = str(pane.query_one("#sens-status").render())
        assert "Tornado" in status and t.rows[0].key in status
        assert app.sim.period == 0  # the analysis never steps the app's simulation

        # a draft with another budget: the sweep runs around it
        app.sim.set_decision(app.sim.decision.with_changes(budget=250_000.0))
        app.main.refresh_all()
        await pilot.pause()
        pane.query_one("#sens-line").focus()
        await pilot.press("l")
        await _wait_done(app, pilot, pane)
        assert pane.last.kind == "line"
        res = pane.last.result
        assert res.prepared.design.n_points == sens.SWEEP_SHARES
        # the sweep is around the draft: its other levers are the simulation's decision
        assert all(d.budget == 250_000.0 for d in res.prepared.decisions)
        assert "best c_share" in str(pane.query_one("#sens-status").render())

        await pilot.press("m")
        await _wait_done(app, pilot, pane)
        assert pane.last.kind == "heat"
        heat = str(pane.query_one("#sens-heat").render())
        assert "privacy_share" in heat and "*" in heat
        assert pane.has_class("heat")
