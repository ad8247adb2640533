"""The vectorized market model (v2): state, random shocks and the one-period step.

Every state variable is a tensor of shape ``[n_paths]``; one call of :func:`advance`
moves every Monte-Carlo path one month. :func:`advance` is the composition of pure
sub-steps, one per section of the model (every equation, parameter, unit, default and
source: ``docs/MODEL.md``):

* :func:`capabilities`: goodwill stocks with diminishing returns and depreciation
  (Nerlove & Arrow 1962), ``X' = clamp(X + eta*ln(1 + s/scale)*(1 - X/10) - delta*X, 0, 10)``,
  including the shared core K built by both segments' product spend;
* :func:`satisfaction`: the satisfaction model at ``F_eff = (1-w)*F + w*K``, U, R plus noise
  (the model's test RMSE by default); the reference level is the model's own prediction at
  the initial stocks;
* :func:`consumer`: perceived value ``V = S - w*(price/ref - 1)``; Bass diffusion (Bass 1969)
  from the untapped market (minus a lapsed pool); conversion and paid churn driven by V, a
  one-month churn shock on a price rise;
* :func:`enterprise`: sales reps (hiring lag, ramp) with bounded opportunities a month, leads
  from the open market and from consumers (bottom-up), a k=3 Erlang pipeline, win rate, logo
  churn and seat growth responding to satisfaction and to the seat price;
* :func:`incidents`: Bernoulli incident with the model's monthly probability (a yearly-label
  model converted, ``p_m = 1 - (1 - p)^(1/12)``), cost = response + per-record remediation +
  a fraction of the GDPR cap ``max(EUR 20M, 4% of trailing-12-month revenue)``; churn shock and
  one brand penalty on acquisition;
* :func:`finance`: MRR, costs, cash, NPV at the monthly rate of the annual discount rate, and
  the terminal values (Gordon growth on the steady-state cash flow, with the spend that holds
  each capability stock charged (:func:`maintenance_spend`) and each segment's margin growing
  at most at its installed base's own rate; ARR multiple).

The step is pure: :func:`advance` is a deterministic function of (params, state,
decision, shocks, models); :func:`step` draws the shocks from a ``torch.Generator`` on
the CPU (so a run replays identically on any device) and calls :func:`advance`.
``relaxed=True`` is the differentiable path (incidents as expected values, smooth caps).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, NamedTuple

import torch

from .decisions import Decision, DecisionTensors
from .models import ResponseModel, label_period_months
from .params import Params, as_params

Tensor = torch.Tensor


#: Rows of ``State.trail`` (the last 12 months, oldest first): log of the To B
#: net-revenue-retention factor, log of the gross-retention factor, MRR, the steady-state
#: costs (the Gordon terminal value's cash flow less the segments' margins: spend other than
#: acquisition raised to maintenance, fixed costs, financing, incidents at their expected
#: cost), the volume of business (MRR at the reference prices: paid users and seats, whatever
#: the prices charged) whose trend caps the terminal growth, the contribution margins of To C
#: and To B without a premium over the reference prices (each valued at its own segment's
#: growth) and the volume of each segment.
TRAIL_ROWS = ("log_nrr", "log_grr", "mrr", "steady_costs", "volume", "margin_c", "margin_b", "volume_c", "volume_b")
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
        changes = {f.name: fn(getattr(self, f.name)) for f in fields(self) if f.name not in ("period", "trail")}
        return replace(self, trail=tuple(fn(t) for t in self.trail), **changes)

    def tensors(self) -> dict[str, Tensor]:
        """Every state tensor by name (``trail`` stacked to ``[12, 9, n_paths]``)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("period", "trail")}
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
        return model.predict({"functionality": f, "ux": x, "service_response": x, "segment": torch.full_like(x, seg)})

    return at(0.0), at(1.0)


def initial_state(params: Params | Mapping[str, Any], satisfaction_model: ResponseModel | None = None) -> State:
    """Period-0 state from the per-path parameters (:func:`~.params.draw_params`);
    ``satisfaction_model`` (default: the shipped linear model) sets the reference level."""
    from .models import LinearSatisfaction

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
        accounts_b=torch.minimum(_full(tb.initial_accounts, n, dt, dev), _full(tb.market_potential, n, dt, dev)),
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
        trail=tuple(torch.zeros(len(TRAIL_ROWS), n, dtype=dt, device=dev) for _ in range(TRAIL_MONTHS)),
        trail_sum=torch.zeros(len(TRAIL_ROWS), n, dtype=dt, device=dev),
    )


def draw_shocks(generator: torch.Generator, n_paths: int, dtype: torch.dtype, device: torch.device) -> Shocks:
    """Draw one period's shocks on the CPU ``generator`` (fixed order), then move them."""
    z = torch.randn(4, n_paths, generator=generator, dtype=dtype)
    u = torch.rand(n_paths, generator=generator, dtype=dtype)
    z, u = z.to(device), u.to(device)
    return Shocks(z[0], z[1], z[2], z[3], u)


# ----------------------------------------------------------------- helpers


def _cap(x: Tensor, hi: Any, relaxed: bool, width: float = 0.05) -> Tensor:
    """``min(x, hi)``; on the relaxed path a smooth minimum ``hi - width*softplus((hi - x)/width)``
    with ``width`` relative to ``hi``, so the gradient does not vanish at the cap."""
    if not relaxed:
        return torch.minimum(x, hi) if isinstance(hi, Tensor) else x.clamp(max=hi)
    w = width * (hi.abs() + 1e-9 if isinstance(hi, Tensor) else abs(hi) + 1e-9)
    return hi - w * torch.nn.functional.softplus((hi - x) / w)


