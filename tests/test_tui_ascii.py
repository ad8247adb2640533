"""The ASCII fallback: the glyph table, the locale test, and stratsim in tmux with ``LANG=C``.

Through a client that is not UTF-8, tmux shows each non-ASCII character as ``_``; with
the fallback every character stratsim writes is ASCII, so nothing can turn into ``_``.
"""

from __future__ import annotations

import sys
import time

import pytest
from rich.cells import cell_len

from stratsim.tui import glyphs
from tests.test_e2e_tmux import TMUX, Pane, stop_server


@pytest.fixture(autouse=True)
def _unicode_after():
    yield
    glyphs.set_ascii(False)


@pytest.mark.parametrize(
    ("environ", "encoding", "utf8_mode", "expected"),
    [
        ({"LANG": "C.UTF-8"}, "utf-8", 0, True),
        ({"LANG": "en_US.utf8"}, "utf-8", 0, True),
        (
            {"LANG": "C", "LC_CTYPE": "C.UTF-8"},
            "utf-8",
            1,
            False,
        ),  # Python's own coercion (PEP 538)
        ({"LANG": "C", "LC_ALL": "C"}, "utf-8", 1, False),
        ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, "utf-8", 1, False),  # LC_ALL wins, as in tmux
        ({}, "utf-8", 1, False),  # no locale at all: POSIX
        (
            {"LANG": "en_US.UTF-8", "LC_CTYPE": "C.UTF-8"},
            "utf-8",
            1,
            True,
        ),  # locale not installed: coerced
        ({"LANG": "en_US.UTF-8"}, "ascii", 0, False),  # PYTHONIOENCODING=ascii
        ({"LANG": "de_DE.ISO-8859-1"}, "utf-8", 0, False),
    ],
)
def test_terminal_is_utf8(environ, encoding, utf8_mode, expected, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert glyphs.terminal_is_utf8(environ, encoding, utf8_mode) is expected


def test_windows_counts_only_the_encoding(monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    assert glyphs.terminal_is_utf8({}, "utf-8", 0) and not glyphs.terminal_is_utf8({}, "cp1252", 0)


def test_glyphs_follow_the_mode():
    glyphs.set_ascii(False)
    assert (glyphs.glyph("delta"), glyphs.marker("mean"), glyphs.shades()[-1]) == (
        "Δ",
        "braille",
        "█",
    )
    glyphs.set_ascii(True)
    assert (glyphs.glyph("delta"), glyphs.marker("mean"), glyphs.shades()[-1]) == ("chg", "*", "#")
    assert all(glyphs.glyph(name).isascii() for name in glyphs.GLYPHS)
    assert glyphs.shades().isascii() and len(glyphs.shades()) == len(glyphs.SHADES[0])


@pytest.mark.parametrize(
    "text",
    [
        "Δ draft – 78.7k … ↑↓ ±",
        "╭──╮│x│╰──╯ ┏━┓┃ ┗━┛ ╸━━━╺",  # borders and Textual's tab underline
        "▔▔▁▁▊▌▐ ░▒▓█",  # tall borders, scrollbars, heat-map shades
        "⠁⠂⣿⡇ ⠀",  # plotext braille
        "数据 session 会话",  # two cells each
        "e\u0301 a\u200bb",  # combining and zero-width characters
    ],
)
def test_to_ascii_keeps_every_cell(text):
    out = glyphs.to_ascii(text)
    assert out.isascii()
    assert cell_len(out) == cell_len(text)  # the rest of the line stays where Textual put it
    assert "_" not in out and "?" not in out.replace("??", "") or "数" in text


def test_box_drawing_becomes_textual_ascii_border():
    assert glyphs.to_ascii("┌─┐│└┘├┼") == "+-+|+++" + "+"
    assert glyphs.to_ascii("━┃╸╺") == "-|--"


@pytest.mark.slow
@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_tmux_lang_c_draws_ascii(tmp_path):
    """stratsim in tmux at 80x24 with ``LANG=C LC_ALL=C``: after two steps (the Run tab,
    then every page of the Charts tab) every character on the screen is ASCII, the
    replacements are there, and ``q`` (then discard) quits cleanly."""
    import os

    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "TMUX_TMPDIR": str(tmp_path),
        "TERM": "xterm-256color",
        "LANG": "C",
        "LC_ALL": "C",
    }
    env.pop("TMUX", None)
    env.pop("LC_CTYPE", None)
    env.pop("PYTHONUTF8", None)
    cmd = [
        sys.executable,
        "-m",
        "stratsim",
        "tui",
        "--paths",
        "200",
        "--device",
        "cpu",
        "--no-autosave",
    ]
    pane = Pane(tmp_path, env, cmd)
    try:
        pane.wait_for("Period 0/36", timeout=60)
        pane.keys("n", "n")
        screen = pane.wait_for("Period 2/36")
        screen = pane.wait_for("chg draft")  # the preview's "Δ draft" column, in ASCII
        assert screen.isascii(), [c for c in screen if not c.isascii()]
        assert "_" not in screen, screen
        assert "-" * 20 in screen  # the tab underline, drawn in ASCII
        assert "===" in screen  # the active tab's part of the underline differs from the rest
        # the Charts tab: focus the tab bar (tab into the panel, shift+tab back) and go right
        pane.keys("Tab", "BTab", "Right", "Right")
        if "Chart 1/8" not in pane.text():
            pane.keys("Escape", "3")  # a direct tab key, where the tab bar is not in that place
        screen = pane.wait_for("Chart 1/8", timeout=10)
        pane.keys("Tab")  # focus the charts: ] pages
        for page in range(1, 9):
            screen = pane.wait_for(f"Chart {page}/8", timeout=10)
            time.sleep(0.3)
            screen = pane.text()
            assert screen.isascii() and "_" not in screen, screen
            assert "*" in screen or "#" in screen  # the mean (chart marker), or the stacked bars
            pane.keys("]")
        pane.keys("q")
        screen = pane.wait_for("iscard")  # unsaved steps: save, discard or cancel (a dialog)
        assert screen.isascii() and "_" not in screen, screen
        pane.keys("d")
        end = time.monotonic() + 15
        while pane.alive() and time.monotonic() < end:
            time.sleep(0.2)
        assert not pane.alive(), "q then d (discard) should quit:\n" + pane.text()
    finally:
        pane.kill()
        stop_server(env)


async def test_charts_draw_ascii_markers_in_ascii_mode(tmp_path, monkeypatch):
    """In ASCII mode the chart itself uses ASCII markers (``*`` mean, ``.`` band): no
    braille or middle dot is left for the driver's lossy replacement; only the frame's box
    lines (they become ``+-|``, what Textual's ascii border draws) and plotext's right-axis
    legend mark (``R``) are."""
    import asyncio

    from stratsim.tui.app import StratsimApp, TuiOptions
    from stratsim.tui.widgets.charts import HistoryCharts

    monkeypatch.chdir(tmp_path)
    app = StratsimApp(
        TuiOptions(paths=50, device="cpu", seed=0, check_recovery=False, autosave=False, ascii=True)
    )
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(1500):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if app.engine_ready and not app.busy and app.sim.period == 3:
                break
            if app.engine_ready and not app.busy:
                await pilot.press("n")
            await asyncio.sleep(0.02)
        app.screen.query_one("#tabs").active = "tab-charts"
        await pilot.pause(0.3)
        region = app.screen.query_one("#chart-plot").region
        assert region.height > 5 and app.screen.query_one(HistoryCharts).page == 0
        lines = [
            s.text[region.x : region.right]
            for s in app.screen._compositor.render_strips()[region.y : region.bottom]
        ]
        text = "\n".join(lines)
        odd = {
            c
            for c in text
            if not c.isascii() and not 0x2500 <= ord(c) <= 0x257F and c not in glyphs.ASCII
        }
        assert not odd, (odd, text)
        assert glyphs.to_ascii(text).isascii() and "?" not in glyphs.to_ascii(text)
        assert "*" in text and "." in text
