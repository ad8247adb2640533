"""Number and duration formatting shared by the CLI and the TUI.

A neutral module: it imports nothing from :mod:`stratsim.cli`, :mod:`stratsim.tui` or a
terminal library, so both front ends (and their tests) use one definition without
importing each other (the import-linter contracts in ``pyproject.toml`` forbid that).
"""

from __future__ import annotations

import math


def fmt(value: float) -> str:
    """Compact number for tables and status lines: 1.23G, 1.23M, 45.6k, 123, 0.123 (three
    significant digits, SI-style suffixes k = 1e3, M = 1e6, G = 1e9, in the unit of the value
    itself, e.g. currency or users); ``n/a`` for NaN (a quantile of a probability, a CAC
    without acquisitions)."""
    if value != value:
        return "n/a"
    a = abs(value)
    if a >= 1e9:
        return f"{value / 1e9:.3g}G"
    if a >= 1e6:
        return f"{value / 1e6:.3g}M"
    if a >= 1e4:
        return f"{value / 1e3:.3g}k"
    if a >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def duration(seconds: float) -> str:
    """A time span in seconds as ``45s`` or ``2m05s`` (rounded to the second); ``?`` when
    not finite (an ETA before the first measured batch)."""
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
