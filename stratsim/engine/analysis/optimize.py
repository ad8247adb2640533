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

from ..decisions import SPLIT_KEYS, Decision, DecisionTensors
from ..errors import StratsimError
from . import parse_finite

if TYPE_CHECKING:
    import torch

LEVERS: tuple[str, ...] = ("budget", "privacy_share", "c_share", "c_split", "b_split", "c_price", "b_seat_price")
SPLIT_LEVERS = ("c_split", "b_split")
SHARE_LEVERS = ("privacy_share", "c_share")
MONEY_LEVERS = ("budget", "c_price", "b_seat_price")
METHODS = ("gradient", "cmaes", "random")
SCHEDULES = {"stationary": 0, "quarterly": 3}
#: Default box of a money lever, as factors of its current value: budget may go to 0
#: (spending nothing is a valid decision), prices stay within a factor 3 (beyond the
#: range where the price-response calibration holds). Override with ``bounds``.
MONEY_BOX = {"budget": (0.0, 3.0), "c_price": (1 / 3, 3.0), "b_seat_price": (1 / 3, 3.0)}
#: Default evaluations per method (a gradient iteration costs ~3 forward passes).
DEFAULT_BUDGET = {"gradient": 60, "cmaes": 300, "random": 300}
EXACT_EVERY = 5
DEFAULT_LR = 0.3
DEFAULT_ALPHA = 0.10
#: The horizon KPIs compared in the final evaluation.
REPORT_KPIS = ("mrr", "arr", "users_c", "paid_c", "accounts_b", "seats_b", "cash", "satisfaction_c", "satisfaction_b", "incident_prob")
MAX_BATCH_PATHS = 120_000
_THETA_CLAMP = 8.0
_BOOT_ELEMENTS = 4_000_000


# ------------------------------------------------------------------ specs


@dataclass(frozen=True)
class Risk:
    """``J = (1 - lam)*mean + lam*CVaR_alpha``; ``alpha`` in (0, 1), ``lam`` in [0, 1]."""

    alpha: float = DEFAULT_ALPHA
    lam: float = 0.0

    def __str__(self) -> str:
        return f"cvar:{self.alpha:g}:{self.lam:g}"


def parse_risk(text: str) -> Risk:
    """``"cvar:ALPHA:LAMBDA"`` (e.g. ``cvar:0.1:0.5``) or ``"none"``.

    Raises:
        StratsimError: naming the value and the expected form.
    """
    if text.strip().lower() in ("none", "neutral"):
        return Risk()
    parts = text.split(":")
    try:
        if len(parts) != 3 or parts[0].lower() != "cvar":
            raise ValueError
        alpha, lam = float(parts[1]), float(parts[2])
    except ValueError:
        raise StratsimError(f"risk {text!r}: expected cvar:ALPHA:LAMBDA, e.g. cvar:0.1:0.5") from None
    if not 0 < alpha < 1 or not 0 <= lam <= 1:
        raise StratsimError(f"risk {text!r}: expected cvar:ALPHA:LAMBDA with ALPHA in (0, 1) and LAMBDA in [0, 1]")
    return Risk(alpha, lam)


@dataclass(frozen=True)
class Constraint:
    """``metric op limit`` with ``op`` ``<=`` or ``>=`` (see the module doc for metrics)."""

    metric: str
    op: str
    limit: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.limit:g}"

    def violation(self, value: float) -> float:
        """How far ``value`` lies outside the constraint (0 when met)."""
        return max(0.0, value - self.limit) if self.op == "<=" else max(0.0, self.limit - value)

    @property
    def is_probability(self) -> bool:
        return self.metric == CASH_NEGATIVE_EVER

    @property
    def scale(self) -> float:
        """Unit of the violation in the penalty: 1 for a probability, else 5% of the limit
        (a tolerance an operator would notice), 1 for a zero limit."""
        return 1.0 if self.is_probability or not self.limit else 0.05 * abs(self.limit)


#: Constraint and evaluation metric: the share of paths whose cash is below 0 in any month
#: of the horizon (the KPI ``p_cash_negative`` is cash below 0 at the horizon only).
CASH_NEGATIVE_EVER = "p_cash_negative_ever"


