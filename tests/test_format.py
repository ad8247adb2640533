"""stratsim.format: the one number/duration formatting used by the CLI tables and the TUI."""

from __future__ import annotations

import math

import pytest

from stratsim.cli import _common
from stratsim.format import duration, fmt


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (float("nan"), "n/a"),
        (0.12345, "0.123"),
        (99.94, "99.9"),
        (123.4, "123"),
        (-9999.0, "-9999"),
        (45_600.0, "45.6k"),
        (-1_234_567.0, "-1.23M"),
        (2.5e9, "2.5G"),
    ],
)
def test_fmt(value, text):
    assert fmt(value) == text


def test_cli_uses_the_shared_fmt():
    assert _common.fmt is fmt


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(math.nan, "?"), (math.inf, "?"), (0.4, "0s"), (59.4, "59s"), (60, "1m00s"), (125.2, "2m05s")],
)
def test_duration(seconds, text):
    assert duration(seconds) == text
