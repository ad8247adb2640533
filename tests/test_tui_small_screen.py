"""The operator's screen at 60x20 and 80x24 (issue 12, newcomer findings 4, 9, 10, 11,
14, 15): a key flood stops at the horizon, every tab and the footer's keys fit 60
columns, the reason for an invalid value is readable, help lists every policy, tab keys
act from any tab, odd file names survive save as. Real engine, 200 paths."""

from __future__ import annotations

import pytest

pytest.importorskip("textual")

from textual import events  # noqa: E402
from tui_pilot import ready, until  # noqa: E402

from stratsim.tui.bindings import TABS  # noqa: E402
from stratsim.tui.screen_text import screen_text  # noqa: E402


def toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_key_flood_stops_at_the_horizon_and_a_later_n_steps_beyond(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        sim = app.sim
        sim.run(sim.horizon - 2)
        app.main.refresh_all()
        await ready(app, pilot)
        for _ in range(8):  # a burst: all pressed before the screen showed the horizon
            app.post_message(events.Key("n", "n"))
        await until(pilot, lambda: any("dropped" in t for t in toasts(app)), "the drop notice")
        await ready(app, pilot)
        assert sim.period == sim.horizon
        dropped = [t for t in toasts(app) if "dropped" in t]
        assert len(dropped) == 1 and "6 step keys" in dropped[0], dropped
        await pilot.press("n")  # deliberate, after the horizon is shown: steps beyond
        await until(pilot, lambda: sim.period == sim.horizon + 1, "a step beyond the horizon")
        assert "beyond the horizon" in screen_text(app)
        assert len([t for t in toasts(app) if "horizon" in t.lower()]) == 1


async def test_steps_queued_while_busy_stop_at_the_horizon(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        sim = app.sim
        sim.run(sim.horizon - 3)
        app.main.refresh_all()
        await ready(app, pilot)
        app.busy = "undoing"  # as while a replay runs: the keys wait in the queue
        await pilot.press(*"n" * 7)
        assert app.main.queued == ["step"] * 7
        app.busy = ""
        app.main.drain_queue()
        await until(pilot, lambda: any("dropped" in t for t in toasts(app)), "the drop notice")
        assert sim.period == sim.horizon
        assert [t for t in toasts(app) if "dropped" in t][0].find("4 step keys") >= 0


async def test_at_60x20_every_tab_is_on_the_bar_and_the_footer_keeps_help_and_quit(make_app):
    from pathlib import Path

    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(app, pilot)
        app.session_name = "quarterly plan for the enterprise market"
        app.session_path = Path("/home/someone/projects/strategy/2026/plan-enterprise.toml")
        for i, (tab, _title) in enumerate(TABS, start=1):
            await pilot.press(str(i))
            await until(pilot, lambda tab=tab: app.main.tabs.active == tab, tab)
            await pilot.pause()
            lines = screen_text(app).splitlines()
            bar = lines[3]
            for word in ("Run", "KPIs", "Charts", "Train", "Advise", "Compare", "Sensit", "Log"):
                assert word in bar, (tab, bar)
            assert "? Help" in lines[-1] and "q Quit" in lines[-1], lines[-1]
            assert "quarterly" in lines[0] and "plan-enterprise.toml" in lines[0], lines[0]


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_why_a_typed_value_is_refused_is_readable_then_gone_after_esc(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(app, pilot)
        inp = app.main.allocation.input_for("budget")
        inp.focus()
        inp.value = ""
        await pilot.press("1", "e", "3", "9")
        await pilot.pause()
        reason = app.main.allocation.invalid["budget"]
        shown = " ".join(" ".join(screen_text(app).split()).split())
        assert " ".join(reason.split()) in shown, shown
        assert "at most" in shown
        await pilot.press("escape")
        await until(pilot, lambda: "1e39" not in screen_text(app), "the draft discarded")
        assert "out of range" not in screen_text(app)
        assert "satisfaction=" in screen_text(app).splitlines()[2]


async def test_every_dialog_fits_60x20(make_app, tmp_path):
    from stratsim.tui.screens.dialogs import BranchDialog, ChoiceDialog, FileDialog, MessageDialog
    from stratsim.tui.screens.train_dialog import TrainDialog

    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(app, pilot)
        question = "An autosave newer than its session was found: " + "x" * 120
        dialogs = [
            ChoiceDialog(
                question,
                [
                    ("1", "1 Recover"),
                    ("2", "2 Recover"),
                    ("n", "n New session"),
                    ("c", "esc Cancel"),
                ],
            ),
            FileDialog("Save session as", str(tmp_path / "s.toml")),
            MessageDialog("Not saved", "why " * 60),
            BranchDialog(["main", "other"], "b1"),
            TrainDialog(epochs=5, seed=0, device="cpu"),
        ]
        for dialog in dialogs:
            app.push_screen(dialog)
            await pilot.pause()
            box = dialog.children[0].region
            assert box.x >= 0 and box.right <= 60 and box.bottom <= 20, (type(dialog).__name__, box)
            text = screen_text(app)
            buttons = [] if isinstance(dialog, TrainDialog) else dialog.query("Button")  # (scrolls)
            for button in buttons:  # every choice visible, none clipped
                assert str(button.label) in text, (type(dialog).__name__, button.label)
            dialog.dismiss(None)
            await pilot.pause()


ODD_NAME = "my plan; $(touch x) é"


async def test_save_as_keeps_every_typed_character_of_an_odd_name_even_after_tab(
    make_app, tmp_path
):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("a")
        await until(pilot, lambda: type(app.screen).__name__ == "FileDialog", "the save-as dialog")
        inp = app.screen.query_one("#file-path")
        inp.value = f"{tmp_path}/"
        inp.cursor_position = len(inp.value)
        await pilot.press(*ODD_NAME)
        await pilot.press("tab")  # focus moves to the folder tree mid-name...
        await pilot.press(*".v2.toml")  # ...and the rest of the name is not lost
        await pilot.press("enter")
        await until(pilot, lambda: app.session_path is not None, "saved")
        assert app.session_path == tmp_path / f"{ODD_NAME}.v2.toml"
        assert (tmp_path / f"{ODD_NAME}.v2.toml").is_file()
        assert not (tmp_path / "x").exists()  # the name was never run by a shell


@pytest.mark.slow
def test_quit_after_a_resize_storm_during_a_run_leaves_the_shell_clean(tmp_path):
    """tmux at 60x20: a shell runs stratsim; a run at 200k paths, a resize storm with key
    presses, then quit and discard. The shell's prompt comes back with no TUI line and
    the terminal in its cooked mode (echo, icanon)."""
    import os
    import shutil
    import subprocess
    import sys
    import time
    import uuid

    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed")
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "TMUX_TMPDIR": str(tmp_path),
        "TERM": "xterm-256color",
    }
    env.pop("TMUX", None)
    name = f"stratsim-storm-{uuid.uuid4().hex[:8]}"

    def tm(*args: str) -> str:
        return subprocess.run([tmux, *args], capture_output=True, text=True, env=env).stdout

    def wait(cond, what: str, timeout: float = 60.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = tm("capture-pane", "-p", "-t", name)
            if cond(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"{what} not on screen:\n{tm('capture-pane', '-p', '-t', name)}")

    shell = "sh -c 'PS1=\"READY> \" exec sh'"
    tm(
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        name,
        "-x",
        "60",
        "-y",
        "20",
        "-c",
        str(tmp_path),
        shell,
    )
    try:
        wait(lambda t: "READY>" in t, "the prompt")
        cmd = f"{sys.executable} -m stratsim tui --paths 200000 --device cpu --no-autosave"
        tm("send-keys", "-t", name, cmd, "Enter")
        wait(lambda t: "Period 0/36" in t, "the main screen")
        tm("send-keys", "-t", name, "r")
        for i in range(12):
            tm(
                "resize-window",
                "-t",
                name,
                "-x",
                str(60 + (i % 3) * 10),
                "-y",
                str(20 + (i % 2) * 4),
            )
            tm("send-keys", "-t", name, "n")
        tm("resize-window", "-t", name, "-x", "60", "-y", "20")
        tm("send-keys", "-t", name, "q")
        wait(lambda t: "Discard" in t, "the quit question")
        tm("send-keys", "-t", name, "d")
        text = wait(lambda t: t.rstrip().endswith("READY>"), "the prompt after quitting")
        assert not any(w in text for w in ("Period", "policy", "Help", "━", "█")), text
        tm(
            "send-keys",
            "-t",
            name,
            "clear; stty -a | tr ' ' '\\n' | grep -x -e -echo -e -icanon",
            "Enter",
        )
        text = wait(lambda t: t.count("READY>") >= 1 and "stty" not in t, "stty's answer", 10)
        assert "-echo" not in text and "-icanon" not in text, text
    finally:
        tm("kill-server")


def test_a_quits_bounded_exit_waits_until_the_terminal_is_given_back():
    """The grace of a quit counts from the terminal's restore: a shutdown slower than the
    grace is not cut before Textual left the alternate screen (the old bound was cut)."""
    import subprocess
    import sys

    script = (
        "import time\n"
        "from stratsim.tui import terminal\n"
        "terminal.exit_after_restore(3, 0.1, backstop=30)\n"
        "time.sleep(0.6)\n"  # a slow shutdown: longer than the grace
        "print('restoring', flush=True)\n"
        "terminal.terminal_restored()\n"
        "time.sleep(30)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=25
    )
    assert done.stdout.strip() == "restoring" and done.returncode == 3, (done.stdout, done.stderr)


async def test_tab_keys_act_from_the_focused_advise_pane_and_help_lists_every_policy(make_app):
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(app, pilot)
        tabs = app.main.tabs
        for i, (tab, _title) in enumerate(TABS, start=1):
            await pilot.press("5")  # Advise: its pane takes the focus (←/→ scroll its table)
            await until(pilot, lambda: tabs.active == "tab-advise", "Advise")
            await pilot.press("left", str(i))
            await until(pilot, lambda tab=tab: tabs.active == tab, f"{tab} from Advise")
        await pilot.press("question_mark")
        await until(pilot, lambda: "Tabs: 1 Run" in screen_text(app), "the help")
        seen = screen_text(app)
        for _ in range(12):
            app.screen.query_one("VerticalScroll").scroll_page_down(animate=False)
            await pilot.pause()
            seen += screen_text(app)
        flat = " ".join(seen.split())
        for policy in ("manual,", "fixed,", "feedback,", "optimize"):
            assert policy in flat
        assert "…" not in seen
