"""Pilot tests of navigation and of what must not be cut off at 80x24: the tab keys, the
footer, the header (long CJK name, file path, beyond the horizon), the training dialog,
the Run tab and the KPI heading while busy. Real engine, 200 paths."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("textual")

from rich.cells import cell_len  # noqa: E402
from tui_pilot import ready, until  # noqa: E402

from stratsim.format import fmt  # noqa: E402
from stratsim.tui.bindings import TABS  # noqa: E402
from stratsim.tui.screen_text import screen_text  # noqa: E402

SIZE = (80, 24)


def header_lines(app) -> list[str]:
    return screen_text(app).splitlines()[:3]


async def test_each_tab_by_its_direct_key_and_digits_still_type_into_a_value(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        tabs = app.screen.query_one("#tabs")
        for i, (tab, _title) in enumerate(reversed(TABS)):
            await pilot.press(str(len(TABS) - i))
            await until(pilot, lambda tab=tab: tabs.active == tab, f"{tab} by its key")
        # on the Charts tab with the charts focused, the tab keys still act
        await pilot.press("3")
        app.screen.set_focus(app.screen.query_one("#charts"))
        await pilot.press("8")
        await until(pilot, lambda: tabs.active == "tab-log", "8 from the focused charts")
        # a value field takes the digits: typed, not tab switches
        await pilot.press("1")
        await until(pilot, lambda: tabs.active == "tab-run", "back on Run")
        inp = app.screen.query_one("#value-c_share")
        inp.focus()
        inp.value = ""
        await pilot.press("0", ".", "7")
        await pilot.pause()
        assert inp.value == "0.7" and tabs.active == "tab-run"
        await pilot.press("escape")  # leave the value (discard): digits switch tabs again
        await pilot.press("2")
        await until(pilot, lambda: tabs.active == "tab-kpis", "2 after leaving the value")
        # with the tab bar focused, left/right walk through every tab, Sensitivity included
        from textual.widgets._tabbed_content import ContentTabs

        app.screen.set_focus(app.screen.query_one(ContentTabs))
        seen = []
        for _ in TABS:
            await pilot.press("right")
            await pilot.pause()
            seen.append(tabs.active)
        assert sorted(seen) == sorted(t for t, _ in TABS)


async def test_footer_keeps_save_save_as_help_quit_and_tab_keys_at_80x24(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        for i, (tab, _title) in enumerate(TABS, start=1):
            await pilot.press(str(i))
            await pilot.pause(0.1)
            footer = screen_text(app).splitlines()[-1]
            for label in ("s Save", "a Save as", "? Help", "q Quit"):
                assert label in footer, (tab, footer)
            if tab != "tab-advise":  # Advise's own keys take the room of the tab keys
                assert "1-8 Tabs" in footer, (tab, footer)
        await pilot.press("question_mark")
        await until(pilot, lambda: "Tabs: 1 Run" in screen_text(app), "the help's tab keys")


async def test_help_fits_80x24_and_starts_with_navigation(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: "Tabs: 1 Run" in screen_text(app), "the help's rows")
        text = screen_text(app)
        rows = text.splitlines()
        # the first rows explain how to move: tab keys, esc, ?
        top = "\n".join(rows[:8])
        assert "1-8" in top and "Tabs: 1 Run" in top and "esc" in top
        # nothing cut off: every description is there in full once the list is scrolled
        from stratsim.tui.bindings import MAIN_BINDINGS

        help_screen = app.screen
        seen = text
        for _ in range(10):
            help_screen.query_one("VerticalScroll").scroll_page_down(animate=False)
            await pilot.pause()
            seen += screen_text(app)
        flat = " ".join(seen.split())
        for b in MAIN_BINDINGS:
            if b.tooltip and not b.action.startswith("show_tab"):  # (tab keys: the first row)
                words = " ".join(b.tooltip.split())
                # rows wrap inside the box: compare word by word across the wrapped lines
                assert all(w in flat for w in words.split()), b
        assert "…" not in seen


async def test_header_holds_a_long_cjk_name_and_shows_the_file(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.session_name = "東京の戦略セッション" * 8
        app.session_path = tmp_path / "plans" / "q3-plan.toml"
        app.main.show_header()
        await pilot.pause()
        lines = header_lines(app)
        assert lines[0].lstrip().startswith("stratsim 東京の戦略")
        assert "…" in lines[0]  # cut by display width with an ellipsis
        assert "q3-plan.toml" in lines[0]  # the file next to the name
        assert "Period 0/36" in lines[1] and "policy fixed" in lines[1]  # not pushed away
        assert lines[2].lstrip().startswith("satisfaction=")
        assert all(cell_len(line) <= SIZE[0] for line in lines)


async def test_header_shows_the_saved_file_next_to_the_name(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("#file-path").value = str(tmp_path / "board-review.toml")
        await pilot.press("enter")
        await until(
            pilot, lambda: "board-review.toml" in header_lines(app)[0], "the file on line 1"
        )
        assert (
            "stratsim untitled" in header_lines(app)[0]
            or "stratsim board-review" in header_lines(app)[0]
        )


async def test_beyond_the_horizon_is_one_header_mark_not_a_toast_per_step(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        horizon = app.sim.horizon
        app.sim.run(horizon)  # to the horizon (no period beyond it yet)
        app.main.refresh_all()
        await pilot.pause()
        assert "beyond the horizon" not in screen_text(app)
        for _ in range(8):
            await pilot.press("n")
            await pilot.pause()
        await ready(app, pilot)
        assert app.sim.period == horizon + 8
        text = screen_text(app)
        assert text.count("beyond the horizon") == 1
        assert "beyond the horizon" in header_lines(app)[1]
        toasts = [n for n in app._notifications if "horizon" in str(n.message).lower()]
        assert toasts == []


async def test_train_dialog_marks_the_choice_and_d_jumps_to_the_data_file(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("t")
        await until(pilot, lambda: type(app.screen).__name__ == "TrainDialog", "the dialog")
        await pilot.press("3")
        await pilot.pause()
        buttons = list(app.screen.query("RadioButton"))
        assert buttons[2].value and not buttons[0].value
        on, off = buttons[2], buttons[0]
        # the chosen option looks different (not only a dot of another colour)
        assert (on.styles.background, on.styles.text_style) != (
            off.styles.background,
            off.styles.text_style,
        )
        await pilot.press("d")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "train-data"
        # the title is not cut at 80 columns
        assert "esc cancel" in screen_text(app)


async def test_run_tab_and_kpi_heading_while_a_run_is_under_way(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        gate = threading.Event()
        real_run = app.sim.run

        def gated_run(steps, on_step=None, should_stop=None):
            def step(period, summary):  # report each period, spaced past the 0.1 s throttle
                time.sleep(0.12)
                on_step(period, summary)

            real_run(3, on_step=step)
            time.sleep(0.12)
            on_step(app.sim.period, app.sim.history[-1])
            assert gate.wait(30)

        app.sim.run = gated_run
        try:
            await pilot.press("r")
            await until(
                pilot, lambda: app.sim.period == 3 and app.busy == "running", "3 periods run"
            )
            kpi_title = app.screen.query_one("#kpi-title")
            await until(
                pilot, lambda: "Period 3 of" in str(kpi_title.content), "the heading at Period 3"
            )
            assert "Period 0 of" not in screen_text(app)
            # the Run tab says why there is no preview and keeps the latest KPIs
            title = app.screen.query_one("#preview-title")
            await until(
                pilot, lambda: "paused while running (Period 3)" in str(title.content), "why"
            )
            preview = app.screen.query_one("#preview")
            assert str(preview.get_cell("mrr", "now")) == fmt(app.sim.history[-1]["mrr"]["mean"])
        finally:
            gate.set()
        await ready(app, pilot)
