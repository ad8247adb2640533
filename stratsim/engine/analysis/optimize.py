"""Decision optimization: the allocation that maximizes a risk-aware NPV objective.

Methods (``method``):

* ``gradient``: Adam (Kingma & Ba 2015) on unconstrained lever coordinates, with the
  gradient of the objective taken by torch autograd through the whole horizon of the
  *relaxed* simulation (:func:`~stratsim.engine.market.advance` with ``relaxed=True``:
  incidents enter as their expected cost, churn and brand; caps are smooth minima) on
  common random numbers (the same parameter draws and shocks at every iteration: a
  sample-average approximation). Every :data:`EXACT_EVERY` iterations (and at the end)
  the iterate is re-simulated exactly (Bernoulli incidents) on the same paths; the
  recommendation is the best exactly-evaluated feasible iterate (the current allocation
  included), so the relaxation can never make the answer worse than the current one on
  the training paths.
* ``cmaes``: CMA-ES (Hansen 2016, the ``cmaes`` package) on the same coordinates;
  each generation's candidates run as points of one vectorized exact simulation
  (:mod:`.batch`), on the same paths.
* ``random``: uniform random search over the lever box (splits Dirichlet(1)), the same
  budget, candidates batched as points.

Budget: ``budget_evals`` objective evaluations of one candidate on ``paths`` paths over
the horizon (``path_periods = evals * paths * steps``). A gradient iteration counts as one
evaluation (its backward pass costs about twice the forward pass; wall time is reported);
an exact re-evaluation of the iterate counts as one more; CMA-ES rounds up to whole generations.

Levers (:data:`LEVERS`) and their coordinates: a share ``s`` in ``[lo, hi]`` (default
``[0, 1]``, the decision validation's) is ``lo + (hi - lo)*sigmoid(theta)``; budget and prices
likewise in ``[lo, hi]`` with the default box :data:`MONEY_BOX` around the current value (the
validation only requires >= 0); a split is ``softmax([theta_1, theta_2, theta_3, 0])``, so
it stays on the simplex. ``schedule="quarterly"`` gives every 3 months its own coordinates.

Objective of a path: the NPV at the end of the horizon including the discounted terminal
value when the model reports one (KPI ``npv_total``), else the NPV (KPI ``npv``); in
currency. Over paths: ``J = (1 - lam)*mean(V) + lam*CVaR_alpha(V)``, ``CVaR_alpha`` the
mean of the worst ``ceil(alpha*n)`` paths (Rockafellar & Uryasev 2000); ``lam = 0`` is
risk-neutral.

Constraints ``METRIC<=LIMIT`` / ``METRIC>=LIMIT``: ``p_cash_negative_ever`` is the share of
paths whose cash falls below 0 in any month of the horizon (running out of cash); the KPI
``p_cash_negative`` (cash below 0 *at the horizon*, as in ``run`` and ``sweep``) is refused
with that hint, so one name has one meaning everywhere; any other KPI name (:data:`~stratsim.engine.kpi.KPIS`) is that KPI's mean over paths at the horizon.
The gradient method handles them by an augmented Lagrangian (Nocedal & Wright 2006,
ch. 17) whose multipliers are updated with the constraint's *exact* value (the relaxed
``p_cash_negative_ever`` is ``mean(sigmoid(-min_cash/tau))``, corrected by its last measured
bias); for probabilities the inner limit is tightened by two standard errors so that
the constraint still holds on fresh paths. CMA-ES and random search use a static
penalty. A constraint no candidate met is reported as infeasible, never silently violated.

Final evaluation: the recommendation and the current allocation are re-simulated
exactly as two points of one simulation on fresh paths (``eval_seed``, default
``seed + 1``: independent streams), and every statistic's difference gets a 95% paired
bootstrap interval (Efron & Tibshirani 1993); "significant" means the interval excludes 0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import StratsimError

if TYPE_CHECKING:
    import torch

from .lever_space import (  # noqa: F401 (re-exported)
    LeverSpace,
    Start,
    _logit,
    start_from_scenario,
    start_from_simulation,
)
from .optimize_problem import (  # noqa: F401 (re-exported)
    _BOOT_ELEMENTS,
    _THETA_CLAMP,
    CASH_NEGATIVE_EVER,
    DEFAULT_ALPHA,
    DEFAULT_BUDGET,
    DEFAULT_LR,
    EXACT_EVERY,
    LEVERS,
    MAX_BATCH_PATHS,
    METHODS,
    MONEY_BOX,
    MONEY_LEVERS,
    REPORT_KPIS,
    SCHEDULES,
    SHARE_LEVERS,
    SPLIT_LEVERS,
    Constraint,
    Risk,
    cvar,
    parse_bound,
    parse_constraint,
    parse_levers,
    parse_risk,
)


@dataclass
class Outcome:
    """``K`` candidates on ``P`` paths: ``value [K, P]`` (objective per path, currency),
    ``min_cash [K, P]`` (lowest cash over the months), ``last`` the last month's KPIs
    ``{kpi: [K, P]}``."""

    value: torch.Tensor
    min_cash: torch.Tensor
    last: dict[str, torch.Tensor]


def objective_key(outputs: dict[str, Any]) -> str:
    """``npv_total`` (NPV with terminal value) when the model reports it, else ``npv``."""
    return "npv_total" if "npv_total" in outputs else "npv"


def simulate(start: Start, space: LeverSpace, theta: torch.Tensor, relaxed: bool) -> Outcome:
    """Candidates ``theta [K, size]`` as K points of one simulation from ``start`` (common
    random numbers: every call replays the same shocks). Differentiable in ``theta`` when
    ``relaxed``."""
    import torch

    from ..params import Params
    from .batch import Batch, tile_paths

    K = theta.shape[0]
    p = start.params
    flat = {k: tile_paths(p[k], K) for k in p.keys()}  # noqa: SIM118 (Params is not a dict)
    params = Params.from_flat(flat, K * p.n_paths, p.dtype, p.device)
    state = start.state.map_paths(lambda t: tile_paths(t, K))
    gen = torch.Generator().manual_seed(start.shock_seed)
    batch = Batch(K, p.n_paths, params, state, gen, start.satisfaction_model, start.privacy_model)
    blocks = space.decode(theta.to(p.dtype))
    min_cash: list[torch.Tensor] = []

    def track(month: int, out: dict[str, torch.Tensor]) -> None:
        min_cash.append(out["cash"] if not min_cash else torch.minimum(min_cash[0], out["cash"]))
        del min_cash[:-1]

    last = batch.rollout(
        lambda t: blocks[space.block_of(t)], start.steps, relaxed=relaxed, on_period=track
    )
    return Outcome(last[objective_key(last)], min_cash[0], last)


def risk_objective(value: torch.Tensor, risk: Risk) -> torch.Tensor:
    """``(1 - lam)*mean + lam*CVaR_alpha`` over the last dimension (currency)."""
    m = value.mean(-1)
    return m if risk.lam == 0 else (1 - risk.lam) * m + risk.lam * cvar(value, risk.alpha)


def metric_values(
    out: Outcome, c: Constraint, relaxed: bool = False, tau: Any = None
) -> torch.Tensor:
    """Constraint metric per candidate ``[K]``; relaxed ``p_cash_negative_ever`` is the smooth
    ``mean(sigmoid(-min_cash/tau))``."""
    import torch

    if c.metric == CASH_NEGATIVE_EVER:
        if relaxed:
            return torch.sigmoid(-out.min_cash / tau).mean(-1)
        return (out.min_cash < 0).to(out.min_cash.dtype).mean(-1)
    return out.last[c.metric].mean(-1)


# ------------------------------------------------------------- results


@dataclass
class Progress:
    """One optimizer report: ``iteration`` of ``total``, the objective of this iteration
    (currency; relaxed for ``gradient``), the best exactly-evaluated feasible objective so
    far, evaluations done, evaluations per second, elapsed seconds."""

    method: str
    iteration: int
    total: int
    objective: float
    best: float
    evals: int
    evals_per_s: float
    elapsed_s: float
    label: str = ""


@dataclass
class Search:
    """What one optimizer run found on the training paths."""

    theta: list[float]
    objective: float
    feasible: bool
    violation: float
    evals: int
    path_periods: int
    wall_s: float
    trace: list[dict[str, float]]
    cancelled: bool = False


class Stop(Exception):
    """Raised internally when ``should_stop`` asks to cancel."""


@dataclass
class _Tracker:
    """Best candidate by (feasible first, then objective; least violation when none is)."""

    constraints: Sequence[Constraint]
    margins: Sequence[float]
    best_theta: list[float] | None = None
    best_key: tuple[float, float] = (-math.inf, -math.inf)
    best_obj: float = -math.inf
    best_viol: float = math.inf

    def offer(self, theta: Sequence[float], obj: float, metrics: Sequence[float]) -> None:
        viol = sum(
            c.violation(m + (mg if c.op == "<=" else -mg))
            for c, m, mg in zip(self.constraints, metrics, self.margins, strict=True)
        )
        key = (0.0, obj) if viol == 0 else (-viol, obj)
        if not math.isfinite(obj):
            return
        if key > self.best_key:
            self.best_key, self.best_theta, self.best_obj, self.best_viol = (
                key,
                list(theta),
                obj,
                viol,
            )

    @property
    def feasible(self) -> bool:
        return self.best_viol == 0


@dataclass
class Optimizer:
    """One optimization problem: start, lever space, objective and constraints.

    Args:
        start: where the months begin (:func:`start_from_scenario` / :func:`start_from_simulation`).
        space: the levers (:meth:`LeverSpace.build`).
        risk: the objective's risk weighting.
        constraints: chance/KPI constraints.
        on_progress: called with a :class:`Progress` (throttle it in a UI).
        should_stop: checked every iteration; True cancels (the best so far is kept).
    """

    start: Start
    space: LeverSpace
    risk: Risk = field(default_factory=Risk)
    constraints: Sequence[Constraint] = ()
    on_progress: Callable[[Progress], Any] | None = None
    should_stop: Callable[[], bool] | None = None
    label: str = ""

    def __post_init__(self) -> None:
        P = self.start.n_paths
        # Tighten probability limits by two standard errors of their estimate on P paths, and
        # KPI limits by 1% of the limit (iterates of an augmented Lagrangian approach the
        # boundary from both sides: the inner target keeps them on the feasible side). A
        # candidate counts as feasible with half the margin.
        self.margins = [
            2.0 * math.sqrt(max(c.limit * (1 - c.limit), 1.0 / P) / P)
            if c.is_probability
            else 0.2 * c.scale
            for c in self.constraints
        ]
        self._scale: float | None = None

    # -- exact evaluation of many candidates (batched as points)
    def evaluate(self, thetas: Sequence[Sequence[float]]) -> list[tuple[float, list[float]]]:
        """Exact simulation of candidates on the training paths: ``(objective, metrics)`` each."""
        import torch

        out = []
        chunk = max(1, MAX_BATCH_PATHS // self.start.n_paths)
        for i in range(0, len(thetas), chunk):
            th = torch.as_tensor([list(t) for t in thetas[i : i + chunk]], dtype=torch.float64)
            with torch.no_grad():
                o = simulate(self.start, self.space, th, relaxed=False)
                objs = risk_objective(o.value, self.risk).tolist()
                mets = [metric_values(o, c).tolist() for c in self.constraints]
            out += [(objs[k], [m[k] for m in mets]) for k in range(th.shape[0])]
        return out

    def scale(self) -> float:
        """Objective scale (currency): the spread of the current allocation's path values."""
        if self._scale is None:
            import torch

            th = torch.as_tensor([self.space.encode(self.space.base)], dtype=torch.float64)
            with torch.no_grad():
                v = simulate(self.start, self.space, th, relaxed=False).value[0]
            self._scale = max(float(v.std()), 1e-3 * float(v.abs().mean()), 1.0)
        return self._scale

    def _report(
        self, method: str, it: int, total: int, obj: float, best: float, evals: int, t0: float
    ) -> None:
        if self.on_progress is not None:
            el = time.perf_counter() - t0
            self.on_progress(
                Progress(
                    method,
                    it,
                    total,
                    obj,
                    best,
                    evals,
                    evals / el if el > 0 else 0.0,
                    el,
                    self.label,
                )
            )

    def _stop(self) -> bool:
        return self.should_stop is not None and bool(self.should_stop())

    def run(
        self,
        method: str = "gradient",
        budget_evals: int | None = None,
        init: Sequence[float] | None = None,
        seed: int = 0,
        lr: float = DEFAULT_LR,
    ) -> Search:
        """Search with ``method`` (:data:`METHODS`) for ``budget_evals`` evaluations
        (default :data:`DEFAULT_BUDGET`), starting from ``init`` (default: the current
        allocation). The current allocation is always a candidate."""
        if method not in METHODS:
            raise StratsimError(f"method {method!r}: expected one of {', '.join(METHODS)}")
        budget = budget_evals or DEFAULT_BUDGET[method]
        if budget < 2:
            raise StratsimError(f"budget-evals {budget}: expected at least 2")
        theta0 = list(init) if init is not None else self.space.encode(self.space.base)
        tracker = _Tracker(self.constraints, [m / 2 for m in self.margins])
        t0 = time.perf_counter()
        trace: list[dict[str, float]] = []
        evals = [0]
        cancelled = False
        try:
            cur = self.space.encode(self.space.base)
            starts = [cur] if theta0 == cur else [cur, theta0]
            for th, (obj, mets) in zip(starts, self.evaluate(starts), strict=True):
                tracker.offer(th, obj, mets)
            evals[0] += len(starts)
            if method == "gradient":
                self._gradient(theta0, budget, tracker, trace, evals, t0, lr)
            else:
                self._population(method, theta0, budget, tracker, trace, evals, t0, seed)
        except Stop:
            cancelled = True
        P, T = self.start.n_paths, self.start.steps
        return Search(
            theta=tracker.best_theta or theta0, objective=tracker.best_obj, feasible=tracker.feasible,
            violation=tracker.best_viol, evals=evals[0], path_periods=evals[0] * P * T,
            wall_s=time.perf_counter() - t0, trace=trace, cancelled=cancelled,
        )  # fmt: skip

    def _gradient(
        self,
        theta0: list[float],
        budget: int,
        tracker: _Tracker,
        trace: list,
        evals: list[int],
        t0: float,
        lr: float,
    ) -> None:
        import torch

        dtype = self.start.params.dtype
        theta = torch.tensor([theta0], dtype=dtype, requires_grad=True)
        opt = torch.optim.Adam([theta], lr=lr)
        s = self.scale()
        mult = [0.0] * len(self.constraints)
        bias = [0.0] * len(self.constraints)
        last_relaxed = [0.0] * len(self.constraints)
        mu = 20.0
        left = budget - evals[0]  # the starting candidates were evaluated already
        iters = max(1, left * EXACT_EVERY // (EXACT_EVERY + 1))  # + ceil(iters/EXACT_EVERY) exact
        for it in range(1, iters + 1):
            if self._stop():
                raise Stop
            o = simulate(self.start, self.space, theta, relaxed=True)
            J = risk_objective(o.value, self.risk)[0]
            loss = -J / s
            tau = 0.1 * o.min_cash.detach().std().clamp(min=1.0)
            for i, c in enumerate(self.constraints):
                m = metric_values(o, c, relaxed=True, tau=tau)[0] + bias[i]
                g = (
                    (m - (c.limit - self.margins[i]))
                    if c.op == "<="
                    else ((c.limit + self.margins[i]) - m)
                )
                g = g / c.scale
                loss = loss + (torch.clamp(mult[i] + mu * g, min=0) ** 2 - mult[i] ** 2) / (2 * mu)
                last_relaxed[i] = float(m.detach()) - bias[i]
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                theta.clamp_(-_THETA_CLAMP, _THETA_CLAMP)
            evals[0] += 1
            if it % EXACT_EVERY == 0 or it == iters:
                row = theta.detach()[0].tolist()
                obj, mets = self.evaluate([row])[0]
                evals[0] += 1
                tracker.offer(row, obj, mets)
                for i, c in enumerate(self.constraints):
                    bias[i] = mets[i] - last_relaxed[i]
                    g = (
                        (mets[i] - (c.limit - self.margins[i]))
                        if c.op == "<="
                        else ((c.limit + self.margins[i]) - mets[i])
                    )
                    g = g / c.scale
                    mult[i] = max(0.0, mult[i] + mu * g)
            trace.append(
                {
                    "iteration": it,
                    "objective": float(J.detach()),
                    "best": tracker.best_obj,
                    "evals": evals[0],
                }
            )
            self._report("gradient", it, iters, float(J.detach()), tracker.best_obj, evals[0], t0)

    def _penalized(self, obj: float, mets: Sequence[float]) -> float:
        viol = sum(
            c.violation(m + (mg if c.op == "<=" else -mg)) / c.scale
            for c, m, mg in zip(self.constraints, mets, self.margins, strict=True)
        )
        return obj / self.scale() - 100.0 * viol

    def _population(
        self,
        method: str,
        theta0: list[float],
        budget: int,
        tracker: _Tracker,
        trace: list,
        evals: list[int],
        t0: float,
        seed: int,
    ) -> None:
        import numpy as np

        d = self.space.size
        rng = np.random.default_rng(seed)
        pop = 4 + int(3 * math.log(d))
        if method == "cmaes":
            from cmaes import CMA

            es = CMA(
                mean=np.array(theta0, dtype=float),
                sigma=1.0,
                bounds=np.array([[-_THETA_CLAMP, _THETA_CLAMP]] * d),
                population_size=pop,
                seed=seed,
            )
        total = max(1, math.ceil((budget - evals[0]) / pop))
        for it in range(1, total + 1):
            if self._stop():
                raise Stop
            n = min(pop, budget - evals[0])
            if n <= 0:
                break
            if method == "cmaes":
                cands = [es.ask() for _ in range(es.population_size)]
            else:
                cands = [self._random_theta(rng) for _ in range(n)]
            res = self.evaluate([c.tolist() for c in cands])
            evals[0] += len(cands)
            for c, (obj, mets) in zip(cands, res, strict=True):
                tracker.offer(c.tolist(), obj, mets)
            if method == "cmaes":
                es.tell(
                    [
                        (c, -self._penalized(obj, mets))
                        for c, (obj, mets) in zip(cands, res, strict=True)
                    ]
                )
            gen_best = max(obj for obj, _ in res)
            trace.append(
                {
                    "iteration": it,
                    "objective": gen_best,
                    "best": tracker.best_obj,
                    "evals": evals[0],
                }
            )
            self._report(method, it, total, gen_best, tracker.best_obj, evals[0], t0)

    def _random_theta(self, rng: Any) -> Any:
        import numpy as np

        out = []
        for _ in range(self.space.blocks):
            for n in self.space.levers:
                if n in SPLIT_LEVERS:
                    w = np.clip(rng.dirichlet(np.ones(4)), 1e-4, None)
                    out += list(np.clip(np.log(w[:3] / w[3]), -_THETA_CLAMP, _THETA_CLAMP))
                else:
                    out.append(_logit(float(rng.uniform())))
        return np.array(out)
