"""From a search to a recommendation: the statistical comparison with the current
allocation, constraint status, the settings and entry points (:func:`optimize`,
:func:`frontier`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..decisions import Decision
from ..errors import StratsimError

if TYPE_CHECKING:
    import torch

from .lever_space import (
    LeverSpace,
    Start,
)
from .optimize import (
    Optimizer,
    Progress,
    Search,
    _Tracker,
    metric_values,
    risk_objective,
    simulate,
)
from .optimize_problem import (
    _BOOT_ELEMENTS,
    CASH_NEGATIVE_EVER,
    DEFAULT_BUDGET,
    DEFAULT_LR,
    LEVERS,
    REPORT_KPIS,
    Constraint,
    Risk,
    cvar,
)


@dataclass
class Stat:
    """One statistic of the current and the recommended allocation on the evaluation paths,
    their difference (recommended - current) and its 95% paired bootstrap interval."""

    name: str
    label: str
    unit: str
    current: float
    recommended: float
    diff: float
    ci_low: float
    ci_high: float
    band_current: tuple[float, float] | None = None
    band_recommended: tuple[float, float] | None = None

    @property
    def significant(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0

    def to_dict(self) -> dict[str, Any]:
        d = {
            k: getattr(self, k)
            for k in (
                "name",
                "label",
                "unit",
                "current",
                "recommended",
                "diff",
                "ci_low",
                "ci_high",
            )
        }
        d["significant"] = self.significant
        if self.band_current is not None:
            d["p10_p90_current"] = list(self.band_current)
            d["p10_p90_recommended"] = list(self.band_recommended or ())
        return d


def compare(
    start: Start,
    space: LeverSpace,
    thetas: Sequence[Sequence[float]],
    risk: Risk,
    constraints: Sequence[Constraint],
    n_boot: int = 300,
    seed: int = 0,
) -> tuple[list[list[Stat]], list[dict[str, float]]]:
    """Exact simulation of ``thetas`` (``thetas[0]`` the reference, the current allocation)
    as points of one simulation on ``start``'s paths; each further point's statistics
    against the reference with paired bootstrap intervals.

    Returns:
        ``(stats per further point, summary per point)`` where a summary holds ``mean``,
        ``p10``, ``cvar``, ``objective``, ``p_cash_negative_ever`` and each constraint's value.
    """
    import torch

    from ..kpi import KPIS

    th = torch.as_tensor([list(t) for t in thetas], dtype=torch.float64)
    with torch.no_grad():
        o = simulate(start, space, th, relaxed=False)
    P = o.value.shape[1]
    alpha = risk.alpha
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, P, (n_boot, P), generator=gen)
    key = "npv_total" if "npv_total" in o.last else "npv"
    neg = (o.min_cash < 0).to(o.value.dtype)

    def q10(x: torch.Tensor) -> torch.Tensor:
        return torch.quantile(x.double(), 0.1, dim=-1)

    npv = "NPV+TV" if key == "npv_total" else "NPV"
    stat_fns: list[tuple[str, str, str, torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]] = [
        ("npv_mean", f"{npv} mean", "currency", o.value, lambda x: x.double().mean(-1)),
        ("npv_p10", f"{npv} P10", "currency", o.value, q10),
        (
            "npv_cvar",
            f"{npv} CVaR{round(alpha * 100)}",
            "currency",
            o.value,
            lambda x: cvar(x.double(), alpha),
        ),
        ("objective", "objective", "currency", o.value, lambda x: risk_objective(x.double(), risk)),
        (CASH_NEGATIVE_EVER, "P(cash<0 ever)", "probability", neg, lambda x: x.double().mean(-1)),
    ]
    extra = [k for k in REPORT_KPIS if k in o.last]
    extra += [
        c.metric for c in constraints if c.metric not in extra and c.metric != CASH_NEGATIVE_EVER
    ]
    for k in extra:
        stat_fns.append((k, KPIS[k][0], KPIS[k][1], o.last[k], lambda x: x.double().mean(-1)))
    banded = {"npv_mean", *(n for n, *_ in stat_fns[5:])}
    summaries = []
    for k in range(th.shape[0]):
        s = {name: float(fn(x[k])) for name, _, _, x, fn in stat_fns}
        s["mean"], s["p10"], s["cvar"] = s["npv_mean"], s["npv_p10"], s["npv_cvar"]
        summaries.append(s)
    all_stats = []
    for k in range(1, th.shape[0]):
        stats = []
        for name, label, unit, x, fn in stat_fns:
            a, b = x[0], x[k]
            rows = max(1, _BOOT_ELEMENTS // P)  # torch.quantile takes at most 16M elements
            boot = torch.cat(
                [
                    fn(b[idx[r : r + rows]]) - fn(a[idx[r : r + rows]])
                    for r in range(0, n_boot, rows)
                ]
            )
            lo, hi = torch.quantile(
                boot.double(), torch.tensor([0.025, 0.975], dtype=torch.float64)
            ).tolist()
            band = band_r = None
            if name in banded:
                band = (q10(a).item(), torch.quantile(a.double(), 0.9).item())
                band_r = (q10(b).item(), torch.quantile(b.double(), 0.9).item())
            stats.append(
                Stat(
                    name,
                    label,
                    unit,
                    summaries[0][name],
                    summaries[k][name],
                    summaries[k][name] - summaries[0][name],
                    lo,
                    hi,
                    band,
                    band_r,
                )
            )
        all_stats.append(stats)
    return all_stats, summaries


@dataclass
class ConstraintStatus:
    constraint: Constraint
    current: float
    recommended: float

    @property
    def met(self) -> bool:
        return self.constraint.violation(self.recommended) == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "constraint": str(self.constraint),
            "current": self.current,
            "recommended": self.recommended,
            "met": self.met,
        }


@dataclass
class Recommendation:
    """The result of :func:`optimize` (and of one frontier point)."""

    method: str
    settings: dict[str, Any]
    current: list[Decision]
    recommended: list[Decision]
    search: Search
    stats: list[Stat]
    constraints: list[ConstraintStatus]
    summary_current: dict[str, float]
    summary_recommended: dict[str, float]

    @property
    def feasible(self) -> bool:
        return all(c.met for c in self.constraints)

    def stat(self, name: str) -> Stat:
        return next(s for s in self.stats if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        s = self.search
        return {
            "settings": self.settings,
            "current": [d.to_dict() for d in self.current],
            "recommended": [d.to_dict() for d in self.recommended],
            "feasible": self.feasible,
            "constraints": [c.to_dict() for c in self.constraints],
            "evaluation": [st.to_dict() for st in self.stats],
            "search": {
                "objective_train": s.objective, "feasible_train": s.feasible, "evals": s.evals,
                "path_periods": s.path_periods, "wall_s": round(s.wall_s, 3), "cancelled": s.cancelled,
                "trace": s.trace,
            },
        }  # fmt: skip

    def record(self) -> dict[str, Any]:
        """A compact record (settings, seed, result) for a session file: TOML-ready."""
        return {
            "settings": {k: v for k, v in self.settings.items() if v is not None},
            "recommended": self.recommended[0].to_dict(),
            # The whole plan of a quarterly schedule (one allocation per quarter).
            **(
                {"plan": [d.to_dict() for d in self.recommended]}
                if len(self.recommended) > 1
                else {}
            ),
            "feasible": self.feasible,
            "objective_current": self.summary_current["objective"],
            "objective_recommended": self.summary_recommended["objective"],
            "objective_diff_ci": [self.stat("objective").ci_low, self.stat("objective").ci_high],
            "evals": self.search.evals,
            "cancelled": self.search.cancelled,
        }


def finish(
    opt: Optimizer, search: Search, eval_start: Start, settings: dict[str, Any]
) -> Recommendation:
    """Re-evaluate the search's candidate against the current allocation on fresh paths."""
    space = opt.space
    cur = space.encode(space.base)
    stats, summ = compare(
        eval_start,
        space,
        [cur, search.theta],
        opt.risk,
        opt.constraints,
        seed=settings.get("eval_seed", 0),
    )
    cons = [ConstraintStatus(c, _metric(summ[0], c), _metric(summ[1], c)) for c in opt.constraints]
    return Recommendation(
        settings.get("method", "gradient"),
        settings,
        space.decisions(cur),
        space.decisions(search.theta),
        search,
        stats[0],
        cons,
        summ[0],
        summ[1],
    )


