"""Snapshot tests (pytest-textual-snapshot) of the main screen at 80x24 and 160x48,
the training pane mid-run (fed recorded events, so no clock or timing enters) and the
help screen. Update with ``pytest tests/test_tui_snapshots.py --snapshot-update`` and
look at the SVGs in tests/__snapshots__/ before committing them."""

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


async def _ready(pilot) -> None:
    app = pilot.app
    for _ in range(1000):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.engine_ready and not app.busy:
            await pilot.pause(0.2)  # let the deferred refresh of lazily mounted panes run
            await pilot.wait_for_scheduled_animations()
            return
        await asyncio.sleep(0.02)
    raise AssertionError("engine not ready")


async def _two_steps(pilot) -> None:
    await _ready(pilot)
    await pilot.press("n", "n")
    await pilot.pause(0.2)
    await pilot.wait_for_scheduled_animations()


def recorded_training_events():
    """A fixed mid-run state: start, 4 epochs, a batch of epoch 5 (no live training)."""
    from stratsim.engine.training import BatchProgress, EpochEnd, TrainStart

    events = [
        TrainStart(
            "satisfaction",
            "mlp",
            "cpu",
            ("functionality", "ux", "service_response"),
            7000,
            1500,
            1500,
            10,
            256,
            28,
            0.003,
            None,
        )
    ]
    losses = [(2.10, 1.90), (0.95, 0.90), (0.52, 0.50), (0.31, 0.33)]
    for e, (tr, va) in enumerate(losses, start=1):
        events.append(
            EpochEnd(
                e,
                10,
                tr,
                va,
                {"r2": 0.5 + 0.1 * e, "mae": 1.0 / e, "rmse": 1.2 / e},
                0.003,
                250_000.0,
                0.2 * e,
                0.2 * (10 - e),
                e,
                va,
                0,
                10,
                True,
            )
        )
    events.append(BatchProgress(5, 10, 14, 28, 126, 280, 0.29, 250_000.0, 0.9, 1.1))
    return events


def test_main_screen_80x24(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=_two_steps)


def test_main_screen_160x48(snap_compare, app):
    assert snap_compare(app, terminal_size=(160, 48), run_before=_two_steps)


def test_training_pane_mid_run(snap_compare, app):
    async def run_before(pilot):
        await _ready(pilot)
        screen = pilot.app.screen
        screen.query_one("#tabs").active = "tab-training"
        pane = screen.query_one("#training")
        pane.begin("satisfaction mlp on sample data")
        pane.apply_events(recorded_training_events())
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare, app):
    async def run_before(pilot):
        await _ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