def parse_constraint(text: str) -> Constraint:
    """``"p_cash_negative_ever<=0.05"``, ``"incident_prob<=0.02"``, ``"satisfaction_b>=6"``.

    Raises:
        StratsimError: naming the text, the metric and what was expected.
    """
    from ..kpi import KPIS

    for op in ("<=", ">="):
        if op in text:
            metric, _, limit = (s.strip() for s in text.partition(op))
            break
    else:
        raise StratsimError(f"constraint {text!r}: expected METRIC<=LIMIT or METRIC>=LIMIT, e.g. {CASH_NEGATIVE_EVER}<=0.05")
    if metric == "p_cash_negative":
        raise StratsimError(
            f"constraint {text!r}: metric 'p_cash_negative' is cash below 0 at the horizon only; "
            f"expected {CASH_NEGATIVE_EVER} (cash below 0 in any month of the horizon)"
        )
    if metric not in KPIS and metric != CASH_NEGATIVE_EVER:
        raise StratsimError(f"constraint {text!r}: metric {metric!r}: expected {CASH_NEGATIVE_EVER} or a KPI name ({', '.join(KPIS)})")
    value = parse_finite(limit, f"constraint {text!r}: limit")
    if metric == CASH_NEGATIVE_EVER and not 0 <= value <= 1:
        raise StratsimError(f"constraint {text!r}: limit {value:g}: expected a probability in 0..1")
    return Constraint(metric, op, value)