def _max(x: Tensor, y: Any) -> Tensor:
    """Elementwise ``max(x, y)`` for a tensor ``x`` and a float or tensor ``y``."""
    return torch.maximum(x, y) if isinstance(y, Tensor) else x.clamp(min=y)


def _relu(x: Tensor, relaxed: bool, width: float = 0.01) -> Tensor:
    """``max(x, 0)``; on the relaxed path ``width*softplus(x/width)``, smooth at 0 so the
    gradient at an unchanged price is the mean of both sides (the derivative a central
    finite difference sees), at the cost of a bias of at most ``width*ln 2``."""
    if not relaxed:
        return torch.relu(x)
    return width * torch.nn.functional.softplus(x / width)


def _col(xs: list[Tensor]) -> Tensor:
    """Stack 0-d or ``[n]`` tensors into ``[k, 1]`` or ``[k, n]`` (broadcast over paths)."""
    s = torch.stack(torch.broadcast_tensors(*xs))
    return s.unsqueeze(1) if s.dim() == 1 else s


# ------------------------------------------------------------- sub-steps


class Capabilities(NamedTuple):
    """Capability stocks after this month's spend, each ``[n_paths]``, 0..10."""

    F_c: Tensor
    U_c: Tensor
    R_c: Tensor
    F_b: Tensor
    U_b: Tensor
    R_b: Tensor
    P: Tensor
    K: Tensor


def _clamp_fresh(x: Tensor, lo: float | None = None, hi: float | None = None) -> Tensor:
    """``x.clamp(lo, hi)`` for a temporary ``x`` the step has just made: in place (no new
    buffer) unless autograd tracks it."""
    return x.clamp(lo, hi) if x.requires_grad else x.clamp_(lo, hi)


def _grow(x: Tensor, spend: Any, p: Any) -> Tensor:
    """Capability stocks ``x`` (``[n_paths]`` or ``[k, n_paths]`` with ``spend`` ``[k, 1]``)
    after one month: ``clamp(x + eta*ln(1 + spend/scale)*(1 - x/10) - delta*x, 0, 10)``.
    ``p`` is the :class:`~.params.CapabilityParams`.

    Computed as ``gain + x*(1 - delta - gain/10)``: the factor is ``[k, 1]`` (per stock),
    so the ``[k, n_paths]`` stocks go through one temporary (the product, then the gain
    added and the clamp in place) instead of six (``addcmul`` measured 2.7x slower than
    the two ops with a broadcast ``[k, 1]`` factor)."""
    gain = p.eta * torch.log1p(spend / p.spend_scale)
    keep = (1.0 - p.delta) - gain / 10.0
    grown = x * keep
    grown = grown + gain if grown.requires_grad else grown.add_(gain)
    return _clamp_fresh(grown, 0.0, 10.0)


def maintenance_spend(x: Tensor, p: Any) -> Tensor:
    """Monthly spend (currency/month) that holds each capability stock ``x`` (``[n_paths]``
    or ``[k, n_paths]``, 0..10) at its level: the inverse of :func:`_grow` at ``X' = X``,
    ``eta*ln(1 + s/scale)*(1 - X/10) = delta*X``, so
    ``s = scale*(exp(delta*X/(eta*(1 - X/10))) - 1)`` (same shape as ``x``).

    The exponent is capped at :data:`MAINTENANCE_EXP_MAX` (``X`` at or near 10, which no
    finite spend holds, costs ``scale*e^20`` a month); where ``eta = 0`` no spend holds a
    stock and the maintenance spend is 0 (its decay shows in the satisfaction and the
    volume instead). ``p`` is the :class:`~.params.CapabilityParams`.
    """
    headroom = (1.0 - x / 10.0).clamp(min=1e-6)
    eta = p.eta
    if isinstance(eta, Tensor):
        expo = torch.where(eta > 0, p.delta * x / (eta.clamp(min=1e-30) * headroom), 0.0)
    elif eta > 0:
        expo = p.delta * x / (eta * headroom)
    else:
        return torch.zeros_like(x)
    return p.spend_scale * torch.expm1(expo.clamp(max=MAINTENANCE_EXP_MAX))


#: Cap of the exponent of :func:`maintenance_spend` (e^20 ~ 5e8 spend scales a month: a
#: stock at 10 cannot be held with any finite spend, and the charge must stay finite).
MAINTENANCE_EXP_MAX = 20.0


def _stocks(state: State) -> Tensor:
    """The eight capability stocks of ``state`` as one ``[8, n_paths]`` tensor, in the
    order of :class:`Capabilities`."""
    return torch.stack([state.F_c, state.U_c, state.R_c, state.F_b, state.U_b, state.R_b, state.P, state.K])


def _stock_spend(p: Params, spend: dict[str, Tensor]) -> Tensor:
    """The month's spend into each of the eight stocks, ``[8, 1]`` or ``[8, n_paths]``
    (order of :class:`Capabilities`): product spend goes ``core_share`` to the shared core
    K and the rest to the segment's F. The rows sum to the budget less acquisition spend."""
    c = p.capability
    own = 1.0 - c.core_share
    return _col([
        own * spend["c_product"], spend["c_ux"], spend["c_service"],
        own * spend["b_product"], spend["b_ux"], spend["b_service"],
        spend["privacy"], c.core_share * (spend["c_product"] + spend["b_product"]),
    ])  # fmt: skip