def _metric(summary: dict[str, float], c: Constraint) -> float:
    return summary[c.metric]


@dataclass
class OptimizeSettings:
    """Every setting of one ``stratsim optimize`` run (recorded in sessions)."""

    levers: tuple[str, ...] = LEVERS
    schedule: str = "stationary"
    objective: str = "npv_total"  # the KPI optimized (objective_key): NPV with terminal value
    risk: Risk = field(default_factory=Risk)
    constraints: tuple[Constraint, ...] = ()
    method: str = "gradient"
    budget_evals: int | None = None
    paths: int = 1000
    eval_paths: int | None = None
    seed: int = 0
    eval_seed: int | None = None
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    lr: float = DEFAULT_LR

    def as_dict(self, steps: int) -> dict[str, Any]:
        return {
            "method": self.method, "levers": ",".join(self.levers), "schedule": self.schedule,
            "objective": self.objective, "risk": str(self.risk),
            "constraints": [str(c) for c in self.constraints],
            "budget_evals": self.budget_evals or DEFAULT_BUDGET[self.method], "paths": self.paths,
            "eval_paths": self.eval_paths or self.paths, "seed": self.seed,
            "eval_seed": self.seed + 1 if self.eval_seed is None else self.eval_seed, "steps": steps,
            "bounds": {k: list(v) for k, v in self.bounds.items()},
        }  # fmt: skip


