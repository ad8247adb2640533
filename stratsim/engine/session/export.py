"""Session contents as tables (``stratsim export``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..decisions import DECISION_KEYS, SPLIT_KEYS, Decision

if TYPE_CHECKING:
    import pandas as pd


def decisions_frame(decisions: list[Decision], first_period: int = 1) -> pd.DataFrame:
    """Decisions as a flat table: ``period, budget, privacy_share, c_share, c_price,
    b_seat_price, c_split_product, ..., b_split_acquisition`` (one row per period)."""
    import pandas as pd

    scalars = [k for k in DECISION_KEYS if not k.endswith("split")]
    columns = [
        "period",
        *scalars,
        *(f"{s}_{k}" for s in ("c_split", "b_split") for k in SPLIT_KEYS),
    ]
    rows = []
    for i, d in enumerate(decisions):
        row: dict[str, Any] = {"period": first_period + i}
        row.update({k: float(getattr(d, k)) for k in scalars})
        for s in ("c_split", "b_split"):
            row.update({f"{s}_{k}": float(getattr(d, s)[k]) for k in SPLIT_KEYS})
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
