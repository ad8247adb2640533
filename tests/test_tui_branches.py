"""Issue 12 in the TUI: branches compare at the same period, survive save and open, and
restore their policy and draft; a trained model changes the history only when the
operator says so (the adopt dialog)."""

from __future__ import annotations

import copy

import pytest

pytest.importorskip("textual")

import test_tui  # noqa: E402
from test_tui import SIZE, ready, screen_text, until  # noqa: E402

app_factory = test_tui.make_app  # the TUI tests' app fixture, under this module's name


async def keep_branch(app, pilot, name: str | None = None) -> None:
    await pilot.press("b")
    await pilot.pause()
    if name is not None:
        app.screen.query_one("#branch-name").value = name
    await pilot.press("enter")
    await ready(app, pilot)


def record_log(app) -> list[str]:
    """The lines the app adds to its Log from now on (the Log pane renders lazily)."""
    lines: list[str] = []
    note = app.note

    def recording(text: str, level: str = "info") -> None:
        lines.append(text)
        note(text, level)

    app.note = recording
    return lines


def compare_cell(app, kpi: str, column: str) -> str:
    return str(app.main.query_one("#compare-table").get_cell(kpi, column))


async def test_compare_steps_a_branch_kept_earlier_to_the_current_period(app_factory):
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "n")
        await ready(app, pilot)
        await keep_branch(app, pilot)  # p2-fixed
        await pilot.press("p")  # feedback: the current run goes its own way
        await pilot.press("n", "n", "n")
        await ready(app, pilot)
        assert app.sim.period == 5
        app.screen.query_one("#tabs").active = "tab-compare"
        await until(
            pilot,
            lambda: compare_cell(app, "mrr", "branch") not in ("–", "0"),
            "the branch stepped to 5",
        )
        text = " ".join(screen_text(app).split())  # the title wraps at 80 columns
        assert "Period 5: current run vs branch p2-fixed" in text
        assert "kept at 2, stepped on with its policy fixed" in text
        for column in ("current", "branch"):
            assert compare_cell(app, "mrr", column) not in ("–", "0")
        assert compare_cell(app, "mrr", "delta") not in ("–", "0", "+0")


async def test_branches_survive_save_and_open(app_factory, tmp_path):
    app = app_factory()
    path = tmp_path / "s.toml"
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "n")
        await ready(app, pilot)
        await keep_branch(app, pilot, "plan A")
        await pilot.press("n")
        await ready(app, pilot)
        assert app.files.save_to(path)
        kept = app.branches["plan A"]
    reopened = app_factory(session=path)
    async with reopened.run_test(size=SIZE) as pilot:
        await ready(reopened, pilot)
        assert list(reopened.branches) == ["plan A"]
        assert reopened.compare_with == "plan A"  # Compare shows the saved branch at once
        b = reopened.branches["plan A"]
        assert (b.period, b.policy, b.decisions, b.decision) == (
            kept.period,
            kept.policy,
            kept.decisions,
            kept.decision,
        )
        await pilot.press("b")
        await pilot.pause()
        reopened.screen.query_one("#branch-compare").press()
        await pilot.pause()
        await until(
            pilot,
            lambda: compare_cell(reopened, "mrr", "branch") not in ("–", "0"),
            "the reopened branch compared",
        )
        assert "Period 3: current run vs branch plan A" in " ".join(screen_text(reopened).split())


async def test_restore_brings_back_policy_and_draft(app_factory):
    from stratsim.tui.widgets.allocation import AllocationPanel

    app = app_factory()
    log = record_log(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "n")
        await ready(app, pilot)
        panel = app.screen.query_one(AllocationPanel)
        inp = app.screen.query_one("#value-c_share")
        inp.focus()
        inp.value = "0.7"
        await pilot.pause()
        draft = panel.draft
        assert panel.has_draft and draft.c_share == 0.7
        app.screen.set_focus(None)  # leave the value; the draft stays pending
        await keep_branch(app, pilot, "kept")
        assert app.branches["kept"].draft == draft
        await pilot.press("p")  # feedback
        await pilot.press("n")
        await ready(app, pilot)
        assert app.sim.policy_name != "fixed" and app.sim.period == 3
        await pilot.press("b")
        await pilot.pause()
        app.screen.query_one("#branch-restore").press()
        await ready(app, pilot)
        await until(pilot, lambda: panel.draft == draft, "the branch's draft back in the panel")
        assert app.sim.policy_name == "fixed" and app.sim.period == 2
        assert panel.has_draft and app.sim.decision == app.branches["kept"].decision
        assert "restore branch kept (policy fixed)" in "\n".join(log)


