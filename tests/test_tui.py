"""Pilot tests of the TUI at 80x24: stepping, editing, preview, undo, training,
cancel, save/open, quit confirmation, help. They drive the real engine (200 paths)."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("textual")

from stratsim.tui.app import StratsimApp, TuiOptions  # noqa: E402
from stratsim.tui.screen_text import screen_text  # noqa: E402

SIZE = (80, 24)


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

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
        return StratsimApp(TuiOptions(**opts))

    return make


async def ready(app, pilot) -> None:
    """Wait for the engine worker and the messages it posted."""
    for _ in range(400):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.engine_ready and not app.busy and not app.training and not app.main.panes.pending:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"app not idle: busy={app.busy!r} training={app.training}")


async def until(pilot, cond, what: str) -> None:
    """Wait (yielding to the app) until ``cond()`` holds: panes refresh after the frame."""
    for _ in range(500):
        if cond():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for: {what}")


def cell(app, table_id: str, row: str, col: str) -> str:
    table = app.screen.query_one(f"#{table_id}")
    return str(table.get_cell(row, col))


def kpi_rows(app) -> list[list[str]]:
    table = app.screen.query_one("#kpis")
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_first_frame_shows_loading_then_period_0(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        # before the engine worker finished, the header says so (torch not needed)
        assert app.sim is None or "Period 0/36" in screen_text(app)
        await ready(app, pilot)
        text = screen_text(app)
        assert "Period 0/36" in text
        assert "policy fixed" in text
        assert "satisfaction=linear (default)" in text and "privacy=logistic (default)" in text


async def test_step_changes_period_and_kpi_table(make_app):
    from stratsim.cli._common import fmt

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert cell(app, "kpis", "mrr", "mean") == "–"
        await pilot.press("n")
        await until(
            pilot, lambda: app.sim.period == 1 and "Period 1/36" in screen_text(app), "Period 1"
        )
        first = app.sim.history[-1]["mrr"]["mean"]
        await until(
            pilot,
            lambda: cell(app, "kpis", "mrr", "mean") == fmt(first),
            "the KPI table of Period 1",
        )
        await pilot.press("n")
        await until(pilot, lambda: app.sim.period == 2, "Period 2")
        second = app.sim.history[-1]["mrr"]
        await until(
            pilot,
            lambda: cell(app, "kpis", "mrr", "mean") == fmt(second["mean"]),
            "the KPI table of Period 2",
        )
        assert cell(app, "kpis", "mrr", "p90") == fmt(second["p90"])
        assert cell(app, "kpis", "mrr", "delta") == ("+" if second["mean"] > first else "") + fmt(
            second["mean"] - first
        )
        assert app.dirty


async def test_allocation_change_previews_then_applies(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert cell(app, "preview", "mrr_c", "delta") == "0"
        app.screen.query_one("#value-c_share").focus()
        await pilot.press("up", "up", "+")
        await pilot.pause()
        panel = app.screen.query_one("#allocation")
        assert panel.draft.c_share == pytest.approx(0.53)
        # previewed, not applied: the simulation still holds the fixed policy's 0.5
        assert app.sim.policy_name == "fixed"
        assert app.sim.decision.c_share == pytest.approx(0.5)
        delta = cell(app, "preview", "mrr_c", "delta")
        assert delta not in ("0", "–")
        assert delta.startswith("+")  # more To C spend: more To C revenue next month
        await pilot.press("enter")
        await pilot.pause()
        assert app.sim.policy_name == "manual"
        assert app.sim.decision.c_share == pytest.approx(0.53)
        assert app.focused is None  # enter leaves the value: letters act again
        await pilot.press("n")
        await pilot.pause()
        assert app.sim.period == 1
        assert app.sim.decisions[-1].c_share == pytest.approx(0.53)


async def test_split_share_rebalances_others(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.screen.query_one("#value-c_split-product").focus()
        await pilot.press(*["+"] * 10)
        await pilot.pause()
        split = app.screen.query_one("#allocation").draft.c_split
        assert split["product"] == pytest.approx(0.3)
        # others keep their proportions 0.2 : 0.1 : 0.5 over the remaining 0.7
        assert split["ux"] == pytest.approx(0.2 * 0.7 / 0.8)
        assert split["service"] == pytest.approx(0.1 * 0.7 / 0.8)
        assert sum(split.values()) == pytest.approx(1.0, abs=1e-12)
        assert app.screen.query_one("#value-c_split-ux").value == f"{0.2 * 0.7 / 0.8:.3f}"


async def test_invalid_value_is_shown_and_never_applied(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        inp = app.screen.query_one("#value-privacy_share")
        inp.focus()
        inp.value = ""
        await pilot.press("1", ".", "5")
        await pilot.pause()
        assert inp.has_class("-bad")
        assert "invalid, not applied" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert app.sim.policy_name == "fixed"
        assert app.sim.decision.privacy_share == pytest.approx(0.1)
        budget = app.screen.query_one("#value-budget")
        budget.focus()
        budget.value = ""
        await pilot.press("a", "b", "c", "enter")
        await pilot.pause()
        assert budget.has_class("-bad")
        assert app.sim.decision.budget == pytest.approx(300_000.0)
        # a valid value clears the mark
        inp.focus()
        inp.value = ""
        await pilot.press("0", ".", "2")
        await pilot.pause()
        assert not inp.has_class("-bad")


async def test_letters_typed_in_an_input_do_not_fire_actions(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        budget = app.screen.query_one("#value-budget")
        budget.focus()
        await pilot.press("n", "q", "u", "r")
        await pilot.pause()
        assert app.sim.period == 0
        assert app.is_running
        assert budget.value.endswith("nqur")
        await pilot.press("escape", "n")  # escape leaves the input: letters are keys again
        await pilot.pause()
        assert app.sim.period == 1


async def test_undo_restores_previous_kpis_exactly(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "n")
        await pilot.pause()
        before = app.sim.history[-1]
        rows = kpi_rows(app)
        await pilot.press("n")
        await pilot.pause()
        assert kpi_rows(app) != rows
        await pilot.press("u")
        await ready(app, pilot)
        assert app.sim.period == 2
        assert app.sim.history[-1] == before  # bit-identical replay
        assert kpi_rows(app) == rows
        assert "Period 2/36" in screen_text(app)


async def test_policy_key_cycles(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("p")
        await pilot.pause()
        assert app.sim.policy_name == "feedback"
        await pilot.press("p")
        await pilot.pause()
        assert app.sim.policy_name == "optimize"
        await pilot.press("p")
        await pilot.pause()
        assert app.sim.policy_name == "manual"
        assert "policy manual" in screen_text(app)


async def test_training_both_models_changes_the_models_in_use(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n")
        await pilot.pause()
        before = dict(app.sim.history[-1]["satisfaction_c"])
        await pilot.press("t")
        await pilot.pause()
        assert type(app.screen).__name__ == "TrainDialog"
        await pilot.press("enter")  # Start (satisfaction, linear, 3 epochs, sample data)
        await ready(app, pilot)
        assert type(app.screen).__name__ == "AdoptDialog"
        await pilot.press("2")  # re-simulate the whole history with it
        await ready(app, pilot)
        assert type(app.sim.satisfaction_model).__name__ == "TrainedModel"
        assert app.sim.satisfaction_model.kind == "linear"
        assert len(list((tmp_path / "models").glob("satisfaction-*/satisfaction.pt"))) == 1
        text = screen_text(app)
        assert "satisfaction=linear (trained" in text
        assert "Period 1/36" in text
        # the period was re-simulated with the new model (same period, new numbers)
        assert app.sim.period == 1
        assert app.sim.history[-1]["satisfaction_c"] != before
        pane = app.screen.query_one("#training")
        assert len(pane.val_losses) >= 1
        assert "test r2" in str(app.screen.query_one("#train-metrics").render())
        await pilot.press("t")
        await pilot.pause()
        await pilot.press("3", "enter")  # privacy, logistic
        await ready(app, pilot)
        await pilot.press("2")
        await ready(app, pilot)
        assert type(app.sim.privacy_model).__name__ == "TrainedModel"
        assert app.sim.privacy_model.role == "privacy"
        assert len(list((tmp_path / "models").glob("privacy-*/privacy.pt"))) == 1


async def test_cancelling_training_leaves_ui_usable(make_app):
    from stratsim.tui.training_job import TrainRequest

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        # effectively endless: no early stopping
        app.main.jobs.start_training(
            TrainRequest("satisfaction", "mlp", epochs=100_000, patience=100_000, device="cpu")
        )
        for _ in range(500):
            await pilot.pause(0.02)
            if app.screen.query_one("#training").val_losses:
                break
        assert app.training
        await pilot.press("n")  # the UI works while training runs
        await pilot.pause()
        assert app.sim.period == 1
        await pilot.press("x")
        await ready(app, pilot)
        assert not app.training
        assert app.sim.satisfaction_model.description == "linear (shipped defaults)"
        assert "cancelled" in str(app.screen.query_one("#train-metrics").render())
        await pilot.press("n")
        await pilot.pause()
        assert app.sim.period == 2


async def test_save_then_open_restores_the_same_screen(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n")
        app.screen.query_one("#value-b_seat_price").focus()
        await pilot.press("+", "+", "enter", "escape", "n", "n")
        await pilot.pause()
        assert app.sim.period == 3
        await pilot.press("a")
        await pilot.pause()
        assert type(app.screen).__name__ == "FileDialog"
        await pilot.press("enter")  # proposed: ./session.toml
        await pilot.pause()
        saved = tmp_path / "session.toml"
        assert saved.is_file()
        assert not app.dirty
        text = screen_text(app)
        assert " saved " in text and "session" in text
        state = (kpi_rows(app), text.splitlines()[:2], app.sim.decision)
        await pilot.press("n")  # continue past the save...
        await pilot.pause()
        await pilot.press("o")  # ...then open the saved file again
        await pilot.pause()
        assert type(app.screen).__name__ == "ChoiceDialog"  # unsaved changes: asks first
        await pilot.press("d")
        await pilot.pause()
        inp = app.screen.query_one("#file-path")
        inp.value = str(saved)
        await pilot.press("enter")
        await ready(app, pilot)
        assert app.sim.period == 3
        assert (kpi_rows(app), screen_text(app).splitlines()[:2], app.sim.decision) == state

    app2 = make_app(session=saved)
    async with app2.run_test(size=SIZE) as pilot:
        await ready(app2, pilot)
        assert app2.sim.period == 3
        assert kpi_rows(app2) == state[0]
        assert app2.screen.query_one("#value-b_seat_price").value == "42"


async def test_quitting_with_unsaved_changes_asks(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "q")
        await pilot.pause()
        assert type(app.screen).__name__ == "ChoiceDialog"
        assert "unsaved changes" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and type(app.screen).__name__ == "MainScreen"
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
    assert app.return_code == 0


async def test_ctrl_q_and_the_palette_quit_ask_too(make_app):
    """Textual's own quit (ctrl+q, the palette's "Quit") must not skip the question."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "ctrl+q")
        await pilot.pause()
        assert app.is_running and type(app.screen).__name__ == "ChoiceDialog"
        await pilot.press("escape")
        await pilot.pause()
        await app.run_action("quit")
        await pilot.pause()
        assert app.is_running and type(app.screen).__name__ == "ChoiceDialog"


