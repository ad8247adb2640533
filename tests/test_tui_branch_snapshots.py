"""Snapshots at 80x24 (issue 12): Compare with a branch kept at Period 2 and stepped to
the current Period 5, and the offer of a trained model (fixed metrics, so no training
run or date enters). Update with ``pytest tests/test_tui_branch_snapshots.py
--snapshot-update`` and look at the SVGs before committing them."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("pytest_textual_snapshot")

from stratsim.tui.app import StratsimApp, TuiOptions  # noqa: E402


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return StratsimApp(
        TuiOptions(paths=200, device="cpu", seed=0, check_recovery=False, autosave=False)
    )


async def _idle(pilot, cond=lambda: True) -> None:
    app = pilot.app
    for _ in range(1000):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.engine_ready and not app.busy and cond():
            await pilot.pause(0.2)
            await pilot.wait_for_scheduled_animations()
            return
        await asyncio.sleep(0.02)
    raise AssertionError("app not idle")


async def _branch_stepped(pilot) -> None:
    app = pilot.app
    await _idle(pilot)
    await pilot.press("n", "n")
    await _idle(pilot)
    await pilot.press("b")
    await pilot.pause()
    await pilot.press("enter")  # keep p2-fixed
    await _idle(pilot)
    await pilot.press("p", "n", "n", "n")  # feedback, to Period 5
    await _idle(pilot)
    app.screen.query_one("#tabs").active = "tab-compare"

    def stepped() -> bool:
        return str(app.screen.query_one("#compare-table").get_cell("mrr", "branch")) != "–"

    await _idle(pilot, stepped)


async def _adopt_offer(pilot) -> None:
    from stratsim.tui.screens.adopt_dialog import AdoptDialog

    await _idle(pilot)
    rows = [("R²", "0.87", "0.19"), ("RMSE", "0.623", "1.41")]
    warnings = [
        "weaker than the current model: test R² 0.19 vs 0.87",
        "weaker than the current model: test RMSE 1.41 vs 0.623",
    ]
    pilot.app.push_screen(
        AdoptDialog(
            "satisfaction",
            "linear (trained, R² 0.870)",
            "mlp 64x64 (trained, R² 0.190)",
            3,
            rows,
            warnings,
        )
    )
    await pilot.pause(0.2)
    await pilot.wait_for_scheduled_animations()


def test_compare_with_a_branch_stepped_80x24(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=_branch_stepped)


def test_adopt_dialog_80x24(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=_adopt_offer)
