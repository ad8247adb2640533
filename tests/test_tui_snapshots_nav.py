"""Snapshot tests at 80x24 of every tab after three periods (reached by its tab key), the
help screen, the branch dialog and the training dialog: nothing cut off, the footer
keeps Save, Save as, Help and Quit. Update with
``pytest tests/test_tui_snapshots_nav.py --snapshot-update`` and look at the SVGs in
tests/__snapshots__/test_tui_snapshots_nav/ before committing them."""

from __future__ import annotations

import asyncio
import time

import pytest

pytest.importorskip("pytest_textual_snapshot")

from stratsim.tui.app import StratsimApp, TuiOptions  # noqa: E402
from stratsim.tui.bindings import TABS  # noqa: E402

SIZE = (80, 24)


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "12:00:00")  # the Log's stamps
    return StratsimApp(
        TuiOptions(paths=200, device="cpu", seed=0, check_recovery=False, autosave=False)
    )


async def _settle(pilot) -> None:
    app = pilot.app
    for _ in range(1000):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if (
            app.engine_ready
            and not app.busy
            and app.main is not None
            and not app.main.panes.pending
        ):
            await pilot.pause(0.2)  # the deferred refresh of lazily mounted panes
            await pilot.wait_for_scheduled_animations()
            return
        await asyncio.sleep(0.02)
    raise AssertionError("engine not ready")


def _after_steps(*keys: str):
    async def run(pilot) -> None:
        await _settle(pilot)
        await pilot.press("n", "n", "n")
        await _settle(pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.1)
        await _settle(pilot)
        for bar in pilot.app.screen.query("#sens-progress"):
            bar.update(total=100, progress=0)  # an idle, indeterminate bar moves with the clock

    return run


@pytest.mark.parametrize("key", [str(i) for i in range(1, len(TABS) + 1)], ids=[t for _, t in TABS])
def test_tab_80x24(snap_compare, app, key):
    assert snap_compare(app, terminal_size=SIZE, run_before=_after_steps(key))


def test_help_80x24(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=_after_steps("question_mark"))


def test_branch_dialog_80x24(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=_after_steps("b"))


def test_train_dialog_80x24(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=_after_steps("t", "2"))
