"""The symbols the TUI draws, and their ASCII replacements for terminals that are not UTF-8.

Through a client whose locale is not UTF-8 (``LANG=C``), tmux and most terminals show
every non-ASCII character as ``_`` or ``?``: ``Δ``, ``–``, ``…``, chart dots and braille,
arrows, box and border lines. In ASCII mode:

* the widgets of stratsim ask this module for their symbols (:func:`glyph`,
  :func:`marker`, :func:`shades`), which then returns an ASCII replacement
  (``Δ`` -> ``chg``, chart markers ``*`` and ``.``, heat-map shades `` .:+#``);
* everything else that reaches the terminal (Textual's own borders, tab underline,
  scrollbars, text from the other panes) goes through :func:`to_ascii` in the terminal
  driver (:mod:`stratsim.tui.terminal`), so no non-ASCII character is ever written: box
  drawing becomes ``-``, ``|``, ``+`` (what Textual's ``ascii`` border style draws), and
  a character of two cells (CJK) becomes ``??`` so the rest of the line stays in place.

Which mode: ``stratsim tui --ascii``, or :func:`terminal_is_utf8` is False. The test is the
one tmux applies to its clients: the first set of ``LC_ALL``, ``LC_CTYPE``, ``LANG`` names
a UTF-8 charset (``*.UTF-8``/``*.utf8``), and ``sys.stdout``'s encoding is UTF-8.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Mapping

__all__ = [
    "ASCII",
    "glyph",
    "is_ascii",
    "marker",
    "set_ascii",
    "shades",
    "terminal_is_utf8",
    "to_ascii",
]

#: name -> (Unicode glyph, ASCII replacement): every symbol stratsim's widgets draw.
GLYPHS: dict[str, tuple[str, str]] = {
    "delta": ("Δ", "chg"),
    "dash": ("–", "-"),
    "ellipsis": ("…", "..."),
    "plusminus": ("±", "+/-"),
    "up": ("↑", "^"),
    "down": ("↓", "v"),
    "right": ("→", "->"),
    "left": ("←", "<-"),
    "times": ("×", "x"),
    "mean_mark": ("⣿", "*"),  # a legend's sample of a chart's mean line (braille)
    "band_mark": ("·", "."),  # and of its P10..P90 band
    "folder": ("📁 ", "+ "),  # the file browser's icons (Textual's DirectoryTree)
    "folder_open": ("📂 ", "- "),
    "file": ("📄 ", "  "),
}
#: Heat-map shades, low to high (5 levels).
SHADES = (" ░▒▓█", " .:+#")
#: plotext markers: (Unicode, ASCII) for the mean line and for the P10..P90 band.
MARKERS = {"mean": ("braille", "*"), "band": ("·", ".")}

#: Fixed replacements of :func:`to_ascii`, one character for one (the terminal's cells
#: must not move: Textual laid the line out for the original); other characters are
#: replaced by their Unicode name or NFKD decomposition.
ASCII: dict[str, str] = {
    "Δ": "d", "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "…": ".", "±": "~", "↑": "^",
    "↓": "v", "→": ">", "←": "<", "×": "x", "★": "*", "◆": "o", "·": ".", "•": "*", "°": "o",
    "²": "2", "³": "3", "µ": "u", "≈": "~", "≤": "<", "≥": ">", "≠": "#", "‘": "'", "’": "'",
    "“": '"', "”": '"', "«": "<", "»": ">", "✓": "v", "✔": "v", "✗": "x", "✘": "x", "▶": ">",
    "◀": "<", "▲": "^", "▼": "v", "►": ">", "◄": "<", "●": "o", "○": "o", "■": "#", "□": "#",
    "\u00a0": " ", "░": ".", "▒": ":", "▓": "+", "█": "#", "⅃": "R",  # plotext: right axis
}  # fmt: skip

_ascii = False


def set_ascii(on: bool) -> None:
    """Draw ASCII replacements from now on (``on``) or the Unicode glyphs."""
    global _ascii
    _ascii = bool(on)
    _tab_underline(_ascii)


def _tab_underline(on: bool) -> None:
    """The tab bar's underline in ASCII mode: Textual draws the active tab's part and the
    rest with the same ``━`` in two colours, which both become ``-``: the active tab's part
    is drawn ``=`` instead (:class:`textual.widgets._tabs.Underline` renders
    ``textual.renderables.bar.Bar``, looked up in its module when drawn)."""
    try:
        from textual.renderables.bar import Bar
        from textual.widgets import _tabs
    except ImportError:  # no Textual (the CLI alone): no tab bar
        return
    if not on:
        _tabs.Bar = Bar  # type: ignore[attr-defined]
        return

    from rich.text import Text

    class AsciiBar(Bar):
        HALF_BAR_LEFT = BAR = HALF_BAR_RIGHT = "="

        def __rich_console__(self, console, options):
            background = console.get_style(self.background_style)
            for text in super().__rich_console__(console, options):
                chars = list(text.plain)
                for span in text.spans:
                    if span.style == background:
                        chars[span.start : span.end] = "-" * (span.end - span.start)
                yield Text("".join(chars), spans=text.spans, end="")

    _tabs.Bar = AsciiBar  # type: ignore[attr-defined]


def is_ascii() -> bool:
    """True in ASCII mode."""
    return _ascii


def glyph(name: str) -> str:
    """The symbol ``name`` of :data:`GLYPHS` in the current mode (``glyph("delta")``: ``Δ``
    or ``d``)."""
    uni, asc = GLYPHS[name]
    return asc if _ascii else uni


def marker(kind: str) -> str:
    """plotext marker for ``kind`` (``mean`` or ``band``) in the current mode."""
    uni, asc = MARKERS[kind]
    return asc if _ascii else uni


def shades() -> str:
    """Five heat-map shades, lowest first, in the current mode."""
    return SHADES[1] if _ascii else SHADES[0]


def terminal_is_utf8(
    environ: Mapping[str, str], stdout_encoding: str | None, utf8_mode: int | None = None
) -> bool:
    """Whether the terminal takes UTF-8: the locale it announces (the first set of
    ``LC_ALL``, ``LC_CTYPE``, ``LANG``, as tmux decides for its clients) names a UTF-8
    charset and ``stdout_encoding`` is UTF-8 (or unknown).

    Python turns a C locale into ``C.UTF-8`` at start (PEP 538 sets ``LC_CTYPE=C.UTF-8``
    in the environment, and PEP 540's UTF-8 mode is then on: ``sys.flags.utf8_mode``);
    that ``LC_CTYPE`` says nothing about the terminal and is skipped. ``utf8_mode``
    defaults to ``sys.flags.utf8_mode``. On Windows only the encoding counts.
    """
    if utf8_mode is None:
        utf8_mode = sys.flags.utf8_mode
    enc = (stdout_encoding or "utf-8").lower().replace("_", "-")
    if enc not in ("utf-8", "utf8"):
        return False
    if sys.platform == "win32":  # Windows consoles announce no locale in the environment
        return True
    coerced = bool(utf8_mode) and not environ.get("LC_ALL") and not environ.get("PYTHONUTF8")
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = environ.get(name, "")
        if name == "LC_CTYPE" and coerced and value in ("C.UTF-8", "C.utf8"):
            continue
        if value:
            v = value.lower()
            return "utf-8" in v or "utf8" in v
    return False  # no locale at all: POSIX, ASCII


class _Table(dict):
    """``str.translate`` table that works out (and caches) each character's replacement."""

    def __missing__(self, code: int) -> str:
        rep = _replacement(chr(code))
        self[code] = rep
        return rep


def _replacement(ch: str) -> str:
    if ch in ASCII:
        return ASCII[ch]
    cp = ord(ch)
    name = unicodedata.name(ch, "")
    if 0x2500 <= cp <= 0x257F:  # box drawing: what Textual's "ascii" border style draws
        if "DIAGONAL" in name:
            return "/" if "UPPER RIGHT TO LOWER LEFT" in name else "\\"
        if " AND " in name or "ARC" in name or "CROSS" in name:
            return "+"
        if "HORIZONTAL" in name or name.endswith((" LEFT", " RIGHT")):
            return "-"
        return "|"
    if 0x2580 <= cp <= 0x259F:  # block elements: solid from a half up, else blank
        return (
            "#"
            if (
                "FULL" in name
                or "HALF" in name
                or "SEVEN EIGHTHS" in name
                or "THREE QUARTERS" in name
            )
            else " "
        )
    if 0x2800 <= cp <= 0x28FF:  # braille: one dot is a point of a line
        return " " if cp == 0x2800 else "."
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return ""
    base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    if base:
        return base
    return "??" if unicodedata.east_asian_width(ch) in ("W", "F") else "?"


_TABLE = _Table({ord(k): v for k, v in ASCII.items()})


def to_ascii(text: str) -> str:
    """``text`` with every non-ASCII character replaced (see the module docstring); the
    same number of terminal cells for single- and double-width characters."""
    return text if text.isascii() else text.translate(_TABLE)
