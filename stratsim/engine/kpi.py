"""KPI summaries over Monte-Carlo paths: mean, P10, P50, P90 per period.

The tidy form (one row per period and KPI, columns ``period, kpi, mean, p10, p50, p90``)
is what the CLI writes to CSV, the session stores as history and the TUI shows.
Percentiles use linear interpolation between order statistics (``torch.quantile``'s
default, the same as NumPy's and pandas' default).
"""

from __future__ import annotations

import math
import threading
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


#: From this many paths up :class:`~.simulation.Simulation` asks :func:`summarize` for
#: quantiles from a subsample of :data:`QUANTILE_SAMPLE` paths (the mean stays exact).
QUANTILE_SAMPLE_FROM = 1_000_000
#: Paths in the quantile subsample (every ``ceil(n/QUANTILE_SAMPLE)``-th path; the paths of
#: a run are i.i.d., so this is a simple random sample). Error: the sample quantile at level
#: ``p`` has the standard error ``sqrt(p(1-p)/m)`` in probability units (the order-statistic
#: binomial argument, e.g. Serfling 1980, sec. 2.3.2): with m = 131,072 paths 0.083% for P10/P90
#: and 0.14% for P50, i.e. the reported P10 lies between the exact P9.75 and P10.25 (3 SE).
QUANTILE_SAMPLE = 131_072

_SCRATCH = threading.local()  # one reused [n_kpis, n_paths] buffer per thread


def _scratch(shape: tuple[int, int], dtype: torch.dtype) -> torch.Tensor:
    """A CPU buffer of ``shape`` and ``dtype`` reused across calls in this thread (its
    contents are overwritten by every :func:`summarize`)."""
    import torch

    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = None
        _SCRATCH.buf = None  # free the old one before allocating
        buf = torch.empty(shape, dtype=dtype)
        _SCRATCH.buf = buf
    return buf


def _stacked(outputs: dict[str, torch.Tensor], names: list[str], stride: int = 1):
    """``outputs[names]`` (every ``stride``-th path) as one ``[len(names), m]`` NumPy array
    on the CPU, in their common floating dtype (float64 when they differ), written into the
    thread's reused buffer: valid until the next call in this thread."""
    import torch

    tensors = [outputs[k].detach()[::stride] for k in names]
    t0 = tensors[0]
    same = all(t.dtype == t0.dtype and t.is_floating_point() for t in tensors)
    dtype = t0.dtype if same else torch.float64
    buf = _scratch((len(names), t0.numel()), dtype)
    if same and t0.device.type == "cpu":
        torch.stack(tensors, out=buf)
    else:
        buf.copy_(torch.stack([t.to(dtype) for t in tensors]))
    return buf.numpy()