def capabilities(p: Params, state: State, spend: dict[str, Tensor]) -> Capabilities:
    """The eight stocks grow in one ``[8, n_paths]`` pass (one kernel per operation instead
    of eight: the step is dominated by per-operation overhead at these sizes). Product
    spend goes ``core_share`` to the shared core K and the rest to the segment's F."""
    return Capabilities(*_grow(_stocks(state), _stock_spend(p, spend), p.capability).unbind(0))


def satisfaction(p: Params, caps: Capabilities, shocks: Shocks, model: ResponseModel) -> tuple[Tensor, Tensor]:
    """``S = clamp(model(F_eff, U, R, segment) + noise_sd*z, 0, 10)`` for To C and To B,
    ``[n_paths]``, with ``F_eff = (1 - core_weight)*F + core_weight*K``."""
    w = p.capability.core_weight
    zeros = torch.zeros_like(caps.F_c)
    f_c = torch.lerp(caps.F_c, caps.K, w)  # (1 - w)*F + w*K in one pass
    f_b = torch.lerp(caps.F_b, caps.K, w)
    S_c = model.predict({"functionality": f_c, "ux": caps.U_c, "service_response": caps.R_c, "segment": zeros})
    S_b = model.predict({"functionality": f_b, "ux": caps.U_b, "service_response": caps.R_b, "segment": zeros + 1.0})
    sd = p.satisfaction.noise_sd
    if isinstance(sd, Tensor):
        return (S_c + sd * shocks.z_sat_c).clamp(0.0, 10.0), (S_b + sd * shocks.z_sat_b).clamp(0.0, 10.0)
    return _clamp_fresh(torch.add(S_c, shocks.z_sat_c, alpha=sd), 0.0, 10.0), _clamp_fresh(torch.add(S_b, shocks.z_sat_b, alpha=sd), 0.0, 10.0)


class Consumer(NamedTuple):
    """To C flows and stocks of the month (before incidents), ``[n_paths]``;
    ``churn_paid_base``: the paid churn rate without the one-month price-rise shock."""

    free_c: Tensor
    paid_c: Tensor
    lapsed_c: Tensor
    adopters: Tensor
    paid_adopters: Tensor
    conversion: Tensor
    churn_free: Tensor
    churn_paid: Tensor
    value: Tensor
    churn_paid_base: Tensor


def consumer(p: Params, state: State, S_c: Tensor, d: DecisionTensors, spend: dict[str, Tensor], shocks: Shocks, relaxed: bool) -> Consumer:
    """Bass diffusion from the untapped market, freemium conversion and churn driven by
    perceived value, a one-month churn shock on a price rise, a lapsed pool (module
    docstring, To C)."""
    c = p.to_c
    ref = state.s_ref_c
    brand_mult = torch.exp(-state.brand)
    M = c.market_potential
    N = state.free_c + state.paid_c
    price = d.c_price.clamp(min=1e-6)
    value = S_c - c.value_price_weight * (price / c.reference_price - 1.0)
    p_paid = c.acquisition_effect * torch.log1p(spend["c_acquisition"] / p.capability.spend_scale) * brand_mult
    p_eff = c.bass_p * brand_mult + p_paid
    q_eff = c.bass_q * 2.0 * torch.sigmoid(2.0 * c.wom_sat_slope * (value - ref))
    a_sd = c.adoption_noise_sd
    untapped = _clamp_fresh(M - N - state.lapsed_c, 0.0)
    hazard = p_eff + q_eff * N / M
    adopters = hazard * untapped * torch.exp(a_sd * shocks.z_adopt - 0.5 * a_sd * a_sd)
    adopters = _clamp_fresh(_cap(adopters, untapped, relaxed), 0.0)
    paid_adopters = adopters * p_paid / hazard.clamp(min=1e-30)
    conversion = c.conversion_max * torch.sigmoid(c.conversion_logit0 + c.conversion_sat_slope * (value - ref))
    churn_free = _cap(c.churn_free * torch.exp(-c.churn_sat_slope * (S_c - ref)), 1.0, relaxed)
    rise = _relu(torch.log(price / state.last_c_price.clamp(min=1e-6)), relaxed)
    churn_base = c.churn_paid * torch.exp(-c.churn_sat_slope * (value - ref))  # without the one-month shock
    churn_paid = _cap(churn_base + c.price_churn_shock * rise, 1.0, relaxed)
    converted = conversion * state.free_c
    lost_free = churn_free * (state.free_c - converted)  # of those who did not convert
    lost_paid = churn_paid * state.paid_c
    free_c = _clamp_fresh(state.free_c - converted - lost_free + adopters, 0.0)
    paid_c = _clamp_fresh(state.paid_c + converted - lost_paid, 0.0)
    lapsed_c = state.lapsed_c * (1.0 - c.lapse_return_rate) + lost_free + lost_paid
    return Consumer(free_c, paid_c, lapsed_c, adopters, paid_adopters, conversion, churn_free, churn_paid, value, _cap(churn_base, 1.0, relaxed))


class Enterprise(NamedTuple):
    """To B flows and stocks of the month (before incidents), ``[n_paths]``."""

    opp1: Tensor
    opp2: Tensor
    opp3: Tensor
    reps_hired: Tensor
    reps_ramped: Tensor
    capacity: Tensor
    new_opps: Tensor
    accounts_b: Tensor
    seats_b: Tensor
    won: Tensor
    win: Tensor
    logo_churn: Tensor
    seat_growth: Tensor


