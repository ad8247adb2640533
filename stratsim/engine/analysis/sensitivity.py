"""Which assumptions decide the answer: tornado, Sobol and Morris sensitivity of a KPI to
scenario parameters, every point evaluated by the sweep machinery (:mod:`.sweep`: points
batched as paths on common random numbers, chunked, local or Ray).

Ranges (:func:`parameter_ranges`): an uncertain parameter (a distribution in the
scenario) varies over its P10..P90, measured on 20,000 draws of the scenario's own
truncated sampler; a certain one over ``value * (1 -+ range)`` (``--range``, default
0.2: the customary +-20% of a tornado diagram), clipped to the key's bounds. The base case
sets every analysed parameter to its centre (P50 or value); parameters not analysed keep
their scenario values or per-path draws.

* **Tornado** (one at a time; Howard 1988, "Decision analysis: practice and promise"):
  the KPI at each parameter's low and high with the others at base, ranked by the swing
  ``|KPI(high) - KPI(low)|``; for each, the best ``c_share`` of a grid at low, base and
  high, so the table says whether the To C / To B balance would change.
* **Sobol** (variance-based; Sobol' 2001, Saltelli et al. 2010): first-order ``S1`` and
  total ``ST`` indices from SALib's Saltelli/Sobol' sequence of ``N * (D + 2)`` points,
  uniform over the ranges, with bootstrap confidence intervals.
* **Morris** (elementary effects; Morris 1991, Campolongo et al. 2007): ``mu_star`` (mean
  absolute effect) and ``sigma`` from SALib with ``N`` trajectories of ``D + 1`` points.

The Sobol and Morris functions take any ``evaluate(X[K, D]) -> Y[K]`` so that known test
functions (Ishigami) run through the same code as the simulation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import StratsimError
from ..terms import term
from .sweep import (
    DEFAULT_CHUNK_PATHS,
    DEFAULT_MAX_MEMORY,
    Design,
    Progress,
    RunSpec,
    check_objective,
    evaluate,
    is_lever,
    param_bounds,
    prepare,
    resolve_key,
)

if TYPE_CHECKING:
    import numpy as np

    from ..scenario import Scenario

METHODS = ("tornado", "sobol", "morris")

#: Analysed when the scenario has no uncertain parameter and ``--params`` is not given:
#: the market assumptions the literature gives only as ranges (see each key's source in
#: the default scenario). Keys the scenario lacks are skipped.
DEFAULT_KEYS = (
    "to_c.bass_p",
    "to_c.bass_q",
    "to_c.conversion_max",
    "to_c.price_elasticity",
    "to_c.churn_paid",
    "to_c.compute_cost_per_user",
    "to_b.win_rate",
    "to_b.sales_cycle_months",
    "to_b.logo_churn",
    "to_b.cost_per_lead",
    "to_b.seat_expansion_max",
    "privacy.cost_per_record",
)

#: Draws used to measure an uncertain parameter's P10/P50/P90.
RANGE_DRAWS = 20_000


@dataclass(frozen=True)
class ParamRange:
    """One analysed parameter: ``low``, ``base`` (centre) and ``high`` values."""

    key: str
    low: float
    base: float
    high: float
    uncertain: bool


def default_keys(scenario: Scenario) -> list[str]:
    """The scenario's uncertain parameters, or :data:`DEFAULT_KEYS` when it has none."""
    from .sweep import param_keys

    uncertain = [k for k in param_keys(scenario) if not isinstance(_raw(scenario, k), int | float)]
    return uncertain or [k for k in DEFAULT_KEYS if k in set(param_keys(scenario))]


def _raw(scenario: Scenario, key: str) -> Any:
    section, _, name = key.partition(".")
    return getattr(getattr(scenario, section), name)


def parameter_ranges(
    scenario: Scenario, keys: Sequence[str] | None = None, rel_range: float = 0.2
) -> list[ParamRange]:
    """The low/base/high of each analysed parameter (see the module doc).

    Raises:
        StratsimError: an unknown key, a decision lever, ``rel_range`` outside (0, 1], a
            certain parameter at 0 (no relative range), or a range that is empty.
    """
    import torch

    from ..scenario_draw import draw_flat

    if not 0 < rel_range <= 1:
        raise StratsimError(f"{term('range')} {rel_range!r}: expected a fraction in (0, 1]")
    keys = list(keys) if keys else default_keys(scenario)
    if not keys:
        raise StratsimError(f"{term('params')}: no parameters to analyse")
    out = []
    for key in keys:
        k = resolve_key(scenario, key)
        if is_lever(k):
            raise StratsimError(
                f"{term('params')} {key}: a decision lever; expected a scenario parameter such as to_b.win_rate"
            )
        value = _raw(scenario, k)
        if isinstance(value, int | float):
            v = float(value)
            if v == 0:
                raise StratsimError(
                    f"{term('params')} {k}: value 0: a relative range is empty; expected a non-zero value (or make it uncertain in the scenario)"
                )
            lo, hi = sorted((v * (1 - rel_range), v * (1 + rel_range)))
            blo, bhi, strict = param_bounds(scenario, k)
            lo = max(lo, math.nextafter(blo, math.inf) if strict else blo)
            hi = min(hi, bhi)
            base, uncertain = v, False
        else:
            g = torch.Generator().manual_seed(0)
            draws = draw_flat(scenario, RANGE_DRAWS, g, torch.float64, torch.device("cpu"))[k]
            lo, base, hi = (
                float(x)
                for x in torch.quantile(draws, torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64))
            )
            uncertain = True
        if not hi > lo:
            raise StratsimError(
                f"{term('params')} {k}: range {lo:g}..{hi:g}: empty; expected low < high"
            )
        out.append(ParamRange(k, lo, base, hi, uncertain))
    return out