async def train_sample(app, pilot) -> None:
    """Train the satisfaction model on the sample data (3 epochs) and wait for the offer."""
    await pilot.press("t")
    await pilot.pause()
    await pilot.press("enter")
    await ready(app, pilot)
    assert type(app.screen).__name__ == "AdoptDialog"


async def test_use_from_the_next_period_keeps_the_past_bit_identical(app_factory, tmp_path):
    from stratsim.tui.screens.adopt_dialog import offer_model

    app = app_factory()
    log = record_log(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "n", "n")
        await ready(app, pilot)
        past = copy.deepcopy(app.sim.history)
        await train_sample(app, pilot)
        dialog_text = " ".join(screen_text(app).split())
        assert "R²" in dialog_text and "RMSE" in dialog_text and "current" in dialog_text
        await pilot.press("1")
        await ready(app, pilot)
        assert type(app.sim.satisfaction_model).__name__ == "TrainedModel"
        assert app.sim.history == past  # bit for bit
        assert "used from the next period (Period 4); Periods 1..3 keep their numbers" in "\n".join(
            log
        )
        await pilot.press("n")
        await ready(app, pilot)
        assert app.sim.history[:3] == past and app.sim.period == 4
        path = tmp_path / "switched.toml"
        assert app.files.save_to(path)
        stepped = copy.deepcopy(app.sim.history)
        # a weaker model offered next: the dialog warns, and esc keeps the current one
        good = app.sim.satisfaction_model
        weak = copy.copy(good)
        metrics = {**good.metrics, "r2": good.metrics["r2"] - 0.5, "rmse": good.metrics["rmse"] * 2}
        weak.metadata = {**good.metadata, "metrics": metrics}
        offer_model(app, "satisfaction", weak)
        await until(pilot, lambda: type(app.screen).__name__ == "AdoptDialog", "the offer")
        await until(pilot, lambda: "weaker" in screen_text(app), "the dialog drawn")
        text = " ".join(screen_text(app).split())
        assert (
            "weaker than the current model: test R²" in text
            and "weaker than the current model: test RMSE" in text
        )
        await pilot.press("escape")
        await ready(app, pilot)
        assert app.sim.satisfaction_model is good and app.sim.history == stepped
    from stratsim.engine.session import load_session

    loaded = load_session(path)
    assert loaded.matches and loaded.simulation.history == stepped


async def test_resimulate_changes_the_past_and_keep_changes_nothing(app_factory):
    app = app_factory()
    log = record_log(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n", "n")
        await ready(app, pilot)
        past = copy.deepcopy(app.sim.history)
        await train_sample(app, pilot)
        await pilot.press("3")
        await ready(app, pilot)
        assert (
            type(app.sim.satisfaction_model).__name__ != "TrainedModel" and app.sim.history == past
        )
        assert "kept the current satisfaction model" in "\n".join(log)
        await train_sample(app, pilot)
        await pilot.press("2")
        await ready(app, pilot)
        assert (
            app.sim.period == 2
            and app.sim.history[0]["satisfaction_c"] != past[0]["satisfaction_c"]
        )
        assert "re-simulating the whole history" in "\n".join(log)


async def test_training_result_keeps_its_line_breaks(app_factory):
    """The training pane shows the result's lines as lines (not a literal backslash-n),
    while control characters inside a value stay escaped."""
    from textual.widgets import Static

    from stratsim.tui.widgets.training import TrainingPane

    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("4")
        await pilot.pause()
        pane = app.main.query_one(TrainingPane)
        pane.finish("done; test R² 0.62\ncoefficients: ux 0.3\nsaved a\x1bb", progress_full=True)
        await pilot.pause()
        shown = str(pane.query_one("#train-metrics", Static).render())
        assert shown.splitlines()[:2] == ["done; test R² 0.62", "coefficients: ux 0.3"]
        assert "\\n" not in shown and "\x1b" not in shown
