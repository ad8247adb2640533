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
        ({"LANG": "C", "LC_CTYPE": "C.UTF-8"}, "utf-8", 1, False),  # Python's own coercion (PEP 538)
        ({"LANG": "C", "LC_ALL": "C"}, "utf-8", 1, False),
        ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, "utf-8", 1, False),  # LC_ALL wins, as in tmux
        ({}, "utf-8", 1, False),  # no locale at all: POSIX
        ({"LANG": "en_US.UTF-8", "LC_CTYPE": "C.UTF-8"}, "utf-8", 1, True),  # locale not installed: coerced
        ({"LANG": "en_US.UTF-8"}, "ascii", 0, False),  # PYTHONIOENCODING=ascii
        ({"LANG": "de_DE.ISO-8859-1"}, "utf-8", 0, False),
    ],
)
def test_terminal_is_utf8(environ, encoding, utf8_mode, expected):
    assert glyphs.terminal_is_utf8(environ, encoding, utf8_mode) is expected


def test_glyphs_follow_the_mode():
    glyphs.set_ascii(False)
    assert (glyphs.glyph("delta"), glyphs.marker("mean"), glyphs.shades()[-1]) == ("Δ", "braille", "█")
    glyphs.set_ascii(True)
    assert (glyphs.glyph("delta"), glyphs.marker("mean"), glyphs.shades()[-1]) == ("d", "*", "#")
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
    """stratsim in tmux at 80x24 with ``LANG=C LC_ALL=C``: after two steps (Run tab, then
    the Charts tab) every character on the screen is ASCII, the replacements are there,
    and ``q`` (then discard) quits cleanly."""
    import os

    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "TMUX_TMPDIR": str(tmp_path), "TERM": "xterm-256color", "LANG": "C", "LC_ALL": "C"}
    env.pop("TMUX", None)
    env.pop("LC_CTYPE", None)
    env.pop("PYTHONUTF8", None)
    cmd = [sys.executable, "-m", "stratsim", "tui", "--paths", "200", "--device", "cpu", "--no-autosave"]
    pane = Pane(tmp_path, env, cmd)
    try:
        pane.wait_for("Period 0/36", timeout=60)
        pane.keys("n", "n")
        screen = pane.wait_for("Period 2/36")
        screen = pane.wait_for("d draft")  # the preview's "Δ draft" column, in ASCII
        assert screen.isascii(), [c for c in screen if not c.isascii()]
        assert "_" not in screen, screen
        assert "-" * 20 in screen  # the tab underline, drawn in ASCII
        pane.keys("3")  # the Charts tab (w12nav's key) or, before it, nothing
        time.sleep(1.0)
        screen = pane.text()
        assert screen.isascii() and "_" not in screen, screen
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
