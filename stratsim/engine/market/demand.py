"""The month's demand: the consumer market (To C: Bass diffusion, freemium conversion,
churn, lapsed pool) and the enterprise market (To B: sales reps, Erlang pipeline, win
rate, logo churn, seat growth); ``docs/MODEL.md`` sections 3-4."""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..decisions import DecisionTensors
from ..params import Params
from .smooth import _cap, _clamp_fresh, _relu
from .state import PIPELINE_STAGES, Shocks, State, Tensor


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


def consumer(
    p: Params,
    state: State,
    S_c: Tensor,
    d: DecisionTensors,
    spend: dict[str, Tensor],
    shocks: Shocks,
    relaxed: bool,
) -> Consumer:
    """Bass diffusion from the untapped market, freemium conversion and churn driven by
    perceived value, a one-month churn shock on a price rise, a lapsed pool (package
    docstring, To C)."""
    c = p.to_c
    ref = state.s_ref_c
    brand_mult = torch.exp(-state.brand)
    M = c.market_potential
    N = state.free_c + state.paid_c
    price = d.c_price.clamp(min=1e-6)
    value = S_c - c.value_price_weight * (price / c.reference_price - 1.0)
    p_paid = (
        c.acquisition_effect
        * torch.log1p(spend["c_acquisition"] / p.capability.spend_scale)
        * brand_mult
    )
    p_eff = c.bass_p * brand_mult + p_paid
    q_eff = c.bass_q * 2.0 * torch.sigmoid(2.0 * c.wom_sat_slope * (value - ref))
    a_sd = c.adoption_noise_sd
    untapped = _clamp_fresh(M - N - state.lapsed_c, 0.0)
    hazard = p_eff + q_eff * N / M
    adopters = hazard * untapped * torch.exp(a_sd * shocks.z_adopt - 0.5 * a_sd * a_sd)
    adopters = _clamp_fresh(_cap(adopters, untapped, relaxed), 0.0)
    paid_adopters = adopters * p_paid / hazard.clamp(min=1e-30)
    conversion = c.conversion_max * torch.sigmoid(
        c.conversion_logit0 + c.conversion_sat_slope * (value - ref)
    )
    churn_free = _cap(c.churn_free * torch.exp(-c.churn_sat_slope * (S_c - ref)), 1.0, relaxed)
    rise = _relu(torch.log(price / state.last_c_price.clamp(min=1e-6)), relaxed)
    churn_base = c.churn_paid * torch.exp(
        -c.churn_sat_slope * (value - ref)
    )  # without the one-month shock
    churn_paid = _cap(churn_base + c.price_churn_shock * rise, 1.0, relaxed)
    converted = conversion * state.free_c
    lost_free = churn_free * (state.free_c - converted)  # of those who did not convert
    lost_paid = churn_paid * state.paid_c
    free_c = _clamp_fresh(state.free_c - converted - lost_free + adopters, 0.0)
    paid_c = _clamp_fresh(state.paid_c + converted - lost_paid, 0.0)
    lapsed_c = state.lapsed_c * (1.0 - c.lapse_return_rate) + lost_free + lost_paid
    return Consumer(
        free_c,
        paid_c,
        lapsed_c,
        adopters,
        paid_adopters,
        conversion,
        churn_free,
        churn_paid,
        value,
        _cap(churn_base, 1.0, relaxed),
    )


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
    p: Params,
    state: State,
    P: Tensor,
    S_b: Tensor,
    d: DecisionTensors,
    spend: dict[str, Tensor],
    shocks: Shocks,
    relaxed: bool,
) -> Enterprise:
    """Sales reps (hiring lag, ramp) with bounded capacity work the leads (open accounts in
    market plus bottom-up leads from consumers); a k=3 Erlang pipeline; price- and
    satisfaction-dependent win rate, logo churn and seat growth (package docstring, To B)."""
    b = p.to_b
    ref = state.s_ref_b
    price_ratio = d.b_seat_price.clamp(min=1e-6) / b.reference_seat_price
    excess = price_ratio - 1.0
    target = spend["b_acquisition"] / b.rep_cost
    reps_hired = state.reps_hired + (target - state.reps_hired) / b.hiring_lag_months
    reps_ramped = _cap(
        state.reps_ramped + (reps_hired - state.reps_ramped) / b.ramp_months, reps_hired, relaxed
    )
    capacity = reps_ramped * b.opportunities_per_rep
    Mb = b.market_potential
    in_pipeline = state.opp1 + state.opp2 + state.opp3
    open_accounts = _clamp_fresh(Mb - state.accounts_b - in_pipeline, 0.0)
    l_sd = b.leads_noise_sd
    users = state.free_c + state.paid_c
    leads = (
        (b.lead_rate * open_accounts + b.bottom_up_rate * users)
        * torch.exp(-state.brand)
        * torch.exp(l_sd * shocks.z_leads - 0.5 * l_sd * l_sd)
    )
    new_opps = _clamp_fresh(_cap(_cap(leads, capacity, relaxed), open_accounts, relaxed), 0.0)
    rate = PIPELINE_STAGES / b.sales_cycle_months
    out1, out2, out3 = state.opp1 * rate, state.opp2 * rate, state.opp3 * rate
    opp1 = state.opp1 - out1 + new_opps
    opp2 = state.opp2 - out2 + out1
    opp3 = state.opp3 - out3 + out2
    review_pass = torch.sigmoid(b.security_review_steepness * (P - b.security_review_threshold))
    win_raw = (
        b.win_rate
        * review_pass
        * torch.exp(b.win_sat_slope * (S_b - ref) - b.price_elasticity * excess)
    )
    win = _cap(win_raw, 1.0, relaxed)
    won = _cap(out3 * win, _clamp_fresh(Mb - state.accounts_b, 0.0), relaxed)
    logo_churn = _cap(
        b.logo_churn
        * torch.exp(-b.churn_sat_slope * (S_b - ref) + b.churn_price_elasticity * excess),
        1.0,
        relaxed,
    )
    seat_growth = _clamp_fresh(
        b.seat_expansion_max * torch.tanh((S_b - b.expansion_sat_mid) / 2.0)
        - b.seat_price_sensitivity * excess,
        -0.5,
    )
    accounts_b = state.accounts_b * (1.0 - logo_churn) + won
    seats_b = (
        state.seats_b * (1.0 - logo_churn) * (1.0 + seat_growth) + won * b.seats_per_new_account
    )
    return Enterprise(
        opp1,
        opp2,
        opp3,
        reps_hired,
        reps_ramped,
        capacity,
        new_opps,
        accounts_b,
        seats_b,
        won,
        win,
        logo_churn,
        seat_growth,
    )
