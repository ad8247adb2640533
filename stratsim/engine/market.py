"""The vectorized market model: state, random shocks and the one-period step.

Every state variable is a tensor of shape ``[n_paths]``; one call of :func:`advance`
moves every Monte-Carlo path one month. The equations (``../shared/DESIGN.md`` §1):

Capability stocks (0..10), a goodwill stock with diminishing returns and depreciation
(Nerlove & Arrow 1962)::

    X' = clamp(X + eta*ln(1 + spend/spend_scale)*(1 - X/10) - delta*X, 0, 10)

Satisfaction (0..10): ``S = clamp(sat_model(F', U', R', segment) + noise_sd*z, 0, 10)``.

To C, Bass diffusion (Bass 1969) with acquisition and word of mouth::

    p_eff = (p + acquisition_effect*ln(1 + acq_spend/spend_scale)) * exp(-brand)
    q_eff = q * S_c / S_ref
    adopters = min((p_eff + q_eff*N/M)*(M - N)*exp(sd*z - sd^2/2), M - N)
    conversion = conversion_max*sigmoid(logit0 + slope*(S_c - S_ref) - elasticity*ln(price/ref_price))
    churn_x = min(churn_x_base*exp(-churn_slope*(S_c - S_ref)), 1)
    free' = free - conversion*free - churn_free*free + adopters
    paid' = paid + conversion*free - churn_paid*paid

To B: leads bought by sales spend enter a pipeline, 1/sales_cycle of which resolves
each month; a resolved deal is won with ``win_rate*sigmoid(k*(P' - threshold))*min(S_b/S_ref,1.5)``
(capped at 1: security reviews fail below the threshold); retained accounts churn at the
logo-churn rate and expand seats by ``seat_expansion_max*tanh((S_b - mid)/2)`` (net
revenue retention).

Incidents: each path has an incident with probability ``incident_model(features)``; an
incident costs ``cost_per_record*exposed_fraction*records`` plus a fine of
``fine_fraction_of_cap*fine_cap_share*ARR`` (GDPR Art. 83(5) cap), removes
``churn_shock_*`` of customers and adds ``brand_hit`` to a brand penalty that decays by
``brand_decay`` a month.

Money (currency/month): MRR_c = paid*c_price, MRR_b = seats*seat_price, costs = budget +
fixed_costs + compute_cost_per_user*users + cost_per_seat*seats + incident costs,
cash' = cash + MRR - costs, NPV' = NPV + (MRR - costs)/(1 + r_m)^(t+1) with
r_m = (1 + discount_rate_annual)^(1/12) - 1.

The step is pure: :func:`advance` is a deterministic function of (params, state,
decision, shocks, models); :func:`step` draws the shocks from a ``torch.Generator`` on
the CPU (so a run replays identically on any device) and calls :func:`advance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import torch

from .decisions import Decision, DecisionTensors
from .models import ResponseModel
from .params import Params, as_params

Tensor = torch.Tensor


@dataclass(frozen=True)
class State:
    """Simulation state after ``period`` months; every tensor is ``[n_paths]``.

    Capability stocks F/U/R per segment and privacy posture P are 0..10; brand is the
    incident brand penalty (>= 0); free_c/paid_c users; pipeline_b open opportunities;
    accounts_b, seats_b; cash and npv in currency.
    """

    period: int
    F_c: Tensor
    U_c: Tensor
    R_c: Tensor
    F_b: Tensor
    U_b: Tensor
    R_b: Tensor
    P: Tensor
    brand: Tensor
    free_c: Tensor
    paid_c: Tensor
    pipeline_b: Tensor
    accounts_b: Tensor
    seats_b: Tensor
    cash: Tensor
    npv: Tensor

    def tensors(self) -> dict[str, Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "period"}


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


def initial_state(params: Params | Mapping[str, Any]) -> State:
    """Period-0 state from the per-path parameters (:func:`~.params.draw_params`)."""
    p = as_params(params)
    n, dt, dev = p.n_paths, p.dtype, p.device
    c, tc, tb = p.capability, p.to_c, p.to_b
    zero = torch.zeros(n, dtype=dt, device=dev)
    M = _full(tc.market_potential, n, dt, dev)
    free0 = _full(tc.initial_free, n, dt, dev)
    return State(
        period=0,
        F_c=_full(c.init_c, n, dt, dev),
        U_c=_full(c.init_c, n, dt, dev),
        R_c=_full(c.init_c, n, dt, dev),
        F_b=_full(c.init_b, n, dt, dev),
        U_b=_full(c.init_b, n, dt, dev),
        R_b=_full(c.init_b, n, dt, dev),
        P=_full(c.init_posture, n, dt, dev),
        brand=zero.clone(),
        free_c=torch.minimum(free0, M),
        paid_c=torch.minimum(_full(tc.initial_paid, n, dt, dev), (M - free0).clamp(min=0)),
        pipeline_b=_full(tb.initial_pipeline, n, dt, dev),
        accounts_b=torch.minimum(_full(tb.initial_accounts, n, dt, dev), _full(tb.market_potential, n, dt, dev)),
        seats_b=_full(tb.initial_seats, n, dt, dev),
        cash=_full(p.finance.initial_cash, n, dt, dev),
        npv=zero.clone(),
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
    w = width * (hi.detach().abs() + 1e-9 if isinstance(hi, Tensor) else abs(hi) + 1e-9)
    return hi - w * torch.nn.functional.softplus((hi - x) / w)


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


def _grow(x: Tensor, spend: Any, p: Any) -> Tensor:
    """Capability stocks ``x`` (``[n_paths]`` or ``[k, n_paths]`` with ``spend`` ``[k, 1]``)
    after one month: ``clamp(x + eta*ln(1 + spend/scale)*(1 - x/10) - delta*x, 0, 10)``.
    ``p`` is the :class:`~.params.CapabilityParams`."""
    gain = p.eta * torch.log1p(spend / p.spend_scale)
    return (x + gain * (1.0 - x / 10.0) - p.delta * x).clamp(0.0, 10.0)


def capabilities(p: Params, state: State, spend: dict[str, Tensor]) -> Capabilities:
    """The seven stocks grow in one ``[7, n_paths]`` pass (one kernel per operation instead
    of seven: the step is dominated by per-operation overhead at these sizes)."""
    stocks = torch.stack([state.F_c, state.U_c, state.R_c, state.F_b, state.U_b, state.R_b, state.P])
    keys = ("c_product", "c_ux", "c_service", "b_product", "b_ux", "b_service", "privacy")
    s = _col([spend[k] for k in keys])
    return Capabilities(*_grow(stocks, s, p.capability).unbind(0))


def satisfaction(p: Params, caps: Capabilities, shocks: Shocks, model: ResponseModel) -> tuple[Tensor, Tensor]:
    """``S = clamp(model(F, U, R, segment) + noise_sd*z, 0, 10)`` for To C and To B, ``[n_paths]``."""
    sd = p.satisfaction.noise_sd
    zeros = torch.zeros_like(caps.F_c)
    S_c = model.predict({"functionality": caps.F_c, "ux": caps.U_c, "service_response": caps.R_c, "segment": zeros})
    S_b = model.predict({"functionality": caps.F_b, "ux": caps.U_b, "service_response": caps.R_b, "segment": zeros + 1.0})
    return (S_c + sd * shocks.z_sat_c).clamp(0.0, 10.0), (S_b + sd * shocks.z_sat_b).clamp(0.0, 10.0)


class Consumer(NamedTuple):
    """To C flows and stocks of the month (before incidents), ``[n_paths]``."""

    free_c: Tensor
    paid_c: Tensor
    adopters: Tensor
    conversion: Tensor
    churn_free: Tensor
    churn_paid: Tensor


def consumer(p: Params, state: State, S_c: Tensor, d: DecisionTensors, spend: dict[str, Tensor], shocks: Shocks, relaxed: bool) -> Consumer:
    """Bass diffusion, freemium conversion and churn (module docstring, To C)."""
    c = p.to_c
    brand_mult = torch.exp(-state.brand)
    M = c.market_potential
    N = state.free_c + state.paid_c
    ref = c.satisfaction_ref
    p_eff = (c.bass_p + c.acquisition_effect * torch.log1p(spend["c_acquisition"] / p.capability.spend_scale)) * brand_mult
    q_eff = c.bass_q * S_c / ref
    a_sd = c.adoption_noise_sd
    remaining = (M - N).clamp(min=0.0)
    adopters = (p_eff + q_eff * N / M) * remaining * torch.exp(a_sd * shocks.z_adopt - 0.5 * a_sd * a_sd)
    adopters = _cap(adopters, remaining, relaxed).clamp(min=0.0)
    price_ratio = d.c_price.clamp(min=1e-9) / c.reference_price
    logit = c.conversion_logit0 + c.conversion_sat_slope * (S_c - ref) - c.price_elasticity * torch.log(price_ratio)
    conversion = c.conversion_max * torch.sigmoid(logit)
    churn_mult = torch.exp(-c.churn_sat_slope * (S_c - ref))
    churn_free = _cap(c.churn_free * churn_mult, 1.0, relaxed)
    churn_paid = _cap(c.churn_paid * churn_mult, 1.0, relaxed)
    converted = conversion * state.free_c
    free_c = (state.free_c - converted - churn_free * state.free_c + adopters).clamp(min=0.0)
    paid_c = (state.paid_c + converted - churn_paid * state.paid_c).clamp(min=0.0)
    return Consumer(free_c, paid_c, adopters, conversion, churn_free, churn_paid)


class Enterprise(NamedTuple):
    """To B flows and stocks of the month (before incidents), ``[n_paths]``."""

    pipeline_b: Tensor
    accounts_b: Tensor
    seats_b: Tensor
    won: Tensor
    win: Tensor
    logo_churn: Tensor
    expansion: Tensor


def enterprise(p: Params, state: State, P: Tensor, S_b: Tensor, d: DecisionTensors, spend: dict[str, Tensor], shocks: Shocks, relaxed: bool) -> Enterprise:
    """Leads -> pipeline -> won accounts; seats expand, logos churn (module docstring, To B)."""
    b = p.to_b
    brand_mult = torch.exp(-state.brand)
    Mb = b.market_potential
    l_sd = b.leads_noise_sd
    open_share = (1.0 - state.accounts_b / Mb).clamp(0.0, 1.0)
    leads = spend["b_acquisition"] / b.cost_per_lead * open_share * brand_mult * torch.exp(l_sd * shocks.z_leads - 0.5 * l_sd * l_sd)
    resolved = state.pipeline_b / b.sales_cycle_months
    review_pass = torch.sigmoid(b.security_review_steepness * (P - b.security_review_threshold))
    ref = b.satisfaction_ref
    win = _cap(b.win_rate * review_pass * _cap(S_b / ref, 1.5, relaxed) * brand_mult, 1.0, relaxed).clamp(min=0.0)
    won = _cap(resolved * win, (Mb - state.accounts_b).clamp(min=0.0), relaxed)
    pipeline_b = state.pipeline_b - resolved + leads
    logo_churn = _cap(b.logo_churn * torch.exp(-b.churn_sat_slope * (S_b - ref)), 1.0, relaxed)
    expansion = b.seat_expansion_max * torch.tanh((S_b - b.expansion_sat_mid) / 2.0)
    accounts_b = state.accounts_b * (1.0 - logo_churn) + won
    seats_b = state.seats_b * (1.0 - logo_churn) * (1.0 + expansion) + won * b.seats_per_new_account
    return Enterprise(pipeline_b, accounts_b, seats_b, won, win, logo_churn, expansion)


class Incidents(NamedTuple):
    """The month's incident (``hit``: 0/1, or the probability on the relaxed path), the
    stocks after its churn shock, the brand penalty and records held, ``[n_paths]``."""

    prob: Tensor
    hit: Tensor
    free_c: Tensor
    paid_c: Tensor
    accounts_b: Tensor
    seats_b: Tensor
    brand: Tensor
    records: Tensor


def incidents(p: Params, state: State, P: Tensor, con: Consumer, ent: Enterprise, shocks: Shocks, model: ResponseModel, relaxed: bool) -> Incidents:
    """Bernoulli incident with the model's probability (its expectation when ``relaxed``)."""
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
    hit = prob if relaxed else (shocks.u_incident < prob).to(P.dtype)
    keep_c = 1.0 - pr.churn_shock_c * hit
    keep_b = 1.0 - pr.churn_shock_b * hit
    brand = state.brand * pr.brand_decay + pr.brand_hit * hit
    return Incidents(prob, hit, con.free_c * keep_c, con.paid_c * keep_c, ent.accounts_b * keep_b, ent.seats_b * keep_b, brand, records)


