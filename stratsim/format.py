"""Number and duration formatting shared by the CLI and the TUI.

A neutral module: it imports nothing from :mod:`stratsim.cli`, :mod:`stratsim.tui` or a
terminal library, so both front ends (and their tests) use one definition without
importing each other (the import-linter contracts in ``pyproject.toml`` forbid that).
"""

from __future__ import annotations

import math

#: The unit words of money. A scenario has no currency field (its amounts are in whatever
#: currency its parameters were written in), so money is named by what it is, never by a
#: placeholder such as ``cur``: the TUI's chart titles, units and input errors use these.
MONEY = "money"
PER_MONTH = "per month"


def fmt(value: float, digits: int = 3) -> str:
    """Compact number for tables and status lines: 1.23G, 1.23M, 45.6k, 123, 0.123 (three
    significant digits, SI-style suffixes k = 1e3, M = 1e6, G = 1e9, in the unit of the value
    itself, e.g. currency or users); ``n/a`` for NaN (a quantile of a probability, a CAC
    without acquisitions). ``digits`` (2 or 3) shortens the digits for a narrow column,
    never the suffix: with 2, ``8025`` is ``8k`` and ``78_700`` is ``79k``."""
    if value != value:
        return "n/a"
    a = abs(value)
    if a >= 1e9:
        return _digits(value / 1e9, digits) + "G"
    if a >= 1e6:
        return _digits(value / 1e6, digits) + "M"
    if a >= 1e4 or (digits < 3 and a >= 1e3):
        return _digits(value / 1e3, digits) + "k"
    if a >= 10**digits:
        return f"{value:.0f}"
    return _digits(value, digits)


def _digits(x: float, digits: int) -> str:
    """``x`` to ``digits`` significant digits, never in exponent notation (99.94 -> 99.9
    or 100, not 1e+02; a magnitude below 1e-4, such as a rounding residue 7.1e-05, is 0)."""
    text = f"{x:.{digits}g}"
    if "e" not in text:
        return text
    return f"{x:.0f}" if abs(x) >= 1 else "0"


def pct(value: float, digits: int = 3) -> str:
    """A fraction as a percentage with ``digits`` significant digits at most (``0.013`` ->
    ``1.3%``, ``0.00015`` -> ``0.015%``, ``0`` -> ``0%``, below 1e-6 ``0%``, never an
    exponent); ``n/a`` for NaN."""
    if value != value:
        return "n/a"
    return _digits(value * 100, digits) + "%"


def duration(seconds: float) -> str:
    """A time span in seconds as ``45s`` or ``2m05s`` (rounded to the second); ``?`` when
    not finite (an ETA before the first measured batch)."""
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
