"""Pilot tests of issue 15's TUI items at 80x24: nothing the operator owns is lost, what
the operator pressed is what happens, user text is shown as text, absurd input is
refused. Each drives the real engine (200 paths)."""

from __future__ import annotations

import asyncio
import signal
import threading

import pytest

pytest.importorskip("textual")

from stratsim.tui.app import StratsimApp, TuiOptions  # noqa: E402
from stratsim.tui.screen_text import screen_text  # noqa: E402

SIZE = (80, 24)


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    apps: list[StratsimApp] = []

    def make(**kw) -> StratsimApp:
        opts = dict(
            paths=200,
            device="cpu",
            seed=0,
            check_recovery=False,
            models_dir=tmp_path / "models",
            train_epochs=3,
        )
        opts.update(kw)
        app = StratsimApp(TuiOptions(**opts))
        apps.append(app)
        return app

    yield make
    for app in apps:  # the autosave slots they claimed (a test that stops early)
        if getattr(app, "_claim", None) is not None:
            app.autosaver.claim.release()


async def ready(app, pilot) -> None:
    """Wait for the engine worker, the messages it posted and the queued keys."""
    for _ in range(600):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if (
            app.engine_ready
            and not app.busy
            and not app.training
            and not app.main.queued
            and not app.main.panes.pending
        ):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"app not idle: busy={app.busy!r} training={app.training}")


async def until(pilot, cond, what: str, tries: int = 500) -> None:
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for: {what}")


async def shows(pilot, app, needle: str, line: int | None = None) -> None:
    """Wait until the screen shows ``needle`` (on line ``line`` if given): a screen just
    pushed is drawn a frame later."""

    def seen() -> bool:
        text = screen_text(app)
        return needle in (text.splitlines()[line] if line is not None and text else text)

    await until(pilot, seen, f"{needle!r} on screen")


def dialog(app) -> str:
    return type(app.screen).__name__


class Gate:
    """Holds ``sim.step`` in the worker thread after ``after`` steps until opened."""

    def __init__(self, sim, after: int) -> None:
        self.sim, self.after = sim, after
        self.steps = 0
        self.reached = threading.Event()
        self.opened = threading.Event()
        self._step = sim.step
        sim.step = self.step

    def step(self, *a, **kw):
        out = self._step(*a, **kw)
        self.steps += 1
        if self.steps >= self.after and threading.current_thread() is not threading.main_thread():
            self.reached.set()
            assert self.opened.wait(30)
        return out

    def open(self) -> None:
        self.opened.set()
        self.sim.step = self._step


# ==================================================================== 2: terminal


async def test_signal_during_a_replay_autosaves_the_last_consistent_state(make_app, tmp_path):
    """SIGHUP while undo replays (a worker re-simulates from period 0): the autosave
    holds the state before the undo, never the half-replayed one."""
    from stratsim.engine.session import load_session

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        for _ in range(8):
            app.main.action_step()
        assert app.sim.period == 8
        gate = Gate(app.sim, after=1)  # the replay stops after its first period
        await pilot.press("u")
        await until(pilot, gate.reached.is_set, "the replay to be half-way")
        assert app.sim.period == 1 and app.busy == "undoing"
        app.autosaver.signal_guard._handle(signal.SIGHUP, None)  # what the signal would run
        try:
            loaded = load_session(tmp_path / "untitled.autosave.toml")
        finally:
            gate.open()
        assert loaded.simulation.period == 8 and loaded.matches
        await pilot.pause()
    assert app.return_code == 128 + signal.SIGHUP


# =============================================================== 3: what is pressed