class Finance(NamedTuple):
    """Money of the month, ``[n_paths]``: MRR (currency/month), costs, cash, NPV."""

    mrr_c: Tensor
    mrr_b: Tensor
    mrr: Tensor
    arr: Tensor
    incident_cost: Tensor
    costs: Tensor
    net: Tensor
    cash: Tensor
    npv: Tensor


def finance(p: Params, state: State, d: DecisionTensors, inc: Incidents) -> Finance:
    """MRR, costs (spend, fixed, compute, seats, incidents), cash and discounted NPV."""
    pr, f = p.privacy, p.finance
    mrr_c = inc.paid_c * d.c_price
    mrr_b = inc.seats_b * d.b_seat_price
    mrr = mrr_c + mrr_b
    arr = 12.0 * mrr
    remediation = pr.cost_per_record * pr.exposed_fraction * inc.records * inc.hit
    fine = pr.fine_fraction_of_cap * pr.fine_cap_share * arr * inc.hit
    incident_cost = remediation + fine
    users_c = inc.free_c + inc.paid_c
    costs = d.budget + f.fixed_costs + p.to_c.compute_cost_per_user * users_c + p.to_b.cost_per_seat * inc.seats_b + incident_cost
    net = mrr - costs
    cash = state.cash + net
    r_m = (1.0 + f.discount_rate_annual) ** (1.0 / 12.0) - 1.0
    npv = state.npv + net / (1.0 + r_m) ** (state.period + 1)
    return Finance(mrr_c, mrr_b, mrr, arr, incident_cost, costs, net, cash, npv)


