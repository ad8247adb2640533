"""Shared Pilot helpers of the TUI tests: waits on conditions, never on sleeps (the
``make_app`` fixture is in ``conftest.py``)."""

from __future__ import annotations

import asyncio


async def ready(app, pilot) -> None:
    for _ in range(500):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if (
            app.engine_ready
            and not app.busy
            and app.main is not None
            and not app.main.panes.pending
        ):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"app not idle: busy={app.busy!r}")


async def until(pilot, cond, what: str, tries: int = 500) -> None:
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for: {what}")