async def test_run_marks_modified_from_the_first_period_and_quitting_asks(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        gate = Gate(app.sim, after=2)
        await pilot.press("r")
        await until(pilot, lambda: gate.reached.is_set() and app.dirty, "two periods of the run")
        assert app.busy == "running"
        await shows(pilot, app, "modified", line=1)
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running and dialog(app) == "ChoiceDialog"
        await shows(pilot, app, "running")
        await pilot.press("escape")
        gate.open()
        await ready(app, pilot)
        assert app.is_running and app.sim.period == 36


async def test_keys_pressed_while_busy_are_queued_in_order(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        for _ in range(6):
            app.main.action_step()
        gate = Gate(app.sim, after=1)
        await pilot.press("u")
        await until(pilot, gate.reached.is_set, "the undo to run")
        await pilot.press(*"uuu", "n", "p")
        await pilot.pause()
        assert app.main.queued == ["undo", "undo", "undo", "step", "cycle_policy"]
        await shows(pilot, app, "5 queued", line=1)
        gate.open()
        await ready(app, pilot)
        # 6 - 1 (the running undo) - 3 (queued undos) + 1 (queued step) = 3
        assert app.sim.period == 3
        assert app.sim.policy_name == "feedback"
        await until(
            pilot,
            lambda: "Period 3/36" in (t := screen_text(app)) and "queued" not in t.splitlines()[1],
            "the queue to empty",
        )


async def test_keys_pressed_while_the_engine_loads_are_queued(make_app, monkeypatch):
    loaded = threading.Event()
    from stratsim.tui.loading import EngineLoader

    build = EngineLoader._new_simulation

    def slow_load(self):  # the engine worker waits (as for a slow torch import)
        assert loaded.wait(30)
        return build(self)

    monkeypatch.setattr(EngineLoader, "_new_simulation", slow_load)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "MainScreen", "the main screen")
        await pilot.press("n", "n", "n")
        await pilot.pause()
        await shows(pilot, app, "3 keys queued", line=1)
        assert app.sim is None
        loaded.set()
        await ready(app, pilot)
        assert app.sim.period == 3


async def test_escape_glued_to_a_letter_in_a_value_is_escape_then_the_letter(make_app):
    import time

    from textual._xterm_parser import XTermParser

    # tmux/SSH deliver esc + n in one read; Textual's parser makes it alt+n
    parser = XTermParser()
    keys = list(parser.feed("\x1bn"))
    time.sleep(0.2)
    assert [k.key for k in [*keys, *parser.tick()]] == ["alt+n"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        budget = app.screen.query_one("#value-budget")
        budget.focus()
        await pilot.pause()  # focused (and its value selected) before typing
        await pilot.press("5", "alt+n")
        await ready(app, pilot)
        assert "n" not in budget.value
        assert app.sim.period == 1  # the step happened, with the policy's budget
        assert app.sim.decisions[-1].budget == 300_000
        assert app.focused is None


def test_a_decimal_comma_is_a_decimal_never_a_thousands_separator():
    from stratsim.engine.errors import DecisionError
    from stratsim.tui.edit import parse_value

    assert parse_value("c_price", "12,5") == 12.5
    assert parse_value("budget", "1_000") == 1000
    for ambiguous in ("12,500", "1,2,3", "1.2,5", "12,"):
        with pytest.raises(DecisionError, match="comma"):
            parse_value("c_price", ambiguous)


async def test_a_decimal_comma_typed_in_a_value(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        price = app.screen.query_one("#value-c_price")
        price.focus()
        await pilot.pause()  # focused (and its value selected) before typing
        await pilot.press("ctrl+u", "1", "2", ",", "5", "enter")
        await until(pilot, lambda: app.sim.decision.c_price == 12.5, "C price 12.5 applied")


async def test_recovery_dialog_is_not_dismissed_by_n(make_app, tmp_path):
    from stratsim.engine import session as store
    from stratsim.engine.simulation import Simulation

    sim = Simulation(n_paths=200, device="cpu")
    sim.run(2)
    store.autosave(sim, tmp_path / "untitled.toml")
    app = make_app(check_recovery=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert dialog(app) == "ChoiceDialog"
        await pilot.press("n", "n")
        await pilot.pause()
        assert dialog(app) == "ChoiceDialog" and app.sim.period == 0
        await pilot.press("i")
        await pilot.pause()
        assert dialog(app) == "MainScreen"


async def test_a_pending_draft_is_applied_or_the_step_asks(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        budget = app.screen.query_one("#value-budget")
        budget.focus()
        await pilot.pause()  # focused (and its value selected) before typing
        await pilot.press("ctrl+u", *"250000", "shift+tab")
        await pilot.pause()
        app.screen.set_focus(None)
        await pilot.press("n")
        await pilot.pause()
        assert dialog(app) == "ChoiceDialog" and app.sim.period == 0
        await shows(pilot, app, "draft allocation is not applied")
        await pilot.press("y")
        await ready(app, pilot)
        assert app.sim.period == 1
        assert app.sim.decisions[-1].budget == 250_000


async def test_a_failed_autosave_stays_on_screen_until_one_succeeds(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        blocker = app.autosaver.claim.path
        assert blocker == tmp_path / "untitled.autosave.toml"
        blocker.mkdir()  # the autosave cannot replace a folder (root ignores permissions)
        await pilot.press("n")
        await until(
            pilot, lambda: "AUTOSAVE FAILED" in screen_text(app), "the failure in the header"
        )
        await pilot.press("n", "p")
        await pilot.pause(0.3)
        assert "AUTOSAVE FAILED" in screen_text(app)  # still there, not a passing toast
        blocker.rmdir()
        await pilot.press("n")
        await until(
            pilot,
            lambda: "Period 3/36" in (t := screen_text(app)) and "AUTOSAVE FAILED" not in t,
            "the failure to go",
        )
        assert blocker.is_file() and app.sim.period == 3


# ================================================================ 4: text as text


async def test_markup_typed_into_a_value_is_text(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.screen.query_one("#value-budget").focus()
        await pilot.pause()  # focused (and its value selected) before typing
        await pilot.press("ctrl+u", "[", "/", "]")
        await pilot.pause()
        assert app.is_running
        await shows(pilot, app, "'[/]'")


async def test_a_session_name_with_markup_and_a_newline(make_app, tmp_path):
    from stratsim.engine import session as store
    from stratsim.engine.simulation import Simulation

    weird = tmp_path / "q3\nplan.toml"
    sim = Simulation(n_paths=200, device="cpu")
    sim.step()
    store.save_session(sim, weird, name="Q3 plan [/draft]")
    app = make_app(session=weird)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "q")
        await pilot.pause()
        assert dialog(app) == "ChoiceDialog"
        await shows(pilot, app, "Q3 plan [/draft]")
        await pilot.press("escape")
        await pilot.pause()
        await shows(pilot, app, "q3\\nplan.toml", line=0)


async def test_branch_names_and_training_errors_with_markup(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "b")
        await pilot.pause()
        name = app.screen.query_one("#branch-name")
        name.value = "[/b] x[b]"
        await pilot.press("enter")
        await pilot.pause()
        await shows(pilot, app, "[/b] x[b]")
        await pilot.press("b")
        await pilot.pause()
        await shows(pilot, app, "[/b] x[b]")  # the branch list
        await pilot.press("escape")
        await pilot.pause()
        # a training that failed on a data file: the Training pane and the error dialog
        # (what the App's one worker-failure handler calls when the training worker raises)
        app.training = True
        app.main.jobs.training_failed("survey [/x].csv: column 'ux[/b]' is missing")
        await shows(pilot, app, "survey [/x].csv: column 'ux[/b]' is missing")
        assert dialog(app) == "MessageDialog"
        await pilot.press("escape")
        app.screen.query_one("#tabs").active = "tab-training"
        await shows(pilot, app, "failed: survey [/x].csv")
        assert app.is_running


def test_printable_escapes_controls_only():
    from stratsim.tui.text import printable, safe, shorten_path

    assert printable("café 東京 [/b]") == "café 東京 [/b]"
    assert printable("a\nb\tc\x1b[31m\udce9") == "a\\nb\\tc\\x1b[31m\\xe9"
    assert shorten_path("/a/b/c/d/plan.toml", 14) == "…/d/plan.toml"
    assert safe("x [/b] y\\") == "x \\[/b] y\\\u200b"


# ===================================================== 1: save as, instances, recovery


async def test_save_as_onto_an_existing_file_asks_and_the_header_shows_the_file(make_app, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await shows(pilot, app, "file: none yet")
        await pilot.press("n", "a")
        await pilot.pause()
        app.screen.query_one("#file-path").value = str(notes)
        await pilot.press("enter")
        await pilot.pause()
        await shows(pilot, app, "not a stratsim session")
        assert dialog(app) == "ChoiceDialog"
        await pilot.press("escape")
        await pilot.pause()
        assert notes.read_text() == "my notes\n" and app.session_path is None
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("#file-path").value = str(tmp_path / "plan.toml")
        await pilot.press("enter")
        await pilot.pause()
        assert (tmp_path / "plan.toml").is_file()
        await shows(pilot, app, "plan.toml", line=0)
        await pilot.press("n", "a")  # onto the same file: no question
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert dialog(app) == "MainScreen" and not app.dirty
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("#file-path").value = str(notes)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("r")  # replace, confirmed
        await pilot.pause()
        assert notes.read_text().startswith("schema_version")
        await shows(pilot, app, "notes.txt", line=0)


async def test_save_as_into_another_folder_brings_the_models(make_app, tmp_path):
    from stratsim.engine.session import load_session

    app = make_app(models_dir=None)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "t")
        await pilot.pause()
        await pilot.press("enter")  # satisfaction, linear, 3 epochs, sample data
        await ready(app, pilot)
        await pilot.press("1")  # the offer: use it from the next period
        await ready(app, pilot)
        assert app.sim.satisfaction_model.path.is_relative_to(tmp_path / "models")
        other = tmp_path / "elsewhere"
        other.mkdir()
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("#file-path").value = str(other / "plan.toml")
        await pilot.press("enter")
        await pilot.pause()
    copied = list((other / "models").glob("satisfaction-*/satisfaction.pt"))
    assert len(copied) == 1 and copied[0].with_suffix(".toml").is_file()
    loaded = load_session(other / "plan.toml")  # no allow_external_models: it is all beside it
    assert loaded.simulation.satisfaction_model.kind == "linear" and loaded.matches


async def test_two_instances_never_write_the_same_autosave(make_app, tmp_path):
    from stratsim.engine.instances import claim_autosave, recovery_candidates
    from stratsim.engine.session import load_session

    other = claim_autosave(tmp_path / "untitled.toml")  # another instance holds slot 1
    assert other.path.name == "untitled.autosave.toml"
    try:
        app = make_app(check_recovery=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await pilot.press("n", "n")
            await ready(app, pilot)
        assert not other.path.exists()
        mine = tmp_path / "untitled.2.autosave.toml"
        assert load_session(mine).simulation.period == 2
        # the app has ended: its autosave is offered now; the live instance's slot never
        assert [c.path for c in recovery_candidates(tmp_path / "untitled.toml")] == [mine]
    finally:
        other.release()


async def test_recovery_lists_each_candidate_with_its_period_and_time(make_app, tmp_path):
    from stratsim.engine import session as store
    from stratsim.engine.instances import slot_path
    from stratsim.engine.simulation import Simulation

    target = tmp_path / "untitled.toml"
    sim = Simulation(n_paths=200, device="cpu")
    sim.run(3)
    store.save_session(sim, slot_path(target, 1))
    sim.run(2)
    store.save_session(sim, slot_path(target, 2))  # newer: listed first
    app = make_app(check_recovery=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert dialog(app) == "ChoiceDialog"
        await shows(pilot, app, "1  Period 5, 200 paths, saved ")
        await shows(pilot, app, "2  Period 3, 200 paths, saved ")
        await pilot.press("2")
        await ready(app, pilot)
        assert app.sim.period == 3 and app.dirty


# ================================================================= 5: absurd values


async def test_an_absurd_budget_is_refused_at_the_input(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.screen.query_one("#value-budget").focus()
        await pilot.pause()  # focused (and its value selected) before typing
        await pilot.press("ctrl+u", *"1e39", "enter")
        await pilot.pause()
        assert app.sim.decision.budget == 300_000
        await shows(pilot, app, "invalid, not applied")
        app.screen.set_focus(None)
        await pilot.press("escape", "n")
        await pilot.pause()
        assert app.sim.period == 1 and app.is_running


async def test_charts_skip_non_finite_points(make_app):
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "n")
        await pilot.pause()
        first, last = app.sim.history[-2], app.sim.history[-1]
        last["mrr_c"] = {k: float("inf") for k in last["mrr_c"]}  # the first chart: on screen
        first["mrr_b"] = {k: 1e308 for k in first["mrr_b"]}
        last["mrr_b"] = {k: -1e308 for k in last["mrr_b"]}
        last["npv"] = {k: float("nan") for k in last["npv"]}
        app.screen.query_one("#tabs").active = "tab-charts"
        await pilot.pause(0.3)
        assert app.is_running
        await shows(pilot, app, "not drawable")
    from stratsim.tui.widgets.charts import finite_points

    assert finite_points([1, 2, 3, 4, 5], [1.0, float("inf"), float("nan"), 2.0, -1e308]) == (
        [1, 4],
        [1.0, 2.0],
    )


def test_autosave_slots_and_their_locks(tmp_path):
    from stratsim.engine.instances import claim_autosave, held_elsewhere, recovery_candidates

    a = claim_autosave(tmp_path / "plan.toml")
    b = claim_autosave(tmp_path / "plan.toml")
    assert (a.path.name, b.path.name) == ("plan.autosave.toml", "plan.2.autosave.toml")
    a.path.write_text("[run]\nperiod = 4\n")
    b.path.write_text("[run]\nperiod = 7\n")
    assert held_elsewhere(a.path) and held_elsewhere(b.path)
    assert recovery_candidates(tmp_path / "plan.toml") == []  # both live
    assert [c.period for c in recovery_candidates(tmp_path / "plan.toml", own=b.path)] == [7]
    a.release()
    assert sorted(c.period for c in recovery_candidates(tmp_path / "plan.toml", own=b.path)) == [
        4,
        7,
    ]
    b.release()
    # a new instance never takes a slot that holds an autosave left behind
    c = claim_autosave(tmp_path / "plan.toml")
    assert c.path.name == "plan.3.autosave.toml" and a.path.read_text() == "[run]\nperiod = 4\n"
    c.release()


def test_a_hung_up_terminal_is_noticed_without_any_signal():
    import os

    from stratsim.tui import terminal

    master, slave = os.openpty()
    lost = threading.Event()
    watch = terminal.TerminalWatch(slave, on_lost=lost.set)
    watch.start()
    try:
        assert terminal.terminal_alive(slave)
        os.close(master)  # the far end goes (a dropped SSH connection)
        assert lost.wait(10)
        assert not terminal.terminal_alive(slave)
    finally:
        watch.stop()
        os.close(slave)


def test_textual_serve_keeps_its_own_driver(monkeypatch):
    from stratsim.tui import terminal

    monkeypatch.setenv("TEXTUAL_DRIVER", "textual_serve.driver:WebDriver")
    assert terminal.driver_class() is None
    monkeypatch.delenv("TEXTUAL_DRIVER")
    assert terminal.driver_class().__name__ == "StratsimDriver"


async def test_quitting_during_a_run_can_stop_save_and_quit(make_app, tmp_path):
    from stratsim.engine import session as store
    from stratsim.engine.simulation import Simulation

    plan = tmp_path / "plan.toml"
    store.save_session(Simulation(n_paths=200, device="cpu"), plan)
    app = make_app(session=plan)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        gate = Gate(app.sim, after=2)
        await pilot.press("r")
        await until(pilot, gate.reached.is_set, "two periods of the run")
        await pilot.press("q", "s")
        await pilot.pause()
        gate.open()
        await until(pilot, lambda: not app.is_running, "the app to quit")
    saved = store.load_session(plan)
    assert 2 <= saved.simulation.period < 36 and saved.matches