async def test_a_burst_of_keys_is_applied_in_order(make_app):
    """Over SSH keys arrive in bursts: backspaces must not overtake the digits."""
    from textual import events

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        box = app.screen.query_one("#value-budget")
        box.focus()
        await pilot.pause()
        assert box.selection.start != box.selection.end  # focus selects: typing replaces
        box.action_end()
        for key in ["backspace"] * 8 + list("380000"):  # posted at once, as a burst
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await pilot.pause()
        await pilot.pause()
        assert box.value == "380000"
        assert app.screen.query_one("#allocation").draft.budget == 380000


async def test_recovered_autosave_counts_as_unsaved(make_app, tmp_path):
    """Recovering an autosave must not mark the session saved (quitting would lose it)."""
    from stratsim.engine import session as store
    from stratsim.engine.simulation import Simulation

    plan = tmp_path / "plan.toml"
    sim = Simulation(n_paths=200, device="cpu")
    sim.run(2)
    store.save_session(sim, plan)
    sim.run(3)
    store.autosave(sim, plan)
    app = make_app(session=plan, check_recovery=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert type(app.screen).__name__ == "ChoiceDialog"
        await pilot.press("1")
        await ready(app, pilot)
        assert app.sim.period == 5
        assert app.dirty and "modified" in screen_text(app)
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running and type(app.screen).__name__ == "ChoiceDialog"


async def test_quitting_a_clean_session_does_not_ask(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_help_lists_every_binding(make_app):
    from stratsim.tui.screens.main import MAIN_BINDINGS

    app = make_app()
    async with app.run_test(size=(100, 50)) as pilot:
        await ready(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        text = screen_text(app)
        for b in MAIN_BINDINGS:
            assert b.description in text, b
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "MainScreen"


async def test_branch_compare_and_restore(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "n", "b")
        await pilot.pause()
        await pilot.press("enter")  # keep as the suggested name
        await pilot.pause()
        assert list(app.branches) == ["p2-fixed"]
        kept = app.sim.history[-1]
        await pilot.press("u", "u")
        await ready(app, pilot)
        inp = app.screen.query_one("#value-c_share")
        inp.focus()
        inp.value = ""
        await pilot.press("0", ".", "8", "enter", "escape", "n", "n")
        await pilot.pause()
        assert app.sim.period == 2
        table = app.screen.query_one("#compare-table")
        assert str(table.get_cell("mrr", "delta")) not in ("0", "–")
        app.screen.query_one("#tabs").active = "tab-compare"
        await pilot.pause()
        assert "vs branch p2-fixed" in screen_text(app)
        await pilot.press("b")
        await pilot.pause()
        app.screen.query_one("#branch-restore").press()
        await ready(app, pilot)
        assert app.sim.history[-1] == kept


async def test_open_a_bad_file_keeps_the_session(make_app, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("schema_version = 2\n[run]\nseed = -1\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "o")
        await pilot.pause()
        await pilot.press("d")  # discard unsaved changes
        await pilot.pause()
        app.screen.query_one("#file-path").value = str(bad)
        await pilot.press("enter")
        await ready(app, pilot)
        assert type(app.screen).__name__ == "MessageDialog"
        assert "Cannot open the session" in screen_text(app)
        assert "bad.toml" in app.screen.text and "unchanged" in app.screen.text
        await pilot.press("escape")
        await pilot.pause()
        assert app.sim.period == 1


def test_coalescer_throttles_and_keeps_epochs():
    from stratsim.engine.training import BatchProgress, EpochEnd
    from stratsim.tui.training_job import Coalescer

    now = [0.0]
    posts: list[list] = []
    c = Coalescer(posts.append, interval_s=0.1, clock=lambda: now[0])

    def bp(step):
        return BatchProgress(1, 5, step, 100, step, 500, 1.0, 1e5, 0.0, 1.0)

    def ee(epoch):
        return EpochEnd(epoch, 5, 1.0, 1.0, {}, 0.01, 1e5, 0.0, 1.0, epoch, 1.0, 0, 5, True)

    for i in range(1, 1001):  # 1000 batches within 50 ms
        now[0] = i * 5e-5
        c(bp(i))
        if i % 200 == 0:
            c(ee(i // 200))
    c.flush()
    events = [e for p in posts for e in p]
    assert len(posts) <= 2
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2, 3, 4, 5]
    assert events[-2].step == 1000 or events[-1].step == 1000 or isinstance(events[-1], EpochEnd)


def test_rebalance_and_parse():
    from stratsim.engine.errors import DecisionError
    from stratsim.tui import edit

    out = edit.rebalance(
        {"product": 0.25, "ux": 0.25, "service": 0.25, "acquisition": 0.25}, "ux", 1.0
    )
    assert out == {"product": 0.0, "ux": 1.0, "service": 0.0, "acquisition": 0.0}
    out = edit.rebalance(out, "ux", 0.4)  # others were all 0: shared equally
    assert out["product"] == pytest.approx(0.2) and sum(out.values()) == pytest.approx(1.0)
    assert edit.parse_value("budget", "250_000") == 250_000.0
    for key, text in (("budget", "-1"), ("c_share", "1.01"), ("c_price", "nan"), ("budget", "12k")):
        with pytest.raises(
            DecisionError, match=key.split("_")[0].capitalize() if key != "c_share" else "C share"
        ):
            edit.parse_value(key, text)


def test_cli_rejects_a_missing_session(tmp_path, capsys):
    from stratsim.cli import main

    assert main(["tui", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml: session file not found" in capsys.readouterr().err
    assert main(["tui", "--theme", "no-such-theme"]) == 2
    assert "ansi-dark" in capsys.readouterr().err