# --------------------------------------------------------------------- evaluation


@dataclass
class Evaluator:
    """``X[K, D]`` (values of ``keys``) -> ``Y[K]``: the horizon ``stat`` of ``kpi``
    of each point, through :func:`.sweep.evaluate`; ``keys`` may be given per call (the
    tornado appends ``allocation.c_share``). ``maximize``: whether a higher KPI is better
    (the tornado's best share)."""

    scenario: Scenario
    keys: list[str]
    spec: RunSpec
    kpi: str = "npv"
    stat: str = "mean"
    maximize: bool = True
    backend: str = "local"
    max_memory: int = DEFAULT_MAX_MEMORY
    chunk_paths: int = DEFAULT_CHUNK_PATHS
    ray_address: str | None = None
    ray_cpus: int | None = None
    on_progress: Callable[[Progress], Any] | None = None
    should_stop: Callable[[], bool] | None = None
    points_run: int = 0

    def __call__(self, x: np.ndarray, keys: Sequence[str] | None = None) -> np.ndarray:
        check_objective(self.kpi, self.stat)
        prepared = prepare(self.scenario, Design(list(keys or self.keys), x))
        res = evaluate(
            prepared, self.spec, backend=self.backend, max_memory=self.max_memory, chunk_paths=self.chunk_paths,
            ray_address=self.ray_address,
            ray_cpus=self.ray_cpus, on_progress=self.on_progress, should_stop=self.should_stop,
        )  # fmt: skip
        self.points_run += prepared.design.n_points
        return res.horizon_values(self.kpi, self.stat)


# ------------------------------------------------------------------------ tornado


@dataclass
class TornadoRow:
    key: str
    low: float
    high: float
    kpi_low: float
    kpi_high: float
    swing: float
    best_share_low: float | None = None
    best_share_high: float | None = None


@dataclass
class Tornado:
    kpi: str
    stat: str
    base_kpi: float
    best_share_base: float | None
    rows: list[TornadoRow]  # ranked by swing, largest first

    def share_changes(self, row: TornadoRow) -> bool:
        """Whether the best ``c_share`` at the row's low or high differs from the base's."""
        return self.best_share_base is not None and (
            row.best_share_low != self.best_share_base
            or row.best_share_high != self.best_share_base
        )


def tornado(
    evaluator: Evaluator, ranges: Sequence[ParamRange], shares: Sequence[float] | None = None
) -> Tornado:
    """One-at-a-time swings (see the module doc), in one batch of ``(2D + 1)`` points, or
    ``(2D + 1) * len(shares)`` when ``shares`` (``c_share`` levels) is given.

    The KPI of a point at the scenario's own ``c_share`` is read from the ``shares`` grid
    when that level is on it, else evaluated as its own point.
    """
    import numpy as np

    d = len(ranges)
    base = np.array([r.base for r in ranges])
    cases = [base]
    for i, r in enumerate(ranges):
        for v in (r.low, r.high):
            row = base.copy()
            row[i] = v
            cases.append(row)
    x = np.stack(cases)  # [2D+1, D]
    keys = [r.key for r in ranges]
    best: list[float | None] = [None] * len(cases)
    y = None
    if shares:
        s = np.asarray(list(shares), dtype=np.float64)
        xs = np.concatenate([np.repeat(x, len(s), axis=0), np.tile(s, len(cases))[:, None]], axis=1)
        ys = evaluator(xs, [*keys, "allocation.c_share"]).reshape(len(cases), len(s))
        sign = 1.0 if evaluator.maximize else -1.0  # the best share maximizes sign * KPI
        best = [float(s[j]) for j in np.argmax(np.where(np.isnan(ys), -np.inf, sign * ys), axis=1)]
        own = np.flatnonzero(s == evaluator.scenario.allocation.c_share)
        if own.size:  # the scenario's own c_share is on the grid: its column is the tornado
            y = ys[:, own[0]]
    if y is None:
        y = evaluator(x, keys)
    rows = [
        TornadoRow(r.key, r.low, r.high, float(y[1 + 2 * i]), float(y[2 + 2 * i]), abs(float(y[2 + 2 * i] - y[1 + 2 * i])),
                   best[1 + 2 * i], best[2 + 2 * i])
        for i, r in enumerate(ranges)
    ]  # fmt: skip
    rows.sort(key=lambda r: -r.swing if math.isfinite(r.swing) else math.inf)
    assert len(rows) == d
    return Tornado(evaluator.kpi, evaluator.stat, float(y[0]), best[0], rows)