def optimize(
    base: Decision,
    start: Start,
    eval_start: Start,
    settings: OptimizeSettings,
    on_progress: Callable[[Progress], Any] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Recommendation:
    """Optimize the levers of ``base`` from ``start`` and re-evaluate on ``eval_start``.

    Args:
        base: the current allocation (the comparison point, and the first iterate).
        start: training paths (:func:`start_from_scenario` with ``settings.seed``).
        eval_start: fresh evaluation paths (another seed), same months.

    Raises:
        StratsimError: a bad setting (method, schedule, budget).
    """
    if settings.objective != "npv_total":
        raise StratsimError(
            f"objective {settings.objective!r}: expected npv_total (NPV with terminal value)"
        )
    space = LeverSpace.build(base, settings.levers, start.steps, settings.schedule, settings.bounds)
    opt = Optimizer(start, space, settings.risk, settings.constraints, on_progress, should_stop)
    search = opt.run(settings.method, settings.budget_evals, seed=settings.seed, lr=settings.lr)
    return finish(opt, search, eval_start, settings.as_dict(start.steps))


def _best_per_weight(
    opt: Optimizer, thetas: list[list[float]], k: int
) -> tuple[list[list[float]], list[bool]]:
    """For each risk weight, the best of every candidate the frontier search found (exact,
    training paths; feasible first): a short search for one weight can then not leave its
    point below another weight's candidate."""
    import torch

    th = torch.as_tensor(thetas, dtype=torch.float64)
    with torch.no_grad():
        o = simulate(opt.start, opt.space, th, relaxed=False)
        mets = [metric_values(o, c).tolist() for c in opt.constraints]
    out, feas = [], []
    for i in range(len(thetas)):
        tracker = _Tracker(opt.constraints, [m / 2 for m in opt.margins])
        objs = risk_objective(o.value, Risk(opt.risk.alpha, i / (k - 1))).tolist()
        for j, t in enumerate(thetas):
            tracker.offer(t, objs[j], [m[j] for m in mets])
        out.append(tracker.best_theta or thetas[i])
        feas.append(tracker.feasible)
    return out, feas


@dataclass
class FrontierPoint:
    lam: float
    decisions: list[Decision]
    mean: float
    p10: float
    cvar: float
    p_cash_negative_ever: float
    feasible_train: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "lambda": self.lam,
            "mean": self.mean,
            "p10": self.p10,
            "cvar": self.cvar,
            CASH_NEGATIVE_EVER: self.p_cash_negative_ever,
            "feasible_train": self.feasible_train,
            "allocation": [d.to_dict() for d in self.decisions],
        }


def frontier(
    base: Decision,
    start: Start,
    eval_start: Start,
    settings: OptimizeSettings,
    k: int,
    on_progress: Callable[[Progress], Any] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[list[FrontierPoint], FrontierPoint]:
    """The efficient frontier of mean NPV against CVaR_alpha: ``k`` risk weights
    ``lam = 0, 1/(k-1), ..., 1`` (risk-neutral to pure CVaR), each optimized (warm-started
    from the previous point) and all re-evaluated as points of one simulation on
    ``eval_start``. Returns the points and the current allocation's point."""
    if k < 2:
        raise StratsimError(f"frontier {k}: expected at least 2 points")
    space = LeverSpace.build(base, settings.levers, start.steps, settings.schedule, settings.bounds)
    thetas: list[list[float]] = []
    feas: list[bool] = []
    init = None
    for i in range(k):
        lam = i / (k - 1)
        opt = Optimizer(
            start,
            space,
            Risk(settings.risk.alpha, lam),
            settings.constraints,
            on_progress,
            should_stop,
            label=f"lambda {lam:.2f} ({i + 1}/{k})",
        )
        s = opt.run(
            settings.method,
            settings.budget_evals,
            init=init,
            seed=settings.seed + i,
            lr=settings.lr,
        )
        thetas.append(s.theta)
        feas.append(s.feasible)
        init = s.theta
        if s.cancelled:
            break
    thetas, feas = _best_per_weight(
        Optimizer(start, space, settings.risk, settings.constraints), thetas, k
    )
    cur = space.encode(base)
    _, summ = compare(eval_start, space, [cur, *thetas], settings.risk, settings.constraints)
    points = [
        FrontierPoint(
            i / (k - 1),
            space.decisions(th),
            s["mean"],
            s["p10"],
            s["cvar"],
            s[CASH_NEGATIVE_EVER],
            f,
        )
        for i, (th, s, f) in enumerate(zip(thetas, summ[1:], feas, strict=True))
    ]
    s0 = summ[0]
    return points, FrontierPoint(
        float("nan"),
        space.decisions(cur),
        s0["mean"],
        s0["p10"],
        s0["cvar"],
        s0[CASH_NEGATIVE_EVER],
        True,
    )