def enterprise(
    p: Params, state: State, P: Tensor, S_b: Tensor, d: DecisionTensors, spend: dict[str, Tensor], shocks: Shocks, relaxed: bool
) -> Enterprise:
    """Sales reps (hiring lag, ramp) with bounded capacity work the leads (open accounts in
    market plus bottom-up leads from consumers); a k=3 Erlang pipeline; price- and
    satisfaction-dependent win rate, logo churn and seat growth (module docstring, To B)."""
    b = p.to_b
    ref = state.s_ref_b
    price_ratio = d.b_seat_price.clamp(min=1e-6) / b.reference_seat_price
    excess = price_ratio - 1.0
    target = spend["b_acquisition"] / b.rep_cost
    reps_hired = state.reps_hired + (target - state.reps_hired) / b.hiring_lag_months
    reps_ramped = _cap(state.reps_ramped + (reps_hired - state.reps_ramped) / b.ramp_months, reps_hired, relaxed)
    capacity = reps_ramped * b.opportunities_per_rep
    Mb = b.market_potential
    in_pipeline = state.opp1 + state.opp2 + state.opp3
    open_accounts = _clamp_fresh(Mb - state.accounts_b - in_pipeline, 0.0)
    l_sd = b.leads_noise_sd
    users = state.free_c + state.paid_c
    leads = (b.lead_rate * open_accounts + b.bottom_up_rate * users) * torch.exp(-state.brand) * torch.exp(l_sd * shocks.z_leads - 0.5 * l_sd * l_sd)
    new_opps = _clamp_fresh(_cap(_cap(leads, capacity, relaxed), open_accounts, relaxed), 0.0)
    rate = PIPELINE_STAGES / b.sales_cycle_months
    out1, out2, out3 = state.opp1 * rate, state.opp2 * rate, state.opp3 * rate
    opp1 = state.opp1 - out1 + new_opps
    opp2 = state.opp2 - out2 + out1
    opp3 = state.opp3 - out3 + out2
    review_pass = torch.sigmoid(b.security_review_steepness * (P - b.security_review_threshold))
    win_raw = b.win_rate * review_pass * torch.exp(b.win_sat_slope * (S_b - ref) - b.price_elasticity * excess)
    win = _cap(win_raw, 1.0, relaxed)
    won = _cap(out3 * win, _clamp_fresh(Mb - state.accounts_b, 0.0), relaxed)
    logo_churn = _cap(b.logo_churn * torch.exp(-b.churn_sat_slope * (S_b - ref) + b.churn_price_elasticity * excess), 1.0, relaxed)
    seat_growth = _clamp_fresh(b.seat_expansion_max * torch.tanh((S_b - b.expansion_sat_mid) / 2.0) - b.seat_price_sensitivity * excess, -0.5)
    accounts_b = state.accounts_b * (1.0 - logo_churn) + won
    seats_b = state.seats_b * (1.0 - logo_churn) * (1.0 + seat_growth) + won * b.seats_per_new_account
    return Enterprise(opp1, opp2, opp3, reps_hired, reps_ramped, capacity, new_opps, accounts_b, seats_b, won, win, logo_churn, seat_growth)


class Incidents(NamedTuple):
    """The month's incident (``hit``: 0/1, or the probability on the relaxed path), the
    stocks after its churn shock, the brand penalty and the incident's cash cost, ``[n_paths]``."""

    prob: Tensor
    hit: Tensor
    free_c: Tensor
    paid_c: Tensor
    lapsed_c: Tensor
    accounts_b: Tensor
    seats_b: Tensor
    brand: Tensor
    cost: Tensor
    keep_b: Tensor
    expected_cost: Tensor


def incidents(p: Params, state: State, P: Tensor, con: Consumer, ent: Enterprise, shocks: Shocks, model: ResponseModel, relaxed: bool) -> Incidents:
    """Bernoulli incident with the model's monthly probability (its expectation when
    ``relaxed``); a model whose labels cover a year is converted, p_m = 1 - (1 - p)^(1/12).
    Cost: response + per-record remediation + fine_fraction*max(fixed cap, share*trailing
    12-month revenue) (GDPR Art. 83(5)); lost business enters as churn and brand penalty."""
    pr = p.privacy
    records_b = ent.seats_b * pr.records_per_seat
    records = con.free_c + con.paid_c + records_b
    tp = pr.third_party_access
    features = {
        "records_log10": torch.log10(1.0 + records),
        "security_posture": P,
        "enterprise_share": records_b / records.clamp(min=1.0),
        "third_party_access": tp if isinstance(tp, Tensor) else torch.full_like(P, tp),
    }
    prob = model.predict(features).clamp(0.0, 1.0)
    k = label_period_months(model)
    if k != 1:
        prob = 1.0 - (1.0 - prob) ** (1.0 / k)
    hit = prob if relaxed else (shocks.u_incident < prob).to(P.dtype)
    lost_c = pr.churn_shock_c * hit
    keep_c = 1.0 - lost_c
    keep_b = 1.0 - pr.churn_shock_b * hit
    brand = state.brand * pr.brand_decay + pr.brand_hit * hit
    revenue_12 = state.trail_sum[2]
    cap = _max(pr.fine_cap_share * revenue_12, pr.fine_cap_fixed)
    cost_if_hit = pr.response_cost + pr.cost_per_record * pr.exposed_fraction * records + pr.fine_fraction_of_cap * cap
    cost = cost_if_hit * hit
    lapsed = con.lapsed_c + lost_c * (con.free_c + con.paid_c)
    return Incidents(prob, hit, con.free_c * keep_c, con.paid_c * keep_c, lapsed, ent.accounts_b * keep_b, ent.seats_b * keep_b, brand, cost, keep_b, cost_if_hit * prob)