# --------------------------------------------------------------------- Sobol, Morris


def salib_problem(ranges: Sequence[ParamRange]) -> dict[str, Any]:
    """SALib problem: uniform over each parameter's low..high."""
    return {
        "num_vars": len(ranges),
        "names": [r.key for r in ranges],
        "bounds": [[r.low, r.high] for r in ranges],
    }


@dataclass
class IndexRow:
    key: str
    values: dict[
        str, float
    ]  # S1, S1_conf, ST, ST_conf (Sobol) or mu_star, mu_star_conf, sigma, mu (Morris)


@dataclass
class Indices:
    method: str
    kpi: str
    stat: str
    n_points: int
    rows: list[IndexRow]  # ranked by ST (Sobol) or mu_star (Morris), largest first


def _outputs(
    evaluate_fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, method: str, kpi: str
) -> np.ndarray:
    """``Y[K]`` of the sample ``X[K, D]``, refused when not finite."""
    import numpy as np

    y = np.asarray(evaluate_fn(x), dtype=np.float64)
    if not np.isfinite(y).all():
        raise StratsimError(
            f"{method}: the {kpi or 'output'} is not finite at {int((~np.isfinite(y)).sum())} points; narrow the ranges"
        )
    return y


def _ranked(problem: dict[str, Any], si: Any, metrics: Sequence[str], lead: str) -> list[IndexRow]:
    """SALib's result as rows, largest ``lead`` first (NaN last)."""
    rows = [
        IndexRow(name, {m: float(si[m][i]) for m in metrics})
        for i, name in enumerate(problem["names"])
    ]
    rows.sort(key=lambda r: -r.values[lead] if math.isfinite(r.values[lead]) else math.inf)
    return rows


def sobol(
    problem: dict[str, Any],
    evaluate_fn: Callable[[np.ndarray], np.ndarray],
    samples: int,
    seed: int = 0,
    kpi: str = "",
    stat: str = "",
) -> Indices:
    """First-order and total Sobol' indices of ``evaluate_fn`` over ``problem``.

    Args:
        problem: SALib problem (``num_vars``, ``names``, ``bounds``).
        evaluate_fn: ``X[K, D] -> Y[K]``.
        samples: ``N``, a power of 2 (SALib's Sobol' sequence); ``N * (D + 2)`` points.

    Returns:
        :class:`Indices` with ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` per parameter
        (``SALib.analyze.sobol`` with ``calc_second_order=False``, 95% bootstrap intervals).
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    if samples < 2 or samples & (samples - 1):
        raise StratsimError(
            f"{term('samples')} {samples}: expected a power of 2 (Sobol' sequence), e.g. 64, 128, 256"
        )
    x = sobol_sample.sample(problem, samples, calc_second_order=False, seed=seed)
    y = _outputs(evaluate_fn, x, "sobol", kpi)
    si = sobol_analyze.analyze(problem, y, calc_second_order=False, seed=seed)
    rows = _ranked(problem, si, ("S1", "S1_conf", "ST", "ST_conf"), "ST")
    return Indices("sobol", kpi, stat, len(x), rows)


def morris(
    problem: dict[str, Any],
    evaluate_fn: Callable[[np.ndarray], np.ndarray],
    trajectories: int,
    seed: int = 0,
    kpi: str = "",
    stat: str = "",
    levels: int = 4,
) -> Indices:
    """Morris elementary effects: ``trajectories * (D + 1)`` points on a ``levels``-level
    grid (SALib ``sample.morris`` / ``analyze.morris``); ``mu_star`` ranks the parameters."""
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    if trajectories < 2:
        raise StratsimError(
            f"{term('samples')} {trajectories}: expected at least 2 Morris trajectories"
        )
    x = morris_sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    y = _outputs(evaluate_fn, x, "morris", kpi)
    si = morris_analyze.analyze(problem, x, y, num_levels=levels, seed=seed)
    rows = _ranked(problem, si, ("mu_star", "mu_star_conf", "sigma", "mu"), "mu_star")
    return Indices("morris", kpi, stat, len(x), rows)
