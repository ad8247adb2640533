"""Money of the month: MRR, costs, cash, NPV and the terminal values (Gordon growth capped
by :func:`terminal_growth`, ARR multiple), with the month as tensors (:func:`clock`);
``docs/MODEL.md`` section 6."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from ..decisions import DecisionTensors
from ..params import Params
from .demand import Consumer, Enterprise
from .incident import Incidents
from .smooth import _relu
from .state import TRAIL_MONTHS, VOLUME_ROWS, State, Tensor
from .stocks import _stock_spend, _stocks, maintenance_spend


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
    p: Params,
    state: State,
    d: DecisionTensors,
    con: Consumer,
    inc: Incidents,
    ent: Enterprise,
    spend: dict[str, Tensor],
    clock: Clock,
    relaxed: bool = False,
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
    costs = (
        d.budget
        + f.fixed_costs
        + p.to_c.compute_cost_per_user * users_c
        + p.to_b.cost_per_seat * inc.seats_b
        + inc.cost
        + financing
    )
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
    shortfall = (
        (maintenance_spend(_stocks(state), p.capability) - _stock_spend(p, spend))
        .clamp(min=0.0)
        .sum(0)
    )
    steady = (
        net
        + spend["c_acquisition"]
        + spend["b_acquisition"]
        + inc.cost
        - inc.expected_cost
        - shortfall
    )
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
    paid_next = (inc.paid_c * (1.0 - con.churn_paid_base) + con.conversion * inc.free_c) * (
        1.0 - pr.churn_shock_c * inc.prob
    )
    seats_next = (
        inc.seats_b
        * (1.0 - ent.logo_churn)
        * (1.0 + ent.seat_growth)
        * (1.0 - pr.churn_shock_b * inc.prob)
    )
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
        f.terminal_growth,
        torch.stack([vol_c, vol_b, volume]),
        clock.volume_old,
        months,
        torch.stack([org_c, org_b, org_c + org_b]),
    )
    g_seg = torch.where(new[7:9] > 0, g3[:2], g3[2])
    # Each segment's trailing-12-month margin grows at the segment's rate; the costs at the
    # scenario's rate (holding the stocks costs the same whether or not the customers stay).
    g0 = f.terminal_growth
    tv_gordon = (
        (trail_sum[5:7] * scale * (1.0 + g_seg) / (r - g_seg)).sum(0)
        + trail_sum[3] * scale * (1.0 + g0) / (r - g0)
    ) / disc
    tv_arr = f.arr_multiple * arr / disc
    return Finance(
        mrr_c,
        mrr_b,
        mrr,
        arr,
        costs,
        financing,
        net,
        cash,
        npv,
        tv_gordon,
        tv_arr,
        trail,
        trail_sum,
    )


def terminal_growth(
    g: Any, volume: Tensor, volume_old: Tensor, months: int | Tensor, organic: Tensor | None = None
) -> Any:
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