class Clock(NamedTuple):
    """The month of a step as tensors (the run's dtype and device), so that the step is the
    same computation every month and one compilation of it serves every period
    (:func:`use_compile`): ``t`` the month after this step (1-based, 0-d), ``months`` the
    months of history in the trailing window, ``min(t, 12)`` (0-d), and ``volume_old`` the
    business volume ``months - 1`` months before this one (``[n_paths]``; unused while
    ``months < 2``): the rows :data:`VOLUME_ROWS` (To C, To B, whole business), ``[3, n_paths]``."""

    t: Tensor
    months: Tensor
    volume_old: Tensor


def clock(state: State) -> Clock:
    """The :class:`Clock` of the step from ``state``: the only place a step reads
    ``state.period`` (a Python int: a compiled step would recompile whenever it changed)."""
    t = state.period + 1
    months = min(t, TRAIL_MONTHS)
    # finance appends this month: the new trail is (*state.trail[1:], new), and its entry
    # TRAIL_MONTHS - months is state.trail[TRAIL_MONTHS + 1 - months] (at months == 1 this
    # month itself, where the trend is not used: any row does).
    old = state.trail[min(TRAIL_MONTHS + 1 - months, TRAIL_MONTHS - 1)][list(VOLUME_ROWS)]
    ref = state.F_c
    return Clock(
        torch.full((), float(t), dtype=ref.dtype, device=ref.device),
        torch.full((), float(months), dtype=ref.dtype, device=ref.device),
        old,
    )


class Finance(NamedTuple):
    """Money of the month, ``[n_paths]``: MRR (currency/month), costs, cash, NPV, terminal values."""

    mrr_c: Tensor
    mrr_b: Tensor
    mrr: Tensor
    arr: Tensor
    costs: Tensor
    financing: Tensor
    net: Tensor
    cash: Tensor
    npv: Tensor
    tv_gordon: Tensor
    tv_arr: Tensor
    trail: tuple[Tensor, ...]
    trail_sum: Tensor


def finance(
    p: Params, state: State, d: DecisionTensors, con: Consumer, inc: Incidents, ent: Enterprise, spend: dict[str, Tensor],
    clock: Clock, relaxed: bool = False,
) -> Finance:
    """MRR, costs (spend, fixed, compute, seats, incidents), cash, discounted NPV and the
    discounted terminal values at this month: Gordon growth on the trailing-12-month
    steady-state cash flow *before acquisition spend* (acquisition is growth investment; the
    rest of the budget and the fixed and variable costs continue, incidents at their
    expected cost), with each capability stock's spend raised to its
    :func:`maintenance_spend` where it was lower; valued per component: each segment's
    margin (no premium over the reference price) at its own growth (:func:`terminal_growth`,
    capped by the installed base's own growth), the costs at ``terminal_growth``
    (``docs/MODEL.md`` section 6); and an ARR multiple. ``relaxed``: the premium's kink at
    the reference price is smooth (:func:`_relu`). The month enters through ``clock``
    (tensors, :func:`clock`)."""
    f = p.finance
    mrr_c = inc.paid_c * d.c_price
    mrr_b = inc.seats_b * d.b_seat_price
    mrr = mrr_c + mrr_b
    arr = 12.0 * mrr
    users_c = inc.free_c + inc.paid_c
    # Financing cost: interest on the month's opening cash below zero (a shortfall is
    # financed, not free).
    financing = (-state.cash).clamp(min=0.0) * (f.overdraft_rate_annual / 12.0)
    costs = d.budget + f.fixed_costs + p.to_c.compute_cost_per_user * users_c + p.to_b.cost_per_seat * inc.seats_b + inc.cost + financing
    net = mrr - costs
    cash = state.cash + net
    r = f.discount_rate_annual
    r_m = (1.0 + r) ** (1.0 / 12.0) - 1.0
    t = clock.t
    disc = (1.0 + r_m) ** t  # 0-d for a path-invariant rate
    npv = state.npv + net / disc
    # Trailing 12 months (oldest first): To B retention factors, MRR, net cash flow.
    keep = (1.0 - ent.logo_churn) * inc.keep_b
    log_nrr = torch.log((keep * (1.0 + ent.seat_growth)).clamp(min=1e-12))
    log_grr = torch.log((keep * (1.0 + ent.seat_growth.clamp(max=0.0))).clamp(min=1e-12))
    # Steady state: no acquisition spend, incidents at their expected cost (a realized
    # incident is a one-off, not a perpetuity), and every capability stock maintained: the
    # spend below what holds a stock at its opening level is charged (a harvest is not).
    shortfall = (maintenance_spend(_stocks(state), p.capability) - _stock_spend(p, spend)).clamp(min=0.0).sum(0)
    steady = net + spend["c_acquisition"] + spend["b_acquisition"] + inc.cost - inc.expected_cost - shortfall
    # Volume of business (MRR at the reference prices, so a price rise is not growth) per
    # segment, and next month's at this month's rates with no acquisition (no new adopters
    # or accounts; free users still convert; incidents at their probability): the installed
    # base's own growth, which caps the terminal growth, so a price level whose churn shows
    # only after the horizon is not capitalized as if the base held.
    ref_c, ref_b = p.to_c.reference_price, p.to_b.reference_seat_price
    vol_c = inc.paid_c * ref_c
    vol_b = inc.seats_b * ref_b
    volume = vol_c + vol_b
    pr = p.privacy
    paid_next = (inc.paid_c * (1.0 - con.churn_paid_base) + con.conversion * inc.free_c) * (1.0 - pr.churn_shock_c * inc.prob)
    seats_next = inc.seats_b * (1.0 - ent.logo_churn) * (1.0 + ent.seat_growth) * (1.0 - pr.churn_shock_b * inc.prob)
    org_c, org_b = paid_next * ref_c, seats_next * ref_b
    # Contribution margin per segment: revenue, at most the volume (a premium over the
    # market's reference price is not capitalized: it fades under competition), less the
    # segment's variable serving cost; the costs are the rest of the steady-state cash flow.
    margin_c = mrr_c - p.to_c.compute_cost_per_user * users_c
    margin_b = mrr_b - p.to_b.cost_per_seat * inc.seats_b
    premium_c = vol_c * _relu(d.c_price / ref_c - 1.0, relaxed)  # = max(MRR_c - V_c, 0)
    premium_b = vol_b * _relu(d.b_seat_price / ref_b - 1.0, relaxed)
    new = torch.stack(torch.broadcast_tensors(
        log_nrr, log_grr, mrr, steady - margin_c - margin_b, volume, margin_c - premium_c, margin_b - premium_b, vol_c, vol_b,
    ))  # fmt: skip
    trail = (*state.trail[1:], new)
    trail_sum = state.trail_sum + (new - state.trail[0])
    months = clock.months
    scale = TRAIL_MONTHS / months
    # Growth of To C, To B and the whole business ([3, n_paths]); a segment with no volume
    # takes the whole business's.
    g3 = terminal_growth(
        f.terminal_growth, torch.stack([vol_c, vol_b, volume]), clock.volume_old, months, torch.stack([org_c, org_b, org_c + org_b])
    )
    g_seg = torch.where(new[7:9] > 0, g3[:2], g3[2])
    # Each segment's trailing-12-month margin grows at the segment's rate; the costs at the
    # scenario's rate (holding the stocks costs the same whether or not the customers stay).
    g0 = f.terminal_growth
    tv_gordon = ((trail_sum[5:7] * scale * (1.0 + g_seg) / (r - g_seg)).sum(0) + trail_sum[3] * scale * (1.0 + g0) / (r - g0)) / disc
    tv_arr = f.arr_multiple * arr / disc
    return Finance(mrr_c, mrr_b, mrr, arr, costs, financing, net, cash, npv, tv_gordon, tv_arr, trail, trail_sum)


