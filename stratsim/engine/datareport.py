"""The problem report of a data preparation and the cell helpers it uses: problems grouped
by column with spreadsheet row numbers, labels and numbers parsed in the file's format."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .data import MAX_ROWS_SHOWN
from .errors import DataError
from .tableread import RawTable


class _Report:
    """Problems found while preparing, grouped by column, with spreadsheet rows."""

    def __init__(self, src: str, row_numbers: np.ndarray) -> None:
        self.src = src
        self.rows = row_numbers
        self.structural: list[str] = []
        self.by_column: dict[str, list[str]] = {}
        self.missing = np.zeros(len(row_numbers), dtype=bool)
        self.invalid = np.zeros(len(row_numbers), dtype=bool)
        self.missing_by_column: dict[str, np.ndarray] = {}

    def rows_text(self, mask: np.ndarray) -> str:
        idx = np.flatnonzero(mask)
        shown = ", ".join(str(int(self.rows[i])) for i in idx[:MAX_ROWS_SHOWN])
        extra = len(idx) - MAX_ROWS_SHOWN
        return shown + (f" (+{extra} more)" if extra > 0 else "")

    def add(self, column: str, text: str) -> None:
        self.by_column.setdefault(column, []).append(text)

    def invalid_cells(self, column: str, mask: np.ndarray, what: str, examples=None) -> None:
        if not mask.any():
            return
        self.invalid |= mask
        ex = ""
        if examples is not None:
            vals = list(dict.fromkeys(str(v) for v in np.asarray(examples, dtype=object)[mask]))
            ex = (
                ": "
                + ", ".join(repr(_cap(v)) for v in vals[:3])
                + (" ..." if len(vals) > 3 else "")
            )
        self.add(column, f"{what} at row(s) {self.rows_text(mask)}{ex}")

    def missing_cells(self, column: str, mask: np.ndarray) -> None:
        if mask.any():
            self.missing |= mask
            prev = self.missing_by_column.get(column)
            self.missing_by_column[column] = mask if prev is None else prev | mask

    def lines(self, with_missing: bool = True) -> list[str]:
        out = list(self.structural)
        cols = list(self.by_column)
        if with_missing:
            cols += [c for c in self.missing_by_column if c not in self.by_column]
        for c in cols:
            parts = list(self.by_column.get(c, []))
            m = self.missing_by_column.get(c) if with_missing else None
            if m is not None:
                parts.append(f"{int(m.sum())} missing at row(s) {self.rows_text(m)}")
            out.append(f"column {c!r}: " + "; ".join(parts))
        return out

    def fail(self, lead: str, lines: list[str], hint: str = "") -> DataError:
        text = f"{self.src}: {lead}: " + "; ".join(lines) + (f"; {hint}" if hint else "")
        err = DataError(text)
        err.problems = lines  # type: ignore[attr-defined]
        return err


# --------------------------------------------------------------------------- helpers


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _short_list(items: Sequence[str], limit: int = 40) -> str:
    """``a, b, ... (N more)``; control characters in names shown escaped (one line)."""
    shown = ", ".join(
        _CONTROL.sub(lambda m: repr(m.group())[1:-1], _cap(str(i))) for i in items[:limit]
    )
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def _join_rows(nums: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in nums[:MAX_ROWS_SHOWN])
    extra = len(nums) - MAX_ROWS_SHOWN
    return shown + (f" (+{extra} more)" if extra > 0 else "")


def _ambiguous_text(name: str, ambiguous: dict[str, list[int]], table: RawTable) -> str:
    pos = ambiguous[name]
    raws = [table.raw_names[j] for j in pos]
    cols = " and ".join(str(j + 1) for j in pos)
    if len(set(raws)) == 1:
        return f"columns {cols} are both named {name!r}; rename one in the file"
    return (
        f"columns {cols} are named {', '.join(repr(r) for r in raws)}, the same name "
        f"{name!r} once spaces are stripped; rename one in the file"
    )


def _lower(cells: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.Series(cells, dtype=object).str.lower().to_numpy(dtype=object)


def _label_counts(cells: np.ndarray) -> list[tuple[str, int]]:
    """Labels and their counts, most common first; each label cut to :data:`MAX_CELL_SHOWN`
    characters (for messages)."""
    from collections import Counter

    return [(_cap(lbl), k) for lbl, k in Counter(str(c) for c in cells).most_common()]


#: Longest cell or name quoted in a message (characters); longer ones are cut with "...".
MAX_CELL_SHOWN = 60


def _cap(text: str) -> str:
    return text if len(text) <= MAX_CELL_SHOWN else text[: MAX_CELL_SHOWN - 3] + "..."


def _fmt_vals(vals: np.ndarray) -> np.ndarray:
    return np.array([f"{v:g}" for v in vals], dtype=object)


def _num(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def _to_numbers(cells: np.ndarray, decimal: str, thousands: str) -> np.ndarray:
    """Parse text cells ``[n]`` as numbers in the given format: float64 ``[n]``, NaN
    where a cell is not a number in that format (digit groups must be of three)."""
    import pandas as pd

    s = pd.Series(cells, dtype="string")
    if thousands:
        t, d = re.escape(thousands), re.escape(decimal)
        grouped = s.str.fullmatch(rf"[+-]?\d{{1,3}}({t}\d{{3}})+({d}\d*)?").fillna(False)
        s = s.where(~grouped, s.str.replace(thousands, "", regex=False))
    if decimal == ",":
        s = s.where(~s.str.contains(".", regex=False).fillna(False), "x")
        s = s.str.replace(",", ".", regex=False)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
