"""One month of every path as a pure tensor function (:func:`_advance_tensors`): the
sub-steps composed and the KPI outputs; what :func:`~.compiled.use_compile` compiles."""

from __future__ import annotations

from typing import Any

import torch

from ..decisions import DecisionTensors
from ..models import ResponseModel
from ..params import Params
from .cashflow import Clock, finance
from .demand import consumer, enterprise
from .incident import incidents
from .state import TRAIL_MONTHS, Shocks, State, Tensor
from .stocks import capabilities, satisfaction


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
        "cac_c_blended": torch.where(
            cum_c_adopters > 1e-9, cum_c_spend / cum_c_adopters.clamp(min=1e-9), nan
        ),
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