# ------------------------------------------------------------------ step


def terminal_growth(g: Any, volume: Tensor, volume_old: Tensor, months: int | Tensor, organic: Tensor | None = None) -> Any:
    """Long-run growth of the Gordon terminal value: the scenario's ``terminal_growth``,
    capped by the trend of the business volume over the trailing window (``volume`` now
    against ``volume_old`` ``months - 1`` months earlier, annualized) and, when ``organic``
    is given, by the installed base's own growth at the month's rates (``organic``: next
    month's volume with no acquisition, annualized ``(organic/volume)^12 - 1``); floored at
    -50%/year.

    A company that stops investing or prices its customers away in its last months keeps
    a good cash flow for a while, but its customer base shrinks: valuing that cash flow as a
    growing perpetuity rewarded harvesting the business just before the horizon. With the
    cap, a shrinking business is valued as one that keeps shrinking at its observed rate
    (the trend), or at the rate its current churn and expansion imply once acquisition
    stops, whichever is lower. With fewer than 2 months of history the trend is not used.
    ``volume``, ``volume_old``, ``organic``: ``[n_paths]`` (or ``[k, n_paths]``) in
    currency/month at reference prices. ``months`` is an int or a 0-d tensor
    (:func:`clock`: the same computation every month, so a compiled step does not
    recompile). Returns ``[n_paths]`` or a number; fraction/year.
    """
    caps = []
    if isinstance(months, Tensor):
        history = months >= 2
        # Before month 2 the trend is not used (it is replaced by ``g``, which the clamp
        # below keeps); volume against itself keeps its gradient finite.
        old = torch.where(history, volume_old, volume)
        trend = (volume / old.clamp(min=1e-9)) ** (TRAIL_MONTHS / (months - 1).clamp(min=1.0)) - 1.0
        caps.append(torch.where(history, trend, g))
    elif months >= 2:
        caps.append((volume / volume_old.clamp(min=1e-9)) ** (TRAIL_MONTHS / (months - 1)) - 1.0)
    if organic is not None:
        caps.append((organic / volume.clamp(min=1e-9)) ** TRAIL_MONTHS - 1.0)
    if not caps:
        return g
    cap = caps[0] if len(caps) == 1 else torch.minimum(caps[0], caps[1])
    return torch.clamp(cap, max=g).clamp(min=-0.5)


def as_decision_tensors(decision: Decision | DecisionTensors, dtype: torch.dtype, device: Any) -> DecisionTensors:
    """``decision`` as :class:`~.decisions.DecisionTensors` (a :class:`Decision` is converted)."""
    return decision if isinstance(decision, DecisionTensors) else DecisionTensors.from_decision(decision, dtype, device)