# ------------------------------------------------------------------ step


def as_decision_tensors(decision: Decision | DecisionTensors, dtype: torch.dtype, device: Any) -> DecisionTensors:
    """``decision`` as :class:`~.decisions.DecisionTensors` (a :class:`Decision` is converted)."""
    return decision if isinstance(decision, DecisionTensors) else DecisionTensors.from_decision(decision, dtype, device)


def advance(
    params: Params | Mapping[str, Any],
    state: State,
    decision: Decision | DecisionTensors,
    shocks: Shocks,
    satisfaction_model: ResponseModel,
    incident_model: ResponseModel,
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
        satisfaction_model, incident_model: see :mod:`.models`.
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
    sp = d.spend()
    caps = capabilities(p, state, sp)
    S_c, S_b = satisfaction(p, caps, shocks, satisfaction_model)
    con = consumer(p, state, S_c, d, sp, shocks, relaxed)
    ent = enterprise(p, state, caps.P, S_b, d, sp, shocks, relaxed)
    inc = incidents(p, state, caps.P, con, ent, shocks, incident_model, relaxed)
    fin = finance(p, state, d, inc)

    new_state = State(
        state.period + 1, *caps[:6], caps.P, inc.brand, inc.free_c, inc.paid_c, ent.pipeline_b, inc.accounts_b, inc.seats_b, fin.cash, fin.npv
    )
    users_c = inc.free_c + inc.paid_c
    n = state.F_c.shape[0]
    outputs = {
        "users_c": users_c,
        "free_c": inc.free_c,
        "paid_c": inc.paid_c,
        "paid_share_c": inc.paid_c / users_c.clamp(min=1.0),
        "new_users_c": con.adopters,
        "conversion_c": con.conversion,
        "churn_free_c": con.churn_free,
        "churn_paid_c": con.churn_paid,
        "cac_c": sp["c_acquisition"] / con.adopters.clamp(min=1.0),
        "accounts_b": inc.accounts_b,
        "seats_b": inc.seats_b,
        "pipeline_b": ent.pipeline_b,
        "new_accounts_b": ent.won,
        "win_rate_b": ent.win,
        "logo_churn_b": ent.logo_churn,
        "nrr_b": ((1.0 - ent.logo_churn) * (1.0 + ent.expansion)) ** 12,
        "cac_b": sp["b_acquisition"] / ent.won.clamp(min=1e-3),
        "satisfaction_c": S_c,
        "satisfaction_b": S_b,
        "posture": caps.P,
        "incident_prob": inc.prob,
        "incidents": inc.hit,
        "incident_cost": fin.incident_cost,
        "mrr_c": fin.mrr_c,
        "mrr_b": fin.mrr_b,
        "mrr": fin.mrr,
        "arr": fin.arr,
        "costs": fin.costs,
        "net_cash_flow": fin.net,
        "cash": fin.cash,
        "npv": fin.npv,
        "p_cash_negative": (fin.cash < 0).to(S_c.dtype),
    }
    outputs = {k: (v if v.dim() and v.shape[0] == n else v.expand(n)) for k, v in outputs.items()}
    return new_state, outputs


def step(
    params: Params | Mapping[str, Any],
    state: State,
    decision: Decision | DecisionTensors,
    generator: torch.Generator,
    satisfaction_model: ResponseModel,
    incident_model: ResponseModel,
    relaxed: bool = False,
) -> tuple[State, dict[str, Tensor]]:
    """Draw this period's shocks from ``generator`` and :func:`advance`."""
    ref = state.F_c
    shocks = draw_shocks(generator, ref.shape[0], ref.dtype, ref.device)
    return advance(params, state, decision, shocks, satisfaction_model, incident_model, relaxed)


def rollout(
    params: Params | Mapping[str, Any],
    state: State,
    decisions: Decision | DecisionTensors | list[Decision | DecisionTensors],
    generator: torch.Generator,
    satisfaction_model: ResponseModel,
    incident_model: ResponseModel,
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
        state, out = step(params, state, d, generator, satisfaction_model, incident_model, relaxed)
        outs.append(out)
    return state, outs
