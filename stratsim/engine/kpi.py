"""KPI summaries over Monte-Carlo paths: mean, P10, P50, P90 per period.

The tidy form (one row per period and KPI, columns ``period, kpi, mean, p10, p50, p90``)
is what the CLI writes to CSV, the session stores as history and the TUI shows.
Percentiles use linear interpolation between order statistics (``torch.quantile``'s
default, the same as NumPy's and pandas' default).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: sessions and the CLI read KPIS without torch
    import pandas as pd
    import torch

#: KPI name -> (label, unit). The order is the display order.
KPIS: dict[str, tuple[str, str]] = {
    "users_c": ("To C active users", "users"),
    "free_c": ("To C free users", "users"),
    "paid_c": ("To C paid users", "users"),
    "lapsed_c": ("To C lapsed users", "users"),
    "paid_share_c": ("To C paid share", "fraction"),
    "new_users_c": ("To C new users (Bass)", "users/month"),
    "conversion_c": ("To C free->paid conversion", "fraction/month"),
    "churn_free_c": ("To C free churn", "fraction/month"),
    "churn_paid_c": ("To C paid churn", "fraction/month"),
    "value_c": ("To C perceived value", "0..10"),
    "cac_c_blended": ("To C blended CAC", "currency/user"),
    "cac_c_paid": ("To C paid CAC", "currency/user"),
    "accounts_b": ("To B accounts", "accounts"),
    "seats_b": ("To B seats", "seats"),
    "reps_b": ("To B ramped sales reps", "reps"),
    "capacity_b": ("To B sales capacity", "opportunities/month"),
    "new_opportunities_b": ("To B new opportunities", "opportunities/month"),
    "pipeline_b": ("To B pipeline", "opportunities"),
    "new_accounts_b": ("To B new accounts", "accounts/month"),
    "win_rate_b": ("To B win rate", "fraction"),
    "logo_churn_b": ("To B logo churn", "fraction/month"),
    "nrr_b": ("To B NRR (cohort)", "fraction/year"),
    "grr_b": ("To B GRR (cohort)", "fraction/year"),
    "cac_b": ("To B CAC", "currency/account"),
    "cac_payback_b": ("To B CAC payback", "months"),
    "satisfaction_c": ("To C satisfaction", "0..10"),
    "satisfaction_b": ("To B satisfaction", "0..10"),
    "core": ("Shared core K", "0..10"),
    "posture": ("Privacy posture P", "0..10"),
    "incident_prob": ("Incident probability", "fraction/month"),
    "incidents": ("P(incident this month)", "probability"),
    "p_incident_so_far": ("P(incident so far)", "probability"),
    "incident_cost": ("Incident cost", "currency/month"),
    "mrr_c": ("MRR To C", "currency/month"),
    "mrr_b": ("MRR To B", "currency/month"),
    "mrr": ("MRR", "currency/month"),
    "arr": ("ARR", "currency/year"),
    "costs": ("Costs", "currency/month"),
    "financing_cost": ("Financing cost (interest on negative cash)", "currency/month"),
    "net_cash_flow": ("Net cash flow", "currency/month"),
    "cash": ("Cash", "currency"),
    "npv": ("NPV (horizon only)", "currency"),
    "terminal_value": ("Terminal value (Gordon)", "currency"),
    "npv_total": ("NPV + terminal value", "currency"),
    "terminal_value_arr": ("Terminal value (ARR x)", "currency"),
    "npv_total_arr": ("NPV + TV (ARR multiple)", "currency"),
    "p_cash_negative": ("P(cash < 0)", "probability"),
}
#: 0/1 indicators per path: their mean is a probability; no quantiles (NaN) are reported.
PROBABILITY_KPIS = frozenset({"incidents", "p_incident_so_far", "p_cash_negative"})
#: Ratios undefined on a path with no acquisitions (NaN there, shown as n/a): summarized over
#: the paths where they are defined; n/a (NaN) when none is.
OPTIONAL_KPIS = frozenset({"cac_c_blended", "cac_c_paid", "cac_b", "cac_payback_b"})
STATS = ("mean", "p10", "p50", "p90")
#: Columns of :func:`tidy_frame` (``stratsim run --csv``, ``stratsim export``).
TIDY_COLUMNS = ("period", "kpi", *STATS)
_Q = (0.1, 0.5, 0.9)

Summary = dict[str, dict[str, float]]


def summarize(outputs: dict[str, torch.Tensor]) -> Summary:
    """Mean, P10, P50, P90 over paths of every KPI.

    Args:
        outputs: KPI name -> ``[n_paths]`` tensor (any dtype/device), as returned by
            :func:`~.market.advance`.

    Returns:
        ``{kpi: {"mean", "p10", "p50", "p90"}}`` as Python floats, computed in float64.
        For the 0/1 indicators of :data:`PROBABILITY_KPIS` the mean is a probability and
        the percentiles are NaN (not reported). The ratios of :data:`OPTIONAL_KPIS` are
        summarized over the paths where they are defined (NaN when none is: n/a).
        Any other KPI with a NaN on any path gets NaN percentiles.

    The percentiles are NumPy's default ``linear`` method (the same as
    ``torch.quantile``), computed from one ``numpy.sort`` of the values in their own
    dtype: converting float32 to float64 preserves order, so the order statistics are
    those of the float64 values, and the interpolation is done in float64.
    ``torch.quantile`` on the CPU sorted in float64 and was ~10x slower (it took most of
    a 10,000-path run: bench/bench_engine.py).
    """
    import numpy as np
    import torch

    names = [k for k in KPIS if k in outputs]
    tensors = [outputs[k].detach() for k in names]
    dtype = tensors[0].dtype if all(t.dtype == tensors[0].dtype and t.is_floating_point() for t in tensors) else torch.float64
    x = torch.stack([t.to(dtype) for t in tensors]).cpu().numpy()
    n = x.shape[1]
    mean = x.mean(axis=1, dtype=np.float64)
    ordered = np.sort(x, axis=1)
    pos = (n - 1) * np.asarray(_Q, dtype=np.float64)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    a = ordered[:, lo].astype(np.float64)
    b = ordered[:, hi].astype(np.float64)
    # NumPy's _lerp: exact at the ends and monotone in frac.
    q = np.where(frac >= 0.5, b - (b - a) * (1.0 - frac), a + (b - a) * frac)
    nan_rows = np.isnan(x).any(axis=1)
    for i, k in enumerate(names):
        if k in OPTIONAL_KPIS and nan_rows[i]:
            ok = x[i][~np.isnan(x[i])].astype(np.float64)
            mean[i] = ok.mean() if ok.size else np.nan
            q[i] = np.quantile(ok, _Q) if ok.size else np.nan
            nan_rows[i] = False
        elif k in PROBABILITY_KPIS:
            q[i] = np.nan
    q[nan_rows] = np.nan
    # Every NaN (n/a) is the one object math.nan, so summaries compare equal with ==
    # (containers compare by identity first).
    mean_l = [math.nan if v != v else v for v in mean.tolist()]
    q_l = [[math.nan if v != v else v for v in row] for row in q.tolist()]
    return {k: {"mean": mean_l[i], "p10": q_l[i][0], "p50": q_l[i][1], "p90": q_l[i][2]} for i, k in enumerate(names)}


def tidy_frame(history: list[Summary], first_period: int = 1) -> pd.DataFrame:
    """History (one :data:`Summary` per period) as the tidy table
    ``period, kpi, mean, p10, p50, p90``; periods are 1-based months."""
    import pandas as pd

    rows = [
        {"period": first_period + i, "kpi": kpi, **stats}
        for i, summary in enumerate(history)
        for kpi, stats in summary.items()
    ]
    return pd.DataFrame(rows, columns=list(TIDY_COLUMNS))
