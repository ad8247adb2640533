"""The state of the market model: :class:`State` (every stock of every path), the trailing
window's rows, one period's random :class:`Shocks` and the period-0 state
(:func:`initial_state`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from ..models import ResponseModel
from ..params import Params, as_params

Tensor = torch.Tensor


#: Rows of ``State.trail`` (the last 12 months, oldest first): log of the To B
#: net-revenue-retention factor, log of the gross-retention factor, MRR, the steady-state
#: costs (the Gordon terminal value's cash flow less the segments' margins: spend other than
#: acquisition raised to maintenance, fixed costs, financing, incidents at their expected
#: cost), the volume of business (MRR at the reference prices: paid users and seats, whatever
#: the prices charged) whose trend caps the terminal growth, the contribution margins of To C
#: and To B without a premium over the reference prices (each valued at its own segment's
#: growth) and the volume of each segment.
TRAIL_ROWS = (
    "log_nrr",
    "log_grr",
    "mrr",
    "steady_costs",
    "volume",
    "margin_c",
    "margin_b",
    "volume_c",
    "volume_b",
)
#: The rows of :data:`TRAIL_ROWS` holding the business volume of To C, To B and the whole
#: business (currency/month at reference prices), in the order the terminal growth takes them.
VOLUME_ROWS = (7, 8, 4)
TRAIL_MONTHS = 12
#: Stages of the Erlang sales pipeline.
PIPELINE_STAGES = 3


@dataclass(frozen=True)
class State:
    """Simulation state after ``period`` months; every tensor is ``[n_paths]`` except
    ``trail`` (a tuple of the last 12 months, oldest first, each ``[9, n_paths]``: the
    rows of :data:`TRAIL_ROWS`) and ``trail_sum`` (their sum, ``[9, n_paths]``, kept
    running: a month enters and the oldest leaves, no 12-month buffer is copied).

    Stocks 0..10: F/U/R per segment, privacy posture P, shared core K. ``brand``: the
    incident brand penalty (>= 0). To C users: free_c, paid_c, lapsed_c (churned, not yet
    back in the market). To B: opportunities in the three pipeline stages opp1..opp3,
    reps_hired and reps_ramped (full-productivity equivalents), accounts_b, seats_b.
    cash and npv in currency. last_c_price: last month's consumer price (price-rise shock).
    s_ref_c/s_ref_b: the satisfaction reference level (the model's prediction at the
    initial stocks). cum_*: cumulative acquisition spend and acquisitions (CAC);
    any_incident: 1 once a path had an incident (its probability on the relaxed path).
    """

    period: int
    F_c: Tensor
    U_c: Tensor
    R_c: Tensor
    F_b: Tensor
    U_b: Tensor
    R_b: Tensor
    P: Tensor
    K: Tensor
    brand: Tensor
    free_c: Tensor
    paid_c: Tensor
    lapsed_c: Tensor
    opp1: Tensor
    opp2: Tensor
    opp3: Tensor
    reps_hired: Tensor
    reps_ramped: Tensor
    accounts_b: Tensor
    seats_b: Tensor
    cash: Tensor
    npv: Tensor
    last_c_price: Tensor
    s_ref_c: Tensor
    s_ref_b: Tensor
    cum_c_spend: Tensor
    cum_c_adopters: Tensor
    cum_c_paid_adopters: Tensor
    cum_b_spend: Tensor
    cum_b_won: Tensor
    any_incident: Tensor
    trail: tuple[Tensor, ...]
    trail_sum: Tensor

    def map_paths(self, fn: Callable[[Tensor], Tensor]) -> State:
        """A state with ``fn`` applied to every tensor; ``fn`` acts on the last (path)
        dimension of a ``[n_paths]`` or ``[9, n_paths]`` tensor (slice paths: ``t[..., :m]``;
        tile them: :func:`~.analysis.batch.tile_paths`)."""
        changes = {
            f.name: fn(getattr(self, f.name))
            for f in fields(self)
            if f.name not in ("period", "trail")
        }
        return replace(self, trail=tuple(fn(t) for t in self.trail), **changes)

    def tensors(self) -> dict[str, Tensor]:
        """Every state tensor by name (``trail`` stacked to ``[12, 9, n_paths]``)."""
        out = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("period", "trail")
        }
        out["trail"] = torch.stack(self.trail)
        return out


@dataclass(frozen=True)
class Shocks:
    """One period's random draws, each ``[n_paths]``: standard normals for the two
    satisfaction noises, adopters and leads; a uniform 0..1 for the incident draw."""

    z_sat_c: Tensor
    z_sat_b: Tensor
    z_adopt: Tensor
    z_leads: Tensor
    u_incident: Tensor


def _full(v: Any, n: int, dtype: torch.dtype, device: Any) -> Tensor:
    """``v`` (float or ``[n]`` tensor) as a fresh ``[n]`` tensor."""
    if isinstance(v, Tensor):
        return v.expand(n).clone()
    return torch.full((n,), float(v), dtype=dtype, device=device)


def reference_satisfaction(p: Params, model: ResponseModel, n: int) -> tuple[Tensor, Tensor]:
    """The satisfaction reference levels ``(S_ref_c, S_ref_b)``, ``[n_paths]``: the model's
    prediction for the market's typical product (every stock, core included, at
    ``satisfaction.reference_capability``), so the base rates (churn, conversion, word of
    mouth, win rate) hold for a typical product whatever model is in use, and a product
    that starts better (or worse) than that starts with better (or worse) rates."""
    c = p.capability
    dt, dev = p.dtype, p.device
    x = _full(p.satisfaction.reference_capability, n, dt, dev)
    f = (1.0 - c.core_weight) * x + c.core_weight * x

    def at(seg: float) -> Tensor:
        return model.predict(
            {"functionality": f, "ux": x, "service_response": x, "segment": torch.full_like(x, seg)}
        )

    return at(0.0), at(1.0)


def initial_state(
    params: Params | Mapping[str, Any], satisfaction_model: ResponseModel | None = None
) -> State:
    """Period-0 state from the per-path parameters (:func:`~.params.draw_params`);
    ``satisfaction_model`` (default: the shipped linear model) sets the reference level."""
    from ..models import LinearSatisfaction

    p = as_params(params)
    n, dt, dev = p.n_paths, p.dtype, p.device
    c, tc, tb = p.capability, p.to_c, p.to_b
    zero = torch.zeros(n, dtype=dt, device=dev)
    M = _full(tc.market_potential, n, dt, dev)
    free0 = _full(tc.initial_free, n, dt, dev)
    opp = _full(tb.initial_pipeline, n, dt, dev) / PIPELINE_STAGES
    reps = _full(tb.initial_reps, n, dt, dev)
    s_ref_c, s_ref_b = reference_satisfaction(p, satisfaction_model or LinearSatisfaction(), n)
    return State(
        period=0,
        F_c=_full(c.init_c, n, dt, dev),
        U_c=_full(c.init_c, n, dt, dev),
        R_c=_full(c.init_c, n, dt, dev),
        F_b=_full(c.init_b, n, dt, dev),
        U_b=_full(c.init_b, n, dt, dev),
        R_b=_full(c.init_b, n, dt, dev),
        P=_full(c.init_posture, n, dt, dev),
        K=_full(c.init_core, n, dt, dev),
        brand=zero.clone(),
        free_c=torch.minimum(free0, M),
        paid_c=torch.minimum(_full(tc.initial_paid, n, dt, dev), (M - free0).clamp(min=0)),
        lapsed_c=zero.clone(),
        opp1=opp.clone(),
        opp2=opp.clone(),
        opp3=opp.clone(),
        reps_hired=reps.clone(),
        reps_ramped=reps.clone(),
        accounts_b=torch.minimum(
            _full(tb.initial_accounts, n, dt, dev), _full(tb.market_potential, n, dt, dev)
        ),
        seats_b=_full(tb.initial_seats, n, dt, dev),
        cash=_full(p.finance.initial_cash, n, dt, dev),
        npv=zero.clone(),
        last_c_price=_full(tc.reference_price, n, dt, dev),
        s_ref_c=s_ref_c.detach().clone(),
        s_ref_b=s_ref_b.detach().clone(),
        cum_c_spend=zero.clone(),
        cum_c_adopters=zero.clone(),
        cum_c_paid_adopters=zero.clone(),
        cum_b_spend=zero.clone(),
        cum_b_won=zero.clone(),
        any_incident=zero.clone(),
        # Twelve distinct tensors, not one shared twelve times: a compiled step guards on
        # which inputs alias each other, and that pattern would change every month.
        trail=tuple(
            torch.zeros(len(TRAIL_ROWS), n, dtype=dt, device=dev) for _ in range(TRAIL_MONTHS)
        ),
        trail_sum=torch.zeros(len(TRAIL_ROWS), n, dtype=dt, device=dev),
    )


def draw_shocks(
    generator: torch.Generator, n_paths: int, dtype: torch.dtype, device: torch.device
) -> Shocks:
    """Draw one period's shocks on the CPU ``generator`` (fixed order), then move them."""
    z = torch.randn(4, n_paths, generator=generator, dtype=dtype)
    u = torch.rand(n_paths, generator=generator, dtype=dtype)
    z, u = z.to(device), u.to(device)
    return Shocks(z[0], z[1], z[2], z[3], u)