def advance(
    params: Params | Mapping[str, Any],
    state: State,
    decision: Decision | DecisionTensors,
    shocks: Shocks,
    satisfaction_model: ResponseModel,
    privacy_model: ResponseModel,
    relaxed: bool = False,
) -> tuple[State, dict[str, Tensor]]:
    """Move every path one month. Pure: inputs are not modified.

    A composition of the sub-steps :func:`capabilities`, :func:`satisfaction`,
    :func:`consumer`, :func:`enterprise`, :func:`incidents`, :func:`finance`.

    Args:
        params: :class:`~.params.Params` (or a flat ``{"section.name": [n_paths]}`` dict).
        state: the state after ``state.period`` months.
        decision: a *validated* :class:`Decision` (every path) or
            :class:`~.decisions.DecisionTensors` (fields 0-d or ``[n_paths]``).
        shocks: this period's random draws.
        satisfaction_model, privacy_model: see :mod:`.models`.
        relaxed: the differentiable path: an incident enters as its probability (expected
            cost, churn and brand) instead of a Bernoulli draw, and the caps that would
            stop a lever's gradient are smooth minima. No in-place operation and no
            ``.item()``: autograd flows to decision tensors that require grad. The
            exact simulation (``relaxed=False``) is the default.

    Returns:
        ``(new_state, outputs)`` where outputs maps each KPI name of
        :data:`~.kpi.KPIS` to a ``[n_paths]`` tensor for this period.
    """
    p = as_params(params)
    d = as_decision_tensors(decision, state.F_c.dtype, state.F_c.device)
    # The spend is cached on the decision (held for many months): taken here, outside
    # what is compiled, so the cache's state is not a guard of the compiled step.
    args = (p, state, d, d.spend(), shocks, satisfaction_model, privacy_model, relaxed, clock(state))
    fn = _COMPILED.fn
    if fn is None:
        tensors, outputs = _advance_tensors(*args)
    else:
        try:
            tensors, outputs = fn(*args)
        except Exception as exc:
            if not _is_compile_failure(exc):
                raise
            _compile_failed(exc)
            tensors, outputs = _advance_tensors(*args)
    return State(state.period + 1, *tensors), outputs


def _advance_tensors(
    p: Params,
    state: State,
    d: DecisionTensors,
    sp: dict[str, Tensor],
    shocks: Shocks,
    satisfaction_model: ResponseModel,
    privacy_model: ResponseModel,
    relaxed: bool,
    clk: Clock,
) -> tuple[tuple[Any, ...], dict[str, Tensor]]:
    """:func:`advance` without ``state.period``: the new state's fields after ``period``
    (in :class:`State` order) and the outputs; ``sp`` is ``d.spend()``. What
    :func:`use_compile` compiles."""
    caps = capabilities(p, state, sp)
    S_c, S_b = satisfaction(p, caps, shocks, satisfaction_model)
    con = consumer(p, state, S_c, d, sp, shocks, relaxed)
    ent = enterprise(p, state, caps.P, S_b, d, sp, shocks, relaxed)
    inc = incidents(p, state, caps.P, con, ent, shocks, privacy_model, relaxed)
    fin = finance(p, state, d, con, inc, ent, sp, clk, relaxed)

    n = state.F_c.shape[0]
    cum_c_spend = state.cum_c_spend + sp["c_acquisition"]
    cum_c_adopters = state.cum_c_adopters + con.adopters
    cum_c_paid = state.cum_c_paid_adopters + con.paid_adopters
    cum_b_spend = state.cum_b_spend + sp["b_acquisition"]
    cum_b_won = state.cum_b_won + ent.won
    any_incident = 1.0 - (1.0 - state.any_incident) * (1.0 - inc.hit)
    new_state = (
        *caps, inc.brand, inc.free_c, inc.paid_c, inc.lapsed_c, ent.opp1, ent.opp2, ent.opp3,
        ent.reps_hired, ent.reps_ramped, inc.accounts_b, inc.seats_b, fin.cash, fin.npv,
        d.c_price.clamp(min=1e-6).expand(n).contiguous(), state.s_ref_c, state.s_ref_b,
        cum_c_spend.expand(n), cum_c_adopters, cum_c_paid, cum_b_spend.expand(n), cum_b_won, any_incident, fin.trail, fin.trail_sum,
    )  # fmt: skip
    users_c = inc.free_c + inc.paid_c
    months = clk.months
    nan = float("nan")
    cac_b = torch.where(cum_b_won > 1e-9, cum_b_spend / cum_b_won.clamp(min=1e-9), nan)
    unit_margin = p.to_b.seats_per_new_account * (d.b_seat_price - p.to_b.cost_per_seat)
    outputs = {
        "users_c": users_c,
        "free_c": inc.free_c,
        "paid_c": inc.paid_c,
        "lapsed_c": inc.lapsed_c,
        "paid_share_c": inc.paid_c / users_c.clamp(min=1.0),
        "new_users_c": con.adopters,
        "conversion_c": con.conversion,
        "churn_free_c": con.churn_free,
        "churn_paid_c": con.churn_paid,
        "value_c": con.value,
        "cac_c_blended": torch.where(cum_c_adopters > 1e-9, cum_c_spend / cum_c_adopters.clamp(min=1e-9), nan),
        "cac_c_paid": torch.where(cum_c_paid > 1e-9, cum_c_spend / cum_c_paid.clamp(min=1e-9), nan),
        "accounts_b": inc.accounts_b,
        "seats_b": inc.seats_b,
        "reps_b": ent.reps_ramped,
        "capacity_b": ent.capacity,
        "new_opportunities_b": ent.new_opps,
        "pipeline_b": ent.opp1 + ent.opp2 + ent.opp3,
        "new_accounts_b": ent.won,
        "win_rate_b": ent.win,
        "logo_churn_b": ent.logo_churn,
        "nrr_b": torch.exp(fin.trail_sum[0] * (TRAIL_MONTHS / months)),
        "grr_b": torch.exp(fin.trail_sum[1] * (TRAIL_MONTHS / months)),
        "cac_b": cac_b,
        "cac_payback_b": torch.where(unit_margin > 0, cac_b / unit_margin.clamp(min=1e-9), nan),
        "satisfaction_c": S_c,
        "satisfaction_b": S_b,
        "core": caps.K,
        "posture": caps.P,
        "incident_prob": inc.prob,
        "incidents": inc.hit,
        "p_incident_so_far": any_incident,
        "incident_cost": inc.cost,
        "mrr_c": fin.mrr_c,
        "mrr_b": fin.mrr_b,
        "mrr": fin.mrr,
        "arr": fin.arr,
        "costs": fin.costs,
        "financing_cost": fin.financing,
        "net_cash_flow": fin.net,
        "cash": fin.cash,
        "npv": fin.npv,
        "terminal_value": fin.tv_gordon,
        "npv_total": fin.npv + fin.tv_gordon,
        "terminal_value_arr": fin.tv_arr,
        "npv_total_arr": fin.npv + fin.tv_arr,
        "p_cash_negative": (fin.cash < 0).to(S_c.dtype),
    }
    outputs = {k: (v if v.dim() and v.shape[0] == n else v.expand(n)) for k, v in outputs.items()}
    return new_state, outputs



