"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

import math

from hypothesis import assume
from hypothesis import strategies as st

from stratsim.engine.decisions import SPLIT_KEYS, Decision

fraction = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def splits(draw) -> dict[str, float]:
    """Four non-negative shares summing to 1."""
    w = [draw(st.floats(0.0, 1.0)) for _ in SPLIT_KEYS]
    assume(sum(w) > 1e-3)
    total = math.fsum(w)
    return {k: x / total for k, x in zip(SPLIT_KEYS, w, strict=True)}


@st.composite
def decisions(draw) -> Decision:
    """A valid decision (not yet validated: callers validate where they test it)."""
    return Decision(
        budget=draw(st.floats(0.0, 5e6)),
        privacy_share=draw(fraction),
        c_share=draw(fraction),
        c_split=draw(splits()),
        b_split=draw(splits()),
        c_price=draw(st.floats(0.0, 200.0)),
        b_seat_price=draw(st.floats(0.0, 500.0)),
    )
