"""KPI tables: the current period (mean, P10, P50, P90, change from the previous
period) and the one-period-ahead preview of the draft allocation.

Labels come from :data:`stratsim.engine.kpi.KPIS`, imported when the first data arrive
(the engine, and so torch, is loaded after the first frame).
"""

from __future__ import annotations

from textual.widgets import DataTable

from ...format import fmt

#: KPIs shown in the tables, in display order.
SHOWN = (
    "users_c", "paid_c", "accounts_b", "seats_b", "mrr_c", "mrr_b", "mrr",
    "satisfaction_c", "satisfaction_b", "posture", "incident_prob", "cash", "npv_total",
    "p_cash_negative",
)  # fmt: skip

#: Short labels (the engine's labels are too long for 80 columns).
SHORT = {
    "users_c": "C users", "paid_c": "C paid users", "accounts_b": "B accounts",
    "seats_b": "B seats", "mrr_c": "MRR To C", "mrr_b": "MRR To B", "mrr": "MRR",
    "satisfaction_c": "C satisfaction", "satisfaction_b": "B satisfaction",
    "posture": "Privacy posture", "incident_prob": "Incident prob.", "cash": "Cash",
    "npv": "NPV", "npv_total": "NPV+TV", "p_cash_negative": "P(cash<0)",
}  # fmt: skip


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


def signed(value: float) -> str:
    """``+1.2k`` / ``-3`` / ``0``: a change, with its sign."""
    if value == 0:
        return "0"
    return ("+" if value > 0 else "") + fmt(value)


class KpiTable(DataTable):
    """Current period: KPI, mean, P10, P50, P90, Δ from the previous period."""

    DEFAULT_CSS = "KpiTable { height: auto; max-height: 100%; }"

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for key, label in (("kpi", "KPI"), ("mean", "mean"), ("p10", "P10"), ("p50", "P50"), ("p90", "P90"), ("delta", "Δ prev")):
            self.add_column(label, key=key)

    def show(self, history: list[dict]) -> None:
        """Fill from the simulation's history (a list of per-period summaries)."""
        last = history[-1] if history else None
        prev = history[-2] if len(history) > 1 else None
        for k in SHOWN:
            if last is None or k not in last:
                cells = [SHORT[k], "–", "–", "–", "–", "–"]
            else:
                s = last[k]
                delta = signed(s["mean"] - prev[k]["mean"]) if prev is not None else "–"
                cells = [SHORT[k], fmt(s["mean"]), fmt(s["p10"]), fmt(s["p50"]), fmt(s["p90"]), delta]
            set_row(self, k, ("kpi", "mean", "p10", "p50", "p90", "delta"), cells)


class PreviewTable(DataTable):
    """Next period under the draft: KPI, now (mean), next (mean), Δ vs the policy's decision."""

    DEFAULT_CSS = "PreviewTable { height: auto; max-height: 100%; }"

    def on_mount(self) -> None:
        self.cursor_type = "none"
        for key, label in (("kpi", "KPI"), ("now", "now"), ("next", "next"), ("delta", "Δ draft")):
            self.add_column(label, key=key)

    def show(self, current: dict | None, draft: dict | None, baseline: dict | None) -> None:
        """``current``: last period's summary; ``draft``/``baseline``: previews of the
        next period under the draft and under the decision the policy would take."""
        for k in SHOWN:
            now = fmt(current[k]["mean"]) if current and k in current else "–"
            nxt = fmt(draft[k]["mean"]) if draft and k in draft else "–"
            delta = signed(draft[k]["mean"] - baseline[k]["mean"]) if draft and baseline and k in draft else "–"
            cells = (SHORT[k], now, nxt, delta)
            set_row(self, k, ("kpi", "now", "next", "delta"), cells)