def summarize(outputs: dict[str, torch.Tensor], quantile_sample: int | None = None) -> Summary:
    """Mean, P10, P50, P90 over paths of every KPI.

    Args:
        outputs: KPI name -> ``[n_paths]`` tensor (any dtype/device), as returned by
            :func:`~.market.advance`.
        quantile_sample: None (default): exact percentiles. An integer m < n_paths: the
            percentiles of every ``ceil(n_paths/m)``-th path (for i.i.d. paths a random
            sample; error in :data:`QUANTILE_SAMPLE`); the mean is still over all paths.

    Returns:
        ``{kpi: {"mean", "p10", "p50", "p90"}}`` as Python floats, computed in float64.
        For the 0/1 indicators of :data:`PROBABILITY_KPIS` the mean is a probability and
        the percentiles are NaN (not reported). The ratios of :data:`OPTIONAL_KPIS` are
        summarized over the paths where they are defined (NaN when none is: n/a).
        Any other KPI with a NaN on any path gets NaN percentiles.

    The percentiles are NumPy's default ``linear`` method (the same as
    ``torch.quantile``), computed from one in-place ``numpy.sort`` of the values in their
    own dtype: converting float32 to float64 preserves order, so the order statistics are
    those of the float64 values, and the interpolation is done in float64.
    ``torch.quantile`` on the CPU sorted in float64 and was ~10x slower (it took most of
    a 10,000-path run: bench/bench_engine.py). The KPIs are stacked into one reused
    per-thread buffer (the probability indicators last, never sorted) and the mean is
    taken before the sort, so the figures are those of a fresh ``np.sort``
    (tests/test_kpi_summary.py compares them with that implementation).
    """
    import numpy as np

    present = [k for k in KPIS if k in outputs]
    names = [k for k in present if k not in PROBABILITY_KPIS] + [
        k for k in present if k in PROBABILITY_KPIS
    ]
    n_sorted = sum(k not in PROBABILITY_KPIS for k in names)
    n = outputs[names[0]].shape[0]
    if quantile_sample is not None and quantile_sample < n:
        # Only the subsample is copied (the means read every path where it lies): at
        # 1,000,000 paths stacking every path cost a quarter of the summary.
        return _summarize_subsampled(outputs, names, present, n_sorted, -(-n // quantile_sample))
    x = _stacked(outputs, names)
    mean = x.mean(axis=1, dtype=np.float64)
    # A NaN anywhere makes the row's mean NaN (a NaN mean without one: +inf and -inf).
    nan_rows = [int(i) for i in np.flatnonzero(np.isnan(mean[:n_sorted])) if np.isnan(x[i]).any()]
    for i in nan_rows:  # over the defined paths; before the sort (same summation order)
        if names[i] in OPTIONAL_KPIS:
            ok = x[i][~np.isnan(x[i])].astype(np.float64)
            mean[i] = ok.mean() if ok.size else np.nan
    return _finish(names, present, mean, x[:n_sorted], nan_rows)


def _summarize_subsampled(
    outputs: dict[str, torch.Tensor],
    names: list[str],
    present: list[str],
    n_sorted: int,
    stride: int,
) -> Summary:
    """:func:`summarize` with percentiles from every ``stride``-th path: the float64 means
    over all paths are taken from each output where it lies (one reduction on its device,
    one transfer), and only the subsample ``[n_sorted, n/stride]`` is stacked and sorted."""
    import numpy as np
    import torch

    tensors = [outputs[k].detach() for k in names]
    if all(t.device.type == "cpu" for t in tensors):
        mean = np.array([t.numpy().mean(dtype=np.float64) for t in tensors])
    else:
        mean = torch.stack([t.sum(dtype=torch.float64) / t.shape[0] for t in tensors]).cpu().numpy()
    nan_rows = []
    for i in np.flatnonzero(np.isnan(mean[:n_sorted])):
        full = tensors[i]
        isnan = torch.isnan(full)
        if bool(isnan.any()):
            nan_rows.append(int(i))
            if names[i] in OPTIONAL_KPIS:
                ok = full[~isnan].to(torch.float64).cpu().numpy()
                mean[i] = ok.mean() if ok.size else np.nan
    block = _stacked(outputs, names[:n_sorted], stride)
    return _finish(names, present, mean, block, nan_rows)


def _finish(names: list[str], present: list[str], mean, block, nan_rows: list[int]) -> Summary:
    """The summary from the means ``[n_kpis]`` (float64) and the values ``block``
    ``[n_sorted, m]`` the percentiles are taken from (sorted here, in place); rows
    ``nan_rows`` hold a NaN (see :func:`summarize`)."""
    import numpy as np

    m = block.shape[1]
    q = np.full((len(names), len(_Q)), np.nan)
    block.sort(axis=1)
    pos = (m - 1) * np.asarray(_Q, dtype=np.float64)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, m - 1)
    frac = pos - lo
    a = block[:, lo].astype(np.float64)
    b = block[:, hi].astype(np.float64)
    # NumPy's _lerp: exact at the ends and monotone in frac.
    q[: block.shape[0]] = np.where(frac >= 0.5, b - (b - a) * (1.0 - frac), a + (b - a) * frac)
    for i in nan_rows:
        ok = (
            block[i][~np.isnan(block[i])].astype(np.float64)
            if names[i] in OPTIONAL_KPIS
            else block[i][:0]
        )
        q[i] = np.quantile(ok, _Q) if ok.size else np.nan
    # Every NaN (n/a) is the one object math.nan, so summaries compare equal with ==
    # (containers compare by identity first).
    mean_l = [math.nan if v != v else v for v in mean.tolist()]
    q_l = [[math.nan if v != v else v for v in row] for row in q.tolist()]
    stats = {
        k: {"mean": mean_l[i], "p10": q_l[i][0], "p50": q_l[i][1], "p90": q_l[i][2]}
        for i, k in enumerate(names)
    }
    return {k: stats[k] for k in present}


class SummaryAccumulator:
    """One period's :func:`summarize` over paths that arrive in chunks (chunked runs).

    ``add`` each chunk's outputs in path order; :meth:`result` gives the summary of all
    ``n_paths``. Memory: ``[n_kpis, m]`` values, m = ``ceil(n_paths/stride)``, not the paths.

    * The mean is exact up to float64 rounding (chunk sums in float64, divided once);
      it may differ from :func:`summarize`'s pairwise sum in the last bits.
    * The percentiles are those of every ``stride``-th path over the whole run (global
      path index ``i`` with ``i % stride == 0``), ``stride = ceil(n_paths/quantile_sample)``:
      exact (identical to :func:`summarize`) when ``n_paths <= quantile_sample``, else
      the subsample of :data:`QUANTILE_SAMPLE` with its stated error.

    Args:
        n_paths: paths in all chunks together.
        quantile_sample: paths the percentiles are taken from (default
            :data:`QUANTILE_SAMPLE`).
    """

    def __init__(self, n_paths: int, quantile_sample: int = QUANTILE_SAMPLE) -> None:
        self.n_paths = n_paths
        self.stride = max(1, -(-n_paths // quantile_sample))
        self.seen = 0
        self._names: list[str] | None = None

    def add(self, outputs: dict[str, torch.Tensor]) -> None:
        """Add the next chunk's outputs (KPI name -> ``[n_chunk]`` tensor)."""
        import numpy as np

        if self._names is None:
            self._present = [k for k in KPIS if k in outputs]
            self._names = [k for k in self._present if k not in PROBABILITY_KPIS] + [
                k for k in self._present if k in PROBABILITY_KPIS
            ]
            self._n_sorted = sum(k not in PROBABILITY_KPIS for k in self._names)
            k = len(self._names)
            self._sum = np.zeros(k)
            self._count = np.zeros(k)
            self._nan = np.zeros(k, dtype=bool)
            self._sample = None
            self._filled = 0
        names = self._names
        x = _stacked(outputs, names)
        n = x.shape[1]
        sums = x.sum(axis=1, dtype=np.float64)
        counts = np.full(len(names), float(n))
        for i in np.flatnonzero(np.isnan(sums)):
            isnan = np.isnan(x[i])
            if isnan.any():
                self._nan[i] = True
                sums[i] = np.sum(x[i][~isnan], dtype=np.float64)
                counts[i] = n - int(isnan.sum())
        self._sum += sums
        self._count += counts
        start = (-self.seen) % self.stride
        cols = x[: self._n_sorted, start :: self.stride]
        if self._sample is None:
            self._sample = np.empty(
                (self._n_sorted, -(-self.n_paths // self.stride)), dtype=x.dtype
            )
        self._sample[:, self._filled : self._filled + cols.shape[1]] = cols
        self._filled += cols.shape[1]
        self.seen += n

    def result(self) -> Summary:
        """The summary of every path added (see :func:`summarize`).

        Raises:
            ValueError: fewer or more paths were added than ``n_paths``.
        """
        import numpy as np

        if self._names is None or self.seen != self.n_paths:
            raise ValueError(f"{self.seen} of {self.n_paths} paths added")
        mean = np.empty(len(self._names))
        nan_rows = []
        for i, k in enumerate(self._names):
            if self._nan[i] and k not in OPTIONAL_KPIS:
                mean[i] = np.nan
            else:
                mean[i] = self._sum[i] / self._count[i] if self._count[i] else np.nan
            if self._nan[i] and i < self._n_sorted:
                nan_rows.append(i)
        return _finish(self._names, self._present, mean, self._sample[:, : self._filled], nan_rows)


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