def parse_levers(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Comma-separated lever names (default: all of :data:`LEVERS`).

    Raises:
        StratsimError: an unknown or repeated name.
    """
    if text is None or text == "all" or text == ["all"]:
        return LEVERS
    names = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    bad = [n for n in names if n not in LEVERS]
    if bad or not names:
        raise StratsimError(f"levers {text!r}: unknown {bad}: expected a comma-separated list of {', '.join(LEVERS)}")
    if len(set(names)) != len(names):
        raise StratsimError(f"levers {text!r}: a lever is named twice")
    return tuple(n for n in LEVERS if n in names)


def parse_bound(text: str) -> tuple[str, tuple[float, float]]:
    """``"LEVER=LO:HI"`` for a share or money lever.

    Raises:
        StratsimError: unknown lever, bad numbers, ``LO >= HI`` or outside the decision
            validation's range (shares 0..1, money >= 0).
    """
    from ..scenario import MAX_MAGNITUDE

    name, _, rng = text.partition("=")
    name = name.strip()
    lo_s, _, hi_s = rng.partition(":")
    if name not in SHARE_LEVERS + MONEY_LEVERS:
        raise StratsimError(f"bound {text!r}: lever {name!r}: expected one of {', '.join(SHARE_LEVERS + MONEY_LEVERS)} (splits are on the simplex)")
    try:
        lo, hi = float(lo_s), float(hi_s)
    except ValueError:
        raise StratsimError(f"bound {text!r}: expected LEVER=LO:HI with two numbers") from None
    top = 1.0 if name in SHARE_LEVERS else MAX_MAGNITUDE
    if not (0 <= lo < hi <= top) or not math.isfinite(hi):
        raise StratsimError(f"bound {text!r}: expected 0 <= LO < HI <= {top:g}")
    return name, (lo, hi)


# ------------------------------------------------------------- the space


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


@dataclass
class LeverSpace:
    """Unconstrained coordinates of the optimized levers (module doc).

    ``theta`` is ``[K, size]`` for K candidates: ``blocks`` blocks (schedule periods) of
    ``dim`` coordinates each. :meth:`decode` gives one :class:`DecisionTensors` per block
    with ``[K]`` fields (levers not optimized keep ``base``'s values).
    """

    base: Decision
    levers: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]
    blocks: int = 1
    block_months: int = 0

    @classmethod
    def build(cls, base: Decision, levers: Sequence[str], steps: int, schedule: str = "stationary", bounds: dict[str, tuple[float, float]] | None = None) -> LeverSpace:
        """The space around ``base`` (the current allocation).

        Raises:
            StratsimError: unknown schedule; a bound that excludes the current value is
                widened to include it (the current allocation must stay a candidate).
        """
        if schedule not in SCHEDULES:
            raise StratsimError(f"schedule {schedule!r}: expected one of {', '.join(SCHEDULES)}")
        months = SCHEDULES[schedule]
        blocks = max(1, math.ceil(steps / months)) if months else 1
        box: dict[str, tuple[float, float]] = {}
        for name in SHARE_LEVERS:
            box[name] = (0.0, 1.0)
        for name, (flo, fhi) in MONEY_BOX.items():
            cur = float(getattr(base, name))
            scale = cur if cur > 0 else 1.0
            box[name] = (flo * scale, fhi * scale)
        for name, (lo, hi) in (bounds or {}).items():
            cur = float(getattr(base, name))
            box[name] = (min(lo, cur), max(hi, cur))
        return cls(base, tuple(levers), box, blocks, months)

    @property
    def dim(self) -> int:
        return sum(3 if n in SPLIT_LEVERS else 1 for n in self.levers)

    @property
    def size(self) -> int:
        return self.dim * self.blocks

    def block_of(self, month: int) -> int:
        """The schedule block of month ``month`` (0-based from the start)."""
        return min(month // self.block_months, self.blocks - 1) if self.block_months else 0

    def encode(self, decision: Decision) -> list[float]:
        """Coordinates of ``decision`` (every block the same)."""
        out: list[float] = []
        for n in self.levers:
            if n in SPLIT_LEVERS:
                sp = getattr(decision, n)
                last = max(sp[SPLIT_KEYS[-1]], 1e-4)
                out += [max(min(math.log(max(sp[k], 1e-4) / last), _THETA_CLAMP), -_THETA_CLAMP) for k in SPLIT_KEYS[:3]]
            else:
                lo, hi = self.bounds[n]
                out.append(_logit((float(getattr(decision, n)) - lo) / (hi - lo)))
        return out * self.blocks

    def decode(self, theta: torch.Tensor) -> list[DecisionTensors]:
        """``theta [K, size]`` -> one :class:`DecisionTensors` per block, fields ``[K]``."""
        import torch

        dt = theta.dtype
        base = DecisionTensors.from_decision(self.base, dt, theta.device)
        out = []
        for b in range(self.blocks):
            vals: dict[str, Any] = {}
            i = b * self.dim
            for n in self.levers:
                if n in SPLIT_LEVERS:
                    logits = torch.cat([theta[:, i : i + 3], torch.zeros_like(theta[:, :1])], dim=1)
                    w = torch.softmax(logits, dim=1)
                    vals[n] = {k: w[:, j] for j, k in enumerate(SPLIT_KEYS)}
                    i += 3
                else:
                    lo, hi = self.bounds[n]
                    vals[n] = lo + (hi - lo) * torch.sigmoid(theta[:, i])
                    i += 1
            out.append(
                DecisionTensors(
                    budget=vals.get("budget", base.budget),
                    privacy_share=vals.get("privacy_share", base.privacy_share),
                    c_share=vals.get("c_share", base.c_share),
                    c_split=vals.get("c_split", base.c_split),
                    b_split=vals.get("b_split", base.b_split),
                    c_price=vals.get("c_price", base.c_price),
                    b_seat_price=vals.get("b_seat_price", base.b_seat_price),
                )
            )
        return out

    def decisions(self, theta_row: Sequence[float]) -> list[Decision]:
        """One candidate's coordinates as validated :class:`Decision` s, one per block."""
        import torch

        blocks = self.decode(torch.as_tensor([list(theta_row)], dtype=torch.float64))
        out = []
        for d in blocks:
            def f(x: Any) -> float:
                return float(x.reshape(-1)[0])

            splits = {}
            for n in SPLIT_LEVERS:
                sp = {k: f(getattr(d, n)[k]) for k in SPLIT_KEYS}
                total = math.fsum(sp.values())
                splits[n] = {k: v / total for k, v in sp.items()}
            out.append(
                Decision(
                    budget=f(d.budget), privacy_share=min(1.0, f(d.privacy_share)), c_share=min(1.0, f(d.c_share)),
                    c_split=splits["c_split"], b_split=splits["b_split"], c_price=f(d.c_price), b_seat_price=f(d.b_seat_price),
                ).validate()
            )  # fmt: skip
        return out


# ------------------------------------------------------------- the start


@dataclass
class Start:
    """Where the optimized months begin: per-path parameters and state ``[P]``, the seed of
    the shock stream, the number of months ``steps`` and the response models."""

    params: Any
    state: Any
    shock_seed: int
    steps: int
    satisfaction_model: Any
    incident_model: Any

    @property
    def n_paths(self) -> int:
        return self.params.n_paths


def start_from_scenario(scenario: Any, *, paths: int, seed: int, steps: int | None = None, satisfaction_model: Any = None, incident_model: Any = None, dtype: str = "float32", device: str = "cpu") -> Start:
    """Period 0 of ``scenario`` with the random numbers of a run with ``seed`` and ``paths``
    paths (the paths of ``stratsim run --seed SEED --paths PATHS``)."""
    from ..simulation import derive_seed
    from .batch import make_batch

    b = make_batch(scenario, n_points=1, paths_per_point=paths, seed=seed, satisfaction_model=satisfaction_model, incident_model=incident_model, dtype=dtype, device=device)
    return Start(b.params, b.state, derive_seed(seed, "shocks"), steps or scenario.simulation.horizon_months, b.satisfaction_model, b.incident_model)


def start_from_simulation(sim: Any, *, paths: int | None = None, steps: int | None = None, tag: str = "optimize") -> Start:
    """The simulation's current state (its first ``paths`` paths), with shocks from a stream
    derived from its seed, ``tag`` and period (deterministic given the history)."""
    import torch

    from ..params import Params
    from ..simulation import derive_seed

    m = min(paths or sim.n_paths, sim.n_paths)
    flat = {k: (v[:m] if isinstance(v, torch.Tensor) and v.dim() else v) for k in sim.params.keys() for v in [sim.params[k]]}  # noqa: SIM118 (Params is not a dict)
    params = Params.from_flat(flat, m, sim.dtype, sim.device)
    state = sim.state.map_paths(lambda t: t[..., :m])
    remaining = sim.horizon - sim.period
    return Start(params, state, derive_seed(sim.seed, f"{tag}:{sim.period}"), steps or max(remaining, 1), sim.satisfaction_model, sim.incident_model)


# ------------------------------------------------------------- simulate


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
    batch = Batch(K, p.n_paths, params, state, gen, start.satisfaction_model, start.incident_model)
    blocks = space.decode(theta.to(p.dtype))
    min_cash: list[torch.Tensor] = []

    def track(month: int, out: dict[str, torch.Tensor]) -> None:
        min_cash.append(out["cash"] if not min_cash else torch.minimum(min_cash[0], out["cash"]))
        del min_cash[:-1]

    last = batch.rollout(lambda t: blocks[space.block_of(t)], start.steps, relaxed=relaxed, on_period=track)
    return Outcome(last[objective_key(last)], min_cash[0], last)


def cvar(v: torch.Tensor, alpha: float) -> torch.Tensor:
    """Mean of the worst ``ceil(alpha*n)`` values along the last dimension (lower tail)."""
    import torch

    k = max(1, math.ceil(alpha * v.shape[-1]))
    return torch.topk(v, k, dim=-1, largest=False).values.mean(-1)


def risk_objective(value: torch.Tensor, risk: Risk) -> torch.Tensor:
    """``(1 - lam)*mean + lam*CVaR_alpha`` over the last dimension (currency)."""
    m = value.mean(-1)
    return m if risk.lam == 0 else (1 - risk.lam) * m + risk.lam * cvar(value, risk.alpha)


def metric_values(out: Outcome, c: Constraint, relaxed: bool = False, tau: Any = None) -> torch.Tensor:
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
        viol = sum(c.violation(m + (mg if c.op == "<=" else -mg)) for c, m, mg in zip(self.constraints, metrics, self.margins, strict=True))
        key = (0.0, obj) if viol == 0 else (-viol, obj)
        if not math.isfinite(obj):
            return
        if key > self.best_key:
            self.best_key, self.best_theta, self.best_obj, self.best_viol = key, list(theta), obj, viol

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
        self.margins = [2.0 * math.sqrt(max(c.limit * (1 - c.limit), 1.0 / P) / P) if c.is_probability else 0.2 * c.scale for c in self.constraints]
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

    def _report(self, method: str, it: int, total: int, obj: float, best: float, evals: int, t0: float) -> None:
        if self.on_progress is not None:
            el = time.perf_counter() - t0
            self.on_progress(Progress(method, it, total, obj, best, evals, evals / el if el > 0 else 0.0, el, self.label))

    def _stop(self) -> bool:
        return self.should_stop is not None and bool(self.should_stop())

    def run(self, method: str = "gradient", budget_evals: int | None = None, init: Sequence[float] | None = None, seed: int = 0, lr: float = DEFAULT_LR) -> Search:
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

    def _gradient(self, theta0: list[float], budget: int, tracker: _Tracker, trace: list, evals: list[int], t0: float, lr: float) -> None:
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
                g = (m - (c.limit - self.margins[i])) if c.op == "<=" else ((c.limit + self.margins[i]) - m)
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
                    g = (mets[i] - (c.limit - self.margins[i])) if c.op == "<=" else ((c.limit + self.margins[i]) - mets[i])
                    g = g / c.scale
                    mult[i] = max(0.0, mult[i] + mu * g)
            trace.append({"iteration": it, "objective": float(J.detach()), "best": tracker.best_obj, "evals": evals[0]})
            self._report("gradient", it, iters, float(J.detach()), tracker.best_obj, evals[0], t0)

    def _penalized(self, obj: float, mets: Sequence[float]) -> float:
        viol = sum(c.violation(m + (mg if c.op == "<=" else -mg)) / c.scale for c, m, mg in zip(self.constraints, mets, self.margins, strict=True))
        return obj / self.scale() - 100.0 * viol

    def _population(self, method: str, theta0: list[float], budget: int, tracker: _Tracker, trace: list, evals: list[int], t0: float, seed: int) -> None:
        import numpy as np

        d = self.space.size
        rng = np.random.default_rng(seed)
        pop = 4 + int(3 * math.log(d))
        if method == "cmaes":
            from cmaes import CMA

            es = CMA(mean=np.array(theta0, dtype=float), sigma=1.0, bounds=np.array([[-_THETA_CLAMP, _THETA_CLAMP]] * d), population_size=pop, seed=seed)
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
                es.tell([(c, -self._penalized(obj, mets)) for c, (obj, mets) in zip(cands, res, strict=True)])
            gen_best = max(obj for obj, _ in res)
            trace.append({"iteration": it, "objective": gen_best, "best": tracker.best_obj, "evals": evals[0]})
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


# ------------------------------------------------------------- evaluation


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
        d = {k: getattr(self, k) for k in ("name", "label", "unit", "current", "recommended", "diff", "ci_low", "ci_high")}
        d["significant"] = self.significant
        if self.band_current is not None:
            d["p10_p90_current"] = list(self.band_current)
            d["p10_p90_recommended"] = list(self.band_recommended or ())
        return d


def compare(start: Start, space: LeverSpace, thetas: Sequence[Sequence[float]], risk: Risk, constraints: Sequence[Constraint], n_boot: int = 300, seed: int = 0) -> tuple[list[list[Stat]], list[dict[str, float]]]:
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
        ("npv_cvar", f"{npv} CVaR{round(alpha * 100)}", "currency", o.value, lambda x: cvar(x.double(), alpha)),
        ("objective", "objective", "currency", o.value, lambda x: risk_objective(x.double(), risk)),
        (CASH_NEGATIVE_EVER, "P(cash<0 ever)", "probability", neg, lambda x: x.double().mean(-1)),
    ]
    extra = [k for k in REPORT_KPIS if k in o.last]
    extra += [c.metric for c in constraints if c.metric not in extra and c.metric != CASH_NEGATIVE_EVER]
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
            boot = torch.cat([fn(b[idx[r : r + rows]]) - fn(a[idx[r : r + rows]]) for r in range(0, n_boot, rows)])
            lo, hi = torch.quantile(boot.double(), torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
            band = band_r = None
            if name in banded:
                band = (q10(a).item(), torch.quantile(a.double(), 0.9).item())
                band_r = (q10(b).item(), torch.quantile(b.double(), 0.9).item())
            stats.append(Stat(name, label, unit, summaries[0][name], summaries[k][name], summaries[k][name] - summaries[0][name], lo, hi, band, band_r))
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
        return {"constraint": str(self.constraint), "current": self.current, "recommended": self.recommended, "met": self.met}


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
            **({"plan": [d.to_dict() for d in self.recommended]} if len(self.recommended) > 1 else {}),
            "feasible": self.feasible,
            "objective_current": self.summary_current["objective"],
            "objective_recommended": self.summary_recommended["objective"],
            "objective_diff_ci": [self.stat("objective").ci_low, self.stat("objective").ci_high],
            "evals": self.search.evals,
            "cancelled": self.search.cancelled,
        }


def finish(opt: Optimizer, search: Search, eval_start: Start, settings: dict[str, Any]) -> Recommendation:
    """Re-evaluate the search's candidate against the current allocation on fresh paths."""
    space = opt.space
    cur = space.encode(space.base)
    stats, summ = compare(eval_start, space, [cur, search.theta], opt.risk, opt.constraints, seed=settings.get("eval_seed", 0))
    cons = [ConstraintStatus(c, _metric(summ[0], c), _metric(summ[1], c)) for c in opt.constraints]
    return Recommendation(settings.get("method", "gradient"), settings, space.decisions(cur), space.decisions(search.theta), search, stats[0], cons, summ[0], summ[1])


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
        raise StratsimError(f"objective {settings.objective!r}: expected npv_total (NPV with terminal value)")
    space = LeverSpace.build(base, settings.levers, start.steps, settings.schedule, settings.bounds)
    opt = Optimizer(start, space, settings.risk, settings.constraints, on_progress, should_stop)
    search = opt.run(settings.method, settings.budget_evals, seed=settings.seed, lr=settings.lr)
    return finish(opt, search, eval_start, settings.as_dict(start.steps))


def _best_per_weight(opt: Optimizer, thetas: list[list[float]], k: int) -> tuple[list[list[float]], list[bool]]:
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
        return {"lambda": self.lam, "mean": self.mean, "p10": self.p10, "cvar": self.cvar, CASH_NEGATIVE_EVER: self.p_cash_negative_ever, "feasible_train": self.feasible_train, "allocation": [d.to_dict() for d in self.decisions]}


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
        opt = Optimizer(start, space, Risk(settings.risk.alpha, lam), settings.constraints, on_progress, should_stop, label=f"lambda {lam:.2f} ({i + 1}/{k})")
        s = opt.run(settings.method, settings.budget_evals, init=init, seed=settings.seed + i, lr=settings.lr)
        thetas.append(s.theta)
        feas.append(s.feasible)
        init = s.theta
        if s.cancelled:
            break
    thetas, feas = _best_per_weight(Optimizer(start, space, settings.risk, settings.constraints), thetas, k)
    cur = space.encode(base)
    _, summ = compare(eval_start, space, [cur, *thetas], settings.risk, settings.constraints)
    points = [
        FrontierPoint(i / (k - 1), space.decisions(th), s["mean"], s["p10"], s["cvar"], s[CASH_NEGATIVE_EVER], f)
        for i, (th, s, f) in enumerate(zip(thetas, summ[1:], feas, strict=True))
    ]
    s0 = summ[0]
    return points, FrontierPoint(float("nan"), space.decisions(cur), s0["mean"], s0["p10"], s0["cvar"], s0[CASH_NEGATIVE_EVER], True)
