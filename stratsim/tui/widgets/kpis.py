"""KPI tables: the current period (mean, P10, P50, P90, change from the previous
period) and the one-period-ahead preview of the draft allocation.

Labels come from :data:`stratsim.engine.kpi.KPIS`, imported when the first data arrive
(the engine, and so torch, is loaded after the first frame).
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.widgets import DataTable

from ...format import fmt, pct
from ..glyphs import glyph

#: KPIs shown in the tables, in display order.
SHOWN = (
    "users_c", "paid_c", "accounts_b", "seats_b", "mrr_c", "mrr_b", "mrr",
    "satisfaction_c", "satisfaction_b", "posture", "incident_prob", "cash", "npv_total",
    "p_cash_negative",
)  # fmt: skip

#: Short labels with units where the value alone does not say them (the engine's labels are
#: too long for 80 columns): money per month ``/mo`` (currency), scores 0..10 as they
#: are; shares and probabilities are shown as % (:data:`PERCENT`).
SHORT = {
    "users_c": "C users", "paid_c": "C paid users", "accounts_b": "B accounts",
    "seats_b": "B seats", "mrr_c": "MRR To C /mo", "mrr_b": "MRR To B /mo", "mrr": "MRR /mo",
    "satisfaction_c": "C satisfaction", "satisfaction_b": "B satisfaction",
    "posture": "Privacy posture", "incident_prob": "Incident p./mo", "cash": "Cash",
    "npv": "NPV", "npv_total": "NPV+TV", "p_cash_negative": "P(cash<0)",
}  # fmt: skip
#: KPIs that are fractions or probabilities (0..1), shown as percentages.
PERCENT = frozenset({"incident_prob", "p_cash_negative"})


def value(kpi: str, x: float | None, digits: int = 3) -> str:
    """A KPI's value with its unit: % for :data:`PERCENT`, else :func:`fmt` (k/M/G);
    ``–`` when there is none."""
    if x is None:
        return glyph("dash")
    return pct(x, digits) if kpi in PERCENT else fmt(x, digits)


def signed(x: float, digits: int = 3, kpi: str = "") -> str:
    """``+1.2k`` / ``-3`` / ``0``: a change, with its sign (percentage points ``pp`` for a
    KPI of :data:`PERCENT`); a change too small to show in ``digits`` (a rounding residue
    such as ``7.1e-05``) is ``0``."""
    if x != x:
        return "n/a"
    text = pct(x, digits)[:-1] if kpi in PERCENT else fmt(x, digits)
    if x == 0 or text.lstrip("-") == "0":
        return "0"
    return ("+" if x > 0 else "") + text + ("pp" if kpi in PERCENT else "")


def set_row(table: DataTable, key: str, columns: tuple[str, ...], cells: tuple | list) -> None:
    """Add row ``key`` or update only its changed cells (widening a column only when a
    value no longer fits: recomputing widths is the costly part of a DataTable update)."""
    if key not in table.rows:
        table.add_row(*cells, key=key)
        return
    row = table.get_row(key)
    for col, old, new in zip(columns, row, cells, strict=True):
        if old != new:
            wider = len(str(new)) > table.columns[col].content_width
            table.update_cell(key, col, new, update_width=wider)


#: Ways to fit a table into fewer columns, tried in order: (significant digits, the
#: columns' drop ranks left out). Digits are shortened before columns are left out;
#: units and suffixes are never cut.
FITS: tuple[tuple[int, int], ...] = ((3, 99), (2, 99), (2, 2), (2, 1))


class FitTable(DataTable):
    """A DataTable that keeps every number whole at any width: when its columns do not
    fit, it shortens the digits (3 then 2 significant), then leaves out the columns of
    highest drop rank (a number is never cut by the edge: ``78.7`` for 78.7k).

    Subclasses set :attr:`COLUMNS` ``(key, label, drop rank)`` (rank 0 always shown;
    columns of rank >= the fit's limit are left out) and implement :meth:`cells`."""

    COLUMNS: tuple[tuple[str, str, int], ...] = ()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown_keys: tuple[str, ...] = ()

    def cells(self, digits: int) -> dict[str, dict[str, str]]:
        """Row key -> column key -> text, for every column, with ``digits`` digits."""
        raise NotImplementedError

    def on_resize(self) -> None:
        self.refill()

    def _label(self, label: str) -> str:
        return label.replace("Δ", glyph("delta"))

    def refill(self) -> None:
        """Fill the table with the widest fit of :data:`FITS` that its width holds."""
        width = self.size.width or 10**6
        choice = None
        for digits, limit in FITS:
            rows = self.cells(digits)
            cols = [c for c in self.COLUMNS if c[2] < limit]
            need = (
                sum(
                    2 * self.cell_padding
                    + max(
                        [cell_len(self._label(label)), *(cell_len(r[key]) for r in rows.values())]
                    )
                    for key, label, _ in cols
                )
                + 2
            )  # a vertical scrollbar
            choice = (rows, cols)
            if need <= width:
                break
        assert choice is not None
        rows, cols = choice
        keys = tuple(c[0] for c in cols)
        if keys != self._shown_keys:
            self.clear(columns=True)
            for key, label, _ in cols:
                self.add_column(self._label(label), key=key)
            self._shown_keys = keys
        for rkey, row in rows.items():
            set_row(self, rkey, keys, [row[k] for k in keys])


class KpiTable(FitTable):
    """Current period: KPI, mean, P10, P50, P90, Δ from the previous period."""

    DEFAULT_CSS = "KpiTable { height: auto; max-height: 100%; }"
    COLUMNS = (
        ("kpi", "KPI", 0),
        ("mean", "mean", 0),
        ("p10", "P10", 1),
        ("p50", "P50", 2),
        ("p90", "P90", 1),
        ("delta", "Δ prev", 0),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._recent: list[dict] = []

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.refill()

    def show(self, history: list[dict]) -> None:
        """Fill from the simulation's history (a list of per-period summaries)."""
        self._recent = history[-2:]
        self.refill()

    def cells(self, digits: int) -> dict[str, dict[str, str]]:
        last = self._recent[-1] if self._recent else None
        prev = self._recent[-2] if len(self._recent) > 1 else None
        dash = glyph("dash")
        out = {}
        for k in SHOWN:
            row = {"kpi": SHORT[k]}
            if last is None or k not in last:
                row.update(dict.fromkeys(("mean", "p10", "p50", "p90", "delta"), dash))
            else:
                s = last[k]
                row.update(
                    {stat: value(k, s[stat], digits) for stat in ("mean", "p10", "p50", "p90")}
                )
                row["delta"] = (
                    signed(s["mean"] - prev[k]["mean"], digits, k)
                    if prev is not None and k in prev
                    else dash
                )
            out[k] = row
        return out


class PreviewTable(FitTable):
    """Next period under the draft: KPI, now (mean), next (mean), Δ vs the policy's decision."""

    DEFAULT_CSS = "PreviewTable { height: auto; max-height: 100%; }"
    COLUMNS = (("kpi", "KPI", 0), ("now", "now", 1), ("next", "next", 0), ("delta", "Δ draft", 2))

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._inputs: tuple[dict | None, dict | None, dict | None] = (None, None, None)

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.refill()

    def show(self, current: dict | None, draft: dict | None, baseline: dict | None) -> None:
        """``current``: last period's summary; ``draft``/``baseline``: previews of the
        next period under the draft and under the decision the policy would take."""
        self._inputs = (current, draft, baseline)
        self.refill()

    def cells(self, digits: int) -> dict[str, dict[str, str]]:
        current, draft, baseline = self._inputs
        dash = glyph("dash")
        out = {}
        for k in SHOWN:
            now = value(k, current[k]["mean"], digits) if current and k in current else dash
            nxt = value(k, draft[k]["mean"], digits) if draft and k in draft else dash
            delta = (
                signed(draft[k]["mean"] - baseline[k]["mean"], digits, k)
                if draft and baseline and k in draft and k in baseline
                else dash
            )
            out[k] = {"kpi": SHORT[k], "now": now, "next": nxt, "delta": delta}
        return out
