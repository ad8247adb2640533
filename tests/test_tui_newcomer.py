"""Pilot tests of the TUI defects a newcomer found at 80x24 (issue 15, "what the operator
pressed is what happens; the terminal can vanish"): quitting stops the optimizer, a load
never autosaves an older state, recovery lists the most work first, ``-`` in a value is a
character, an invalid value clears the preview, discard removes the autosave, Advise and
the header agree on ``modified``, lock files go on exit, the quit dialog stays current.
Each drives the real engine (200 paths)."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("textual")

import test_tui_safety as _safety  # noqa: E402

from stratsim.tui import advise  # noqa: E402

SIZE, Gate, dialog, ready, shows, until = (
    _safety.SIZE,
    _safety.Gate,
    _safety.dialog,
    _safety.ready,
    _safety.shows,
    _safety.until,
)
make_app = _safety.make_app  # the same app fixture (200 paths, cpu, seed 0)


def _slot1(tmp_path):
    from stratsim.engine.instances import slot_path

    return slot_path(tmp_path / "untitled.toml", 1)


# ========================================================== 1: quit stops the optimizer


async def test_quitting_during_an_optimization_stops_it(make_app, monkeypatch):
    monkeypatch.setattr(advise, "ADVISE_PATHS", 100)
    monkeypatch.setattr(advise, "ADVISE_BUDGET", 100_000)  # would run for minutes
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("v")
        await pilot.pause()
        pane = app.screen.query_one(advise.AdvisePane)
        await pilot.press("g")
        await until(pilot, lambda: pane.running and pane.trace, "optimizer progress")
        assert not pane.stop_event.is_set()
        assert not app.dirty and not app.busy  # nothing to ask: quit goes straight on
        app.action_quit_app()
        assert pane.stop_event.is_set()  # told to stop at once, not left to run its budget


# ======================================= 2: quitting while a recovery replays is prompt


async def test_quit_and_discard_while_a_recovery_loads_does_not_wait_for_it(
    make_app, tmp_path, monkeypatch
):
    import threading

    from stratsim.engine import session as store
    from stratsim.engine.simulation import Simulation

    sim = Simulation(n_paths=200, device="cpu")
    sim.run(2)
    store.save_session(sim, _slot1(tmp_path))
    real_load, gate = store.load_session, threading.Event()

    def slow_load(path, *a, **kw):  # a 1M-path replay: long, and it cannot stop mid-period
        if threading.current_thread() is not threading.main_thread():
            assert gate.wait(30)
        return real_load(path, *a, **kw)

    monkeypatch.setattr(store, "load_session", slow_load)
    app = make_app(check_recovery=True, autosave=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: dialog(app) == "ChoiceDialog", "the recovery dialog")
            await pilot.press("1")
            await until(pilot, lambda: app.busy == "loading", "the recovery to load")
            await pilot.press("q")
            await until(pilot, lambda: dialog(app) == "ChoiceDialog", "the quit dialog")
            await pilot.press("d")
            await until(pilot, lambda: not app.is_running, "quit without waiting for the load")
            assert not gate.is_set()
    finally:
        gate.set()
    assert _slot1(tmp_path).exists()  # the autosave being recovered stays for next time


# =============================================== 3: loading never autosaves an older state


async def test_a_signal_while_a_session_loads_saves_nothing(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.busy = "loading"  # what recovering an autosave shows while it replays
        assert app.autosaver.consistent_state() is None
        app.busy = ""


def test_recovery_lists_the_most_work_first(tmp_path):
    from stratsim.engine.instances import recovery_candidates, slot_path

    target = tmp_path / "big.toml"
    target.write_text("")
    old = slot_path(target, 1)
    old.write_text("[run]\nperiod = 16\nn_paths = 1000000\n")
    new = slot_path(target, 2)
    new.write_text("[run]\nperiod = 0\nn_paths = 1000000\n")
    os.utime(target, (1_000, 1_000))
    os.utime(old, (2_000, 2_000))
    os.utime(new, (3_000, 3_000))  # newest, but period 0
    found = recovery_candidates(target)
    assert [c.period for c in found] == [16, 0]
    assert "Period 16, 1,000,000 paths, saved " in found[0].describe()


# ============================================================ 4: "-" in a value is typed


async def test_minus_in_a_value_is_a_character_and_a_negative_is_refused(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        before = app.sim.decision.c_price
        inp = app.screen.query_one("#value-c_price")
        inp.focus()
        await pilot.press("-", "3")
        await pilot.pause()
        panel = app.screen.query_one("#allocation")
        assert inp.value == "-3"
        assert "c_price" in panel.invalid
        await pilot.press("enter")
        await pilot.pause()
        assert app.sim.decision.c_price == before and panel.draft.c_price == before
        await shows(pilot, app, "invalid, not applied")


# ================================================ 5: an invalid value clears the preview


async def test_an_invalid_value_clears_the_preview(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.screen.query_one("#value-c_price").focus()
        await pilot.press("3", "5")
        await until(
            pilot,
            lambda: (
                app.main.panes.draft_preview is not None
                and app.screen.query_one("#allocation").draft.c_price == 35
            ),
            "a valid draft previewed",
        )
        await pilot.press("x")
        await pilot.pause()
        assert app.main.panes.draft_preview is None
        await shows(pilot, app, "invalid draft")
        await pilot.press("backspace")
        await until(
            pilot, lambda: app.main.panes.draft_preview is not None, "the draft previewed again"
        )


# ======================================== 6: discard removes this instance's autosave


async def test_discard_on_quit_removes_the_autosave(make_app, tmp_path):
    app = make_app(autosave=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n")
        await ready(app, pilot)
        auto = app.autosaver.claim.path
        assert auto.exists() and app.dirty
        await pilot.press("q")
        await until(pilot, lambda: dialog(app) == "ChoiceDialog", "the quit dialog")
        await pilot.press("d")
        await until(pilot, lambda: not app.is_running, "the app to end")
    assert not auto.exists()
    from stratsim.engine.instances import recovery_candidates

    assert recovery_candidates(tmp_path / "untitled.toml") == []


# ================================================= 7: Advise and the header agree on dirty


async def test_an_optimization_marks_the_header_modified(make_app, monkeypatch):
    monkeypatch.setattr(advise, "ADVISE_PATHS", 100)
    monkeypatch.setattr(advise, "ADVISE_BUDGET", 12)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await shows(pilot, app, "saved", line=1)
        await pilot.press("v")
        await pilot.pause()
        pane = app.screen.query_one(advise.AdvisePane)
        await pilot.press("g")
        await until(
            pilot, lambda: pane.recommendation is not None, "the recommendation", tries=1500
        )
        assert app.dirty
        await shows(pilot, app, "modified", line=1)


# ===================================================== 8: lock files go on a clean exit


async def test_a_clean_exit_leaves_no_lock_file(make_app, tmp_path):
    app = make_app(autosave=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.autosaver.claim is not None and app.autosaver.claim.locked
        assert list(tmp_path.glob(".*.lock"))
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "the app to end")
    assert not list(tmp_path.glob(".*.lock"))


def test_a_removed_lock_file_never_lets_two_instances_hold_a_slot(tmp_path):
    from stratsim.engine import instances

    a = instances.claim_autosave(tmp_path / "plan.toml")
    lock = instances._lock_path(a.path)
    fd = os.open(lock, os.O_RDWR)  # an instance that opened the file just before...
    a.release()  # ...the holder removed it on release
    assert not lock.exists()
    b = instances.claim_autosave(tmp_path / "plan.toml")
    assert b.path == a.path and b.locked and lock.exists()
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the old file is free: locking it...
    os.close(fd)
    assert instances.held_elsewhere(b.path)  # ...does not free the slot
    c = instances.claim_autosave(tmp_path / "plan.toml")
    assert c.path != b.path
    b.release()
    c.release()


# ======================================================= 9: the quit dialog stays current


async def test_the_quit_dialog_follows_the_run(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        gate = Gate(app.sim, after=2)
        await pilot.press("r")
        await until(pilot, lambda: gate.reached.is_set(), "two periods of the run")
        await pilot.press("q")
        await until(pilot, lambda: dialog(app) == "ChoiceDialog", "the quit dialog")
        await shows(pilot, app, "running (Period 2)")
        gate.open()
        await until(
            pilot, lambda: not app.busy and app.sim.period == 36, "the run to end", tries=3000
        )
        await until(
            pilot, lambda: "unsaved changes (Period 36)" in app.screen.question, "the text updated"
        )
        await shows(pilot, app, "unsaved changes (Period")  # (wrapped: "36)." below)
        await shows(pilot, app, "36).")
        await pilot.press("escape")
