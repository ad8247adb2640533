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

from dataclasses import dataclass, fields

import torch

from .decisions import Decision
from .models import ResponseModel

Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class State:
    """Simulation state after ``period`` months; every tensor is ``[n_paths]``.

    Capability stocks F/U/R per segment and privacy posture P are 0..10; brand is the
    incident brand penalty (>= 0); free_c/paid_c users; pipeline_b open opportunities;
    accounts_b, seats_b; cash and npv in currency.
    """

    period: int
    F_c: torch.Tensor
    U_c: torch.Tensor
    R_c: torch.Tensor
    F_b: torch.Tensor
    U_b: torch.Tensor
    R_b: torch.Tensor
    P: torch.Tensor
    brand: torch.Tensor
    free_c: torch.Tensor
    paid_c: torch.Tensor
    pipeline_b: torch.Tensor
    accounts_b: torch.Tensor
    seats_b: torch.Tensor
    cash: torch.Tensor
    npv: torch.Tensor

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "period"}


@dataclass(frozen=True)
class Shocks:
    """One period's random draws, each ``[n_paths]``: standard normals for the two
    satisfaction noises, adopters and leads; a uniform 0..1 for the incident draw."""

    z_sat_c: torch.Tensor
    z_sat_b: torch.Tensor
    z_adopt: torch.Tensor
    z_leads: torch.Tensor
    u_incident: torch.Tensor


def initial_state(params: Params) -> State:
    """Period-0 state from the per-path parameters (see :func:`~.scenario.draw_parameters`)."""
    p = params
    zero = torch.zeros_like(p["capability.init_c"])
    return State(
        period=0,
        F_c=p["capability.init_c"].clone(),
        U_c=p["capability.init_c"].clone(),
        R_c=p["capability.init_c"].clone(),
        F_b=p["capability.init_b"].clone(),
        U_b=p["capability.init_b"].clone(),
        R_b=p["capability.init_b"].clone(),
        P=p["capability.init_posture"].clone(),
        brand=zero.clone(),
        free_c=torch.minimum(p["to_c.initial_free"], p["to_c.market_potential"]),
        paid_c=torch.minimum(p["to_c.initial_paid"], (p["to_c.market_potential"] - p["to_c.initial_free"]).clamp(min=0)),
        pipeline_b=p["to_b.initial_pipeline"].clone(),
        accounts_b=torch.minimum(p["to_b.initial_accounts"], p["to_b.market_potential"]),
        seats_b=p["to_b.initial_seats"].clone(),
        cash=p["finance.initial_cash"].clone(),
        npv=zero.clone(),
    )


def draw_shocks(generator: torch.Generator, n_paths: int, dtype: torch.dtype, device: torch.device) -> Shocks:
    """Draw one period's shocks on the CPU ``generator`` (fixed order), then move them."""
    z = torch.randn(4, n_paths, generator=generator, dtype=dtype)
    u = torch.rand(n_paths, generator=generator, dtype=dtype)
    z, u = z.to(device), u.to(device)
    return Shocks(z[0], z[1], z[2], z[3], u)


def _grow(x: torch.Tensor, spend: float | torch.Tensor, p: Params) -> torch.Tensor:
    """Capability stocks ``x`` (``[n_paths]`` or ``[k, n_paths]`` with ``spend`` ``[k, 1]``)
    after one month: ``clamp(x + eta*ln(1 + spend/scale)*(1 - x/10) - delta*x, 0, 10)``."""
    gain = p["capability.eta"] * torch.log1p(spend / p["capability.spend_scale"])
    return (x + gain * (1.0 - x / 10.0) - p["capability.delta"] * x).clamp(0.0, 10.0)