# ------------------------------------------------------------- compilation


class _CompileSetting:
    """The process-wide :func:`use_compile` setting: ``fn`` the compiled
    :func:`_advance_tensors` (None: eager), ``on_fallback`` told why compilation failed."""

    fn: Callable[..., Any] | None = None
    on_fallback: Callable[[str], Any] | None = None


_COMPILED = _CompileSetting()


def compile_unavailable(device: Any = "cpu") -> str | None:
    """Why ``torch.compile`` cannot compile the step on ``device`` here (one line), or None.

    Checks what fails before any compilation: TorchDynamo's support of this Python, a C++
    compiler for the CPU backend (inductor), Triton for CUDA."""
    import shutil
    import sys

    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        return f"torch.compile does not support this Python ({sys.version_info[0]}.{sys.version_info[1]})"
    kind = torch.device(device).type
    if kind == "cpu" and not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        return "torch.compile needs a C++ compiler (g++, c++ or clang++) for the CPU and none is on PATH"
    if kind == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            return "torch.compile needs Triton for CUDA (pip install triton)"
    if kind == "mps":
        return "torch.compile of the step is not supported on mps here"
    return None


def use_compile(
    enabled: bool = True, device: Any = "cpu", on_fallback: Callable[[str], Any] | None = None, backend: str = "inductor"
) -> str | None:
    """Opt in (or out) to ``torch.compile`` of the step for this process: every later
    :func:`advance` (``Simulation``, chunked runs, sweeps and optimization batches) runs
    the compiled :func:`_advance_tensors`. Compiling takes seconds (4-26 s measured on 2
    cores; once per distinct shape, dtype, device, model and ``relaxed``), then the step
    runs about 2x faster: for long runs and sweeps. The month is a tensor (:func:`clock`),
    so one compilation serves every period.

    Args:
        enabled: compile (True) or go back to the eager step (False).
        device: the device the step will run on (what :func:`compile_unavailable` checks).
        on_fallback: called with a one-line reason if compiling fails later (the step then
            runs eagerly for the rest of the process); default: a ``RuntimeWarning``.
        backend: the ``torch.compile`` backend (``"eager"``: TorchDynamo's tracing and
            guards without code generation, what the recompilation test counts).

    Returns:
        None when compilation is on (or was switched off), else the one-line reason it is
        unavailable (the step stays eager).
    """
    _COMPILED.fn = None
    _COMPILED.on_fallback = on_fallback
    if not enabled:
        return None
    why = compile_unavailable(device) if backend == "inductor" else None
    if why is not None:
        return why
    _COMPILED.fn = torch.compile(_advance_tensors, backend=backend)
    return None


def _is_compile_failure(exc: BaseException) -> bool:
    """An error of the compiler (TorchDynamo, AOTAutograd, inductor), not of the model."""
    return type(exc).__module__.startswith(("torch._dynamo", "torch._inductor", "torch._functorch"))


def _compile_failed(exc: BaseException) -> None:
    _COMPILED.fn = None
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    msg = f"torch.compile failed ({type(exc).__name__}: {first[:160]}); the step runs uncompiled"
    if _COMPILED.on_fallback is not None:
        _COMPILED.on_fallback(msg)
    else:
        import warnings

        warnings.warn(msg, RuntimeWarning, stacklevel=3)


def step(
    params: Params | Mapping[str, Any],
    state: State,
    decision: Decision | DecisionTensors,
    generator: torch.Generator,
    satisfaction_model: ResponseModel,
    privacy_model: ResponseModel,
    relaxed: bool = False,
) -> tuple[State, dict[str, Tensor]]:
    """Draw this period's shocks from ``generator`` and :func:`advance`."""
    ref = state.F_c
    shocks = draw_shocks(generator, ref.shape[0], ref.dtype, ref.device)
    return advance(params, state, decision, shocks, satisfaction_model, privacy_model, relaxed)


def rollout(
    params: Params | Mapping[str, Any],
    state: State,
    decisions: Decision | DecisionTensors | list[Decision | DecisionTensors],
    generator: torch.Generator,
    satisfaction_model: ResponseModel,
    privacy_model: ResponseModel,
    steps: int,
    relaxed: bool = False,
) -> tuple[State, list[dict[str, Tensor]]]:
    """:func:`step` ``steps`` months from ``state``; ``decisions`` is one decision held
    throughout or one per month. Returns the final state and each month's outputs.

    With per-path :class:`~.decisions.DecisionTensors` this evaluates many candidate
    allocations as paths of one simulation; with the same ``generator`` state two
    rollouts share their random numbers (common random numbers).
    """
    outs = []
    for t in range(steps):
        d = decisions[t] if isinstance(decisions, list) else decisions
        state, out = step(params, state, d, generator, satisfaction_model, privacy_model, relaxed)
        outs.append(out)
    return state, outs
