"""Pilot tests of the Advise tab at 80x24: it runs the optimizer with live progress, can
be cancelled, and copying the recommendation changes the draft and the preview (nothing
is applied)."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("textual")

from stratsim.tui import advise  # noqa: E402
from stratsim.tui.screen_text import screen_text  # noqa: E402
from tests import test_tui as _tui  # noqa: E402

SIZE, ready = _tui.SIZE, _tui.ready
make_app = _tui.make_app  # the same app fixture (200 paths, cpu, seed 0)


async def _until(pilot, cond, what: str, tries: int = 1500) -> None:
    for _ in range(tries):
        await pilot.pause()
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_advise_runs_shows_progress_and_copy_changes_draft_and_preview(make_app, monkeypatch):
    monkeypatch.setattr(advise, "ADVISE_PATHS", 100)
    monkeypatch.setattr(advise, "ADVISE_BUDGET", 12)
    seen = []
    app = make_app()
    async with app.run_test(
        size=SIZE,
        message_hook=lambda m: seen.append(m) if isinstance(m, advise.AdviseProgress) else None,
    ) as pilot:
        await ready(app, pilot)
        before = app.sim.decision
        await pilot.press("v")
        await pilot.pause()
        pane = app.screen.query_one(advise.AdvisePane)
        assert app.screen.focused in (pane, *pane.query("*"))  # the pane's keys act
        assert "Advise" in screen_text(app) and "g optimize" in screen_text(app)
        await pilot.press("g")
        await _until(pilot, lambda: pane.recommendation is not None, "the recommendation")
        assert any(not m.done for m in seen), "no live progress was posted"
        assert pane.trace and "evaluations" in screen_text(app)
        text = screen_text(app)
        assert "recommended" in text and "sig" in text
        rec = pane.recommendation
        assert len(app.sim.optimizations) == 1 and app.sim.optimizations[0]["period"] == 0
        assert app.sim.decision == before  # nothing applied
        await pilot.press("c")
        await pilot.pause()
        panel = app.screen.query_one("#allocation")
        assert panel.draft == rec.recommended[0] != before
        assert app.sim.decision == before and app.sim.period == 0  # still only a draft
        preview = app.screen.query_one("#preview")
        assert app.main.panes.draft_preview is not None
        assert app.main.panes.draft_preview["mrr"]["mean"] != app.sim.preview(before)["mrr"]["mean"]
        assert preview.row_count > 0


async def test_advise_can_be_cancelled(make_app, monkeypatch):
    monkeypatch.setattr(advise, "ADVISE_PATHS", 100)
    monkeypatch.setattr(advise, "ADVISE_BUDGET", 300)  # finishes (and fails) if x does not stop it
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("v", "g")
        pane = app.screen.query_one(advise.AdvisePane)
        await _until(pilot, lambda: len(pane.trace) >= 2, "progress")
        await pilot.press("x")
        await _until(pilot, lambda: not pane.running, "the cancelled run to end")
        rec = pane.recommendation
        assert rec is not None and rec.search.cancelled
        assert rec.search.evals < 300
        assert "cancelled" in screen_text(app)