def advance(
    params: Params,
    state: State,
    decision: Decision,
    shocks: Shocks,
    satisfaction_model: ResponseModel,
    incident_model: ResponseModel,
) -> tuple[State, dict[str, torch.Tensor]]:
    """Move every path one month. Pure: inputs are not modified.

    Args:
        params: per-path parameters ``{"section.name": [n_paths]}``.
        state: the state after ``state.period`` months.
        decision: a *validated* decision (``Simulation`` validates before calling).
        shocks: this period's random draws.
        satisfaction_model, incident_model: see :mod:`.models`.

    Returns:
        ``(new_state, outputs)`` where outputs maps each KPI name of
        :data:`~.kpi.KPIS` to a ``[n_paths]`` tensor for this period.
    """
    p = params
    sp = decision.spend()
    scale = p["capability.spend_scale"]

    # The seven stocks grow in one [7, n_paths] pass (one kernel per operation instead
    # of seven: the step is dominated by per-operation overhead at these sizes).
    stocks = torch.stack([state.F_c, state.U_c, state.R_c, state.F_b, state.U_b, state.R_b, state.P])
    spends = [sp["c_product"], sp["c_ux"], sp["c_service"], sp["b_product"], sp["b_ux"], sp["b_service"], sp["privacy"]]
    spend = torch.tensor(spends, dtype=stocks.dtype).to(stocks.device).unsqueeze(1)
    F_c, U_c, R_c, F_b, U_b, R_b, P = _grow(stocks, spend, p).unbind(0)

    sd = p["satisfaction.noise_sd"]
    zeros = torch.zeros_like(F_c)
    S_c = (satisfaction_model.predict({"functionality": F_c, "ux": U_c, "service_response": R_c, "segment": zeros}) + sd * shocks.z_sat_c).clamp(0.0, 10.0)
    S_b = (satisfaction_model.predict({"functionality": F_b, "ux": U_b, "service_response": R_b, "segment": zeros + 1.0}) + sd * shocks.z_sat_b).clamp(0.0, 10.0)

    # --- To C: Bass diffusion, freemium conversion, churn.
    brand_mult = torch.exp(-state.brand)
    M = p["to_c.market_potential"]
    N = state.free_c + state.paid_c
    ref_c = p["to_c.satisfaction_ref"]
    p_eff = (p["to_c.bass_p"] + p["to_c.acquisition_effect"] * torch.log1p(sp["c_acquisition"] / scale)) * brand_mult
    q_eff = p["to_c.bass_q"] * S_c / ref_c
    a_sd = p["to_c.adoption_noise_sd"]
    remaining = (M - N).clamp(min=0.0)
    adopters = (p_eff + q_eff * N / M) * remaining * torch.exp(a_sd * shocks.z_adopt - 0.5 * a_sd * a_sd)
    adopters = torch.minimum(adopters, remaining).clamp(min=0.0)
    price_ratio = max(decision.c_price, 1e-9) / p["to_c.reference_price"]
    conv_logit = p["to_c.conversion_logit0"] + p["to_c.conversion_sat_slope"] * (S_c - ref_c) - p["to_c.price_elasticity"] * torch.log(price_ratio)
    conversion = p["to_c.conversion_max"] * torch.sigmoid(conv_logit)
    churn_mult_c = torch.exp(-p["to_c.churn_sat_slope"] * (S_c - ref_c))
    churn_free = (p["to_c.churn_free"] * churn_mult_c).clamp(max=1.0)
    churn_paid = (p["to_c.churn_paid"] * churn_mult_c).clamp(max=1.0)
    converted = conversion * state.free_c
    free_c = (state.free_c - converted - churn_free * state.free_c + adopters).clamp(min=0.0)
    paid_c = (state.paid_c + converted - churn_paid * state.paid_c).clamp(min=0.0)

    # --- To B: leads -> pipeline -> won accounts; seats expand, logos churn.
    Mb = p["to_b.market_potential"]
    l_sd = p["to_b.leads_noise_sd"]
    open_share = (1.0 - state.accounts_b / Mb).clamp(0.0, 1.0)
    leads = sp["b_acquisition"] / p["to_b.cost_per_lead"] * open_share * brand_mult * torch.exp(l_sd * shocks.z_leads - 0.5 * l_sd * l_sd)
    resolved = state.pipeline_b / p["to_b.sales_cycle_months"]
    review_pass = torch.sigmoid(p["to_b.security_review_steepness"] * (P - p["to_b.security_review_threshold"]))
    ref_b = p["to_b.satisfaction_ref"]
    win = (p["to_b.win_rate"] * review_pass * (S_b / ref_b).clamp(max=1.5) * brand_mult).clamp(0.0, 1.0)
    won = torch.minimum(resolved * win, (Mb - state.accounts_b).clamp(min=0.0))
    pipeline_b = state.pipeline_b - resolved + leads
    logo_churn = (p["to_b.logo_churn"] * torch.exp(-p["to_b.churn_sat_slope"] * (S_b - ref_b))).clamp(max=1.0)
    expansion = p["to_b.seat_expansion_max"] * torch.tanh((S_b - p["to_b.expansion_sat_mid"]) / 2.0)
    accounts_b = state.accounts_b * (1.0 - logo_churn) + won
    seats_b = state.seats_b * (1.0 - logo_churn) * (1.0 + expansion) + won * p["to_b.seats_per_new_account"]

    # --- Privacy incidents.
    users = free_c + paid_c
    b_records = seats_b * p["privacy.records_per_seat"]
    records = users + b_records
    inc_features = {
        "records_log10": torch.log10(1.0 + records),
        "security_posture": P,
        "enterprise_share": b_records / records.clamp(min=1.0),
        "third_party_access": p["privacy.third_party_access"],
    }
    incident_prob = incident_model.predict(inc_features).clamp(0.0, 1.0)
    incidents = (shocks.u_incident < incident_prob).to(F_c.dtype)
    free_c = free_c * (1.0 - p["privacy.churn_shock_c"] * incidents)
    paid_c = paid_c * (1.0 - p["privacy.churn_shock_c"] * incidents)
    accounts_b = accounts_b * (1.0 - p["privacy.churn_shock_b"] * incidents)
    seats_b = seats_b * (1.0 - p["privacy.churn_shock_b"] * incidents)
    brand = state.brand * p["privacy.brand_decay"] + p["privacy.brand_hit"] * incidents

    # --- Money.
    mrr_c = paid_c * decision.c_price
    mrr_b = seats_b * decision.b_seat_price
    mrr = mrr_c + mrr_b
    arr = 12.0 * mrr
    remediation = p["privacy.cost_per_record"] * p["privacy.exposed_fraction"] * records * incidents
    fine = p["privacy.fine_fraction_of_cap"] * p["privacy.fine_cap_share"] * arr * incidents
    incident_cost = remediation + fine
    users_c = free_c + paid_c
    costs = decision.budget + p["finance.fixed_costs"] + p["to_c.compute_cost_per_user"] * users_c + p["to_b.cost_per_seat"] * seats_b + incident_cost
    net = mrr - costs
    cash = state.cash + net
    r_m = (1.0 + p["finance.discount_rate_annual"]) ** (1.0 / 12.0) - 1.0
    npv = state.npv + net / (1.0 + r_m) ** (state.period + 1)

    new_state = State(state.period + 1, F_c, U_c, R_c, F_b, U_b, R_b, P, brand, free_c, paid_c, pipeline_b, accounts_b, seats_b, cash, npv)
    outputs = {
        "users_c": users_c,
        "free_c": free_c,
        "paid_c": paid_c,
        "paid_share_c": paid_c / users_c.clamp(min=1.0),
        "new_users_c": adopters,
        "conversion_c": conversion,
        "churn_free_c": churn_free,
        "churn_paid_c": churn_paid,
        "cac_c": sp["c_acquisition"] / adopters.clamp(min=1.0),
        "accounts_b": accounts_b,
        "seats_b": seats_b,
        "pipeline_b": pipeline_b,
        "new_accounts_b": won,
        "win_rate_b": win,
        "logo_churn_b": logo_churn,
        "nrr_b": ((1.0 - logo_churn) * (1.0 + expansion)) ** 12,
        "cac_b": sp["b_acquisition"] / won.clamp(min=1e-3),
        "satisfaction_c": S_c,
        "satisfaction_b": S_b,
        "posture": P,
        "incident_prob": incident_prob,
        "incidents": incidents,
        "incident_cost": incident_cost,
        "mrr_c": mrr_c,
        "mrr_b": mrr_b,
        "mrr": mrr,
        "arr": arr,
        "costs": costs,
        "net_cash_flow": net,
        "cash": cash,
        "npv": npv,
        "p_cash_negative": (cash < 0).to(F_c.dtype),
    }
    return new_state, outputs


def step(
    params: Params,
    state: State,
    decision: Decision,
    generator: torch.Generator,
    satisfaction_model: ResponseModel,
    incident_model: ResponseModel,
) -> tuple[State, dict[str, torch.Tensor]]:
    """Draw this period's shocks from ``generator`` and :func:`advance`."""
    ref = state.F_c
    shocks = draw_shocks(generator, ref.shape[0], ref.dtype, ref.device)
    return advance(params, state, decision, shocks, satisfaction_model, incident_model)
