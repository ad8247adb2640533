"""Scalar, per-path reference implementation of the market model (the test oracle).

The same equations as :mod:`stratsim.engine.market` (its module docstring and
``docs/MODEL.md``), written plainly with Python floats and :mod:`math`, one path at a
time, without calling the engine's step. The vectorized engine must match it
(``tests/test_reference.py``); ``bench/bench_engine.py`` times it against the engine.

Only the shipped model forms are implemented: the linear satisfaction model
``S = alpha*F + beta*U + gamma*R + intercept`` (clipped to 0..10) and the logistic
incident model ``p = sigmoid(b0 + b_rec*records_log10 + b_pos*P + b_ent*share + b_tp*tp)``,
read from the coefficients of :class:`~stratsim.engine.models.LinearSatisfaction` and
:class:`~stratsim.engine.models.LogisticPrivacy` instances.

Inputs per path: ``params`` a ``{"section.name": float}`` dict, ``state`` a
``{name: float}`` dict (the :class:`~stratsim.engine.market.State` fields; ``trail`` a
one 12-month list per row of ``TRAIL_ROWS``), ``shocks``
``{"z_sat_c", "z_sat_b", "z_adopt", "z_leads", "u_incident"}`` floats.
"""

from __future__ import annotations

import math
from typing import Any

STATE_KEYS = (
    "F_c", "U_c", "R_c", "F_b", "U_b", "R_b", "P", "K", "brand", "free_c", "paid_c", "lapsed_c",
    "opp1", "opp2", "opp3", "reps_hired", "reps_ramped", "accounts_b", "seats_b", "cash", "npv",
    "last_c_price", "s_ref_c", "s_ref_b", "cum_c_spend", "cum_c_adopters", "cum_c_paid_adopters",
    "cum_b_spend", "cum_b_won", "any_incident",
)  # fmt: skip
#: The trailing-12-month rows kept per path (oldest month first).
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
SHOCK_KEYS = ("z_sat_c", "z_sat_b", "z_adopt", "z_leads", "u_incident")


def clamp(x: float, lo: float | None = None, hi: float | None = None) -> float:
    if lo is not None and x < lo:
        x = lo
    if hi is not None and x > hi:
        x = hi
    return x


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def spend_items(decision: Any) -> dict[str, float]:
    """Spend per line item: privacy share first, then c_share of the rest to To C."""
    budget = float(decision.budget)
    rest = budget * (1.0 - decision.privacy_share)
    out = {"privacy": budget * decision.privacy_share}
    for k in ("product", "ux", "service", "acquisition"):
        out["c_" + k] = rest * decision.c_share * decision.c_split[k]
        out["b_" + k] = rest * (1.0 - decision.c_share) * decision.b_split[k]
    return out


def maintenance(x: float, p: dict[str, float]) -> float:
    """Spend that holds a stock at ``x``: ``scale*(exp(delta*x/(eta*(1 - x/10))) - 1)``
    (exponent capped at 20; 0 when eta = 0)."""
    eta = p["capability.eta"]
    if eta <= 0:
        return 0.0
    expo = p["capability.delta"] * x / (eta * max(1.0 - x / 10.0, 1e-6))
    return p["capability.spend_scale"] * math.expm1(min(expo, 20.0))


def satisfaction(sat: Any, F: float, U: float, R: float) -> float:
    return clamp(sat.alpha * F + sat.beta * U + sat.gamma * R + sat.intercept, 0.0, 10.0)


def incident_probability(
    inc: Any, records_log10: float, posture: float, ent_share: float, third_party: float
) -> float:
    z = (
        inc.intercept
        + inc.b_records * records_log10
        + inc.b_posture * posture
        + inc.b_enterprise * ent_share
        + inc.b_third_party * third_party
    )
    return sigmoid(z)


def effective_f(p: dict[str, float], F: float, K: float) -> float:
    w = p["capability.core_weight"]
    return (1.0 - w) * F + w * K


def initial_state(p: dict[str, float], sat: Any) -> dict[str, Any]:
    """Period-0 state of one path (``sat``: the linear satisfaction model in use)."""
    c0, b0, k0 = p["capability.init_c"], p["capability.init_b"], p["capability.init_core"]
    ref = p["satisfaction.reference_capability"]
    opp = p["to_b.initial_pipeline"] / 3.0
    return {
        "F_c": c0, "U_c": c0, "R_c": c0, "F_b": b0, "U_b": b0, "R_b": b0,
        "P": p["capability.init_posture"], "K": k0, "brand": 0.0,
        "free_c": min(p["to_c.initial_free"], p["to_c.market_potential"]),
        "paid_c": min(p["to_c.initial_paid"], max(p["to_c.market_potential"] - p["to_c.initial_free"], 0.0)),
        "lapsed_c": 0.0, "opp1": opp, "opp2": opp, "opp3": opp,
        "reps_hired": p["to_b.initial_reps"], "reps_ramped": p["to_b.initial_reps"],
        "accounts_b": min(p["to_b.initial_accounts"], p["to_b.market_potential"]),
        "seats_b": p["to_b.initial_seats"], "cash": p["finance.initial_cash"], "npv": 0.0,
        "last_c_price": p["to_c.reference_price"],
        "s_ref_c": satisfaction(sat, effective_f(p, ref, ref), ref, ref),
        "s_ref_b": satisfaction(sat, effective_f(p, ref, ref), ref, ref),
        "cum_c_spend": 0.0, "cum_c_adopters": 0.0, "cum_c_paid_adopters": 0.0,
        "cum_b_spend": 0.0, "cum_b_won": 0.0, "any_incident": 0.0,
        "trail": [[0.0] * 12 for _ in TRAIL_ROWS],
    }  # fmt: skip


def grow(x: float, spend: float, p: dict[str, float]) -> float:
    """Capability stock: X + eta*ln(1 + spend/scale)*(1 - X/10) - delta*X, in 0..10."""
    gain = p["capability.eta"] * math.log(1.0 + spend / p["capability.spend_scale"])
    return clamp(x + gain * (1.0 - x / 10.0) - p["capability.delta"] * x, 0.0, 10.0)


def step(
    p: dict[str, float],
    s: dict[str, Any],
    period: int,
    decision: Any,
    shocks: dict[str, float],
    sat: Any,
    inc: Any,
) -> tuple[dict[str, Any], dict[str, float]]:
    """One month of one path. ``period`` is the number of months already simulated.

    Returns ``(new_state, kpis)`` with every KPI of :data:`stratsim.engine.kpi.KPIS`.
    """
    sp = spend_items(decision)
    scale = p["capability.spend_scale"]
    nan = float("nan")

    # Capabilities: core_share of product spend builds the shared core K.
    own = 1.0 - p["capability.core_share"]
    F_c = grow(s["F_c"], own * sp["c_product"], p)
    U_c = grow(s["U_c"], sp["c_ux"], p)
    R_c = grow(s["R_c"], sp["c_service"], p)
    F_b = grow(s["F_b"], own * sp["b_product"], p)
    U_b = grow(s["U_b"], sp["b_ux"], p)
    R_b = grow(s["R_b"], sp["b_service"], p)
    P = grow(s["P"], sp["privacy"], p)
    K = grow(s["K"], p["capability.core_share"] * (sp["c_product"] + sp["b_product"]), p)

    noise = p["satisfaction.noise_sd"]
    S_c = clamp(
        satisfaction(sat, effective_f(p, F_c, K), U_c, R_c) + noise * shocks["z_sat_c"], 0.0, 10.0
    )
    S_b = clamp(
        satisfaction(sat, effective_f(p, F_b, K), U_b, R_b) + noise * shocks["z_sat_b"], 0.0, 10.0
    )

    # To C: perceived value, Bass diffusion from the untapped market, conversion, churn, lapsed pool.
    ref_c = s["s_ref_c"]
    brand_mult = math.exp(-s["brand"])
    M = p["to_c.market_potential"]
    N = s["free_c"] + s["paid_c"]
    price = max(decision.c_price, 1e-6)
    value = S_c - p["to_c.value_price_weight"] * (price / p["to_c.reference_price"] - 1.0)
    p_paid = p["to_c.acquisition_effect"] * math.log(1.0 + sp["c_acquisition"] / scale) * brand_mult
    p_eff = p["to_c.bass_p"] * brand_mult + p_paid
    q_eff = p["to_c.bass_q"] * 2.0 * sigmoid(2.0 * p["to_c.wom_sat_slope"] * (value - ref_c))
    a_sd = p["to_c.adoption_noise_sd"]
    untapped = max(M - N - s["lapsed_c"], 0.0)
    hazard = p_eff + q_eff * N / M
    adopters = hazard * untapped * math.exp(a_sd * shocks["z_adopt"] - 0.5 * a_sd**2)
    adopters = max(min(adopters, untapped), 0.0)
    paid_adopters = adopters * p_paid / max(hazard, 1e-30)
    conversion = p["to_c.conversion_max"] * sigmoid(
        p["to_c.conversion_logit0"] + p["to_c.conversion_sat_slope"] * (value - ref_c)
    )
    churn_free = min(
        p["to_c.churn_free"] * math.exp(-p["to_c.churn_sat_slope"] * (S_c - ref_c)), 1.0
    )
    rise = max(math.log(price / max(s["last_c_price"], 1e-6)), 0.0)
    churn_base = p["to_c.churn_paid"] * math.exp(-p["to_c.churn_sat_slope"] * (value - ref_c))
    churn_paid = min(churn_base + p["to_c.price_churn_shock"] * rise, 1.0)
    converted = conversion * s["free_c"]
    lost_free = churn_free * (s["free_c"] - converted)
    lost_paid = churn_paid * s["paid_c"]
    free_c = max(s["free_c"] - converted - lost_free + adopters, 0.0)
    paid_c = max(s["paid_c"] + converted - lost_paid, 0.0)
    lapsed_c = s["lapsed_c"] * (1.0 - p["to_c.lapse_return_rate"]) + lost_free + lost_paid

    # To B: reps (hiring lag, ramp), capacity-bounded leads, Erlang k=3 pipeline, win, churn, seats.
    ref_b = s["s_ref_b"]
    ratio = max(decision.b_seat_price, 1e-6) / p["to_b.reference_seat_price"]
    target = sp["b_acquisition"] / p["to_b.rep_cost"]
    reps_hired = s["reps_hired"] + (target - s["reps_hired"]) / p["to_b.hiring_lag_months"]
    reps_ramped = min(
        s["reps_ramped"] + (reps_hired - s["reps_ramped"]) / p["to_b.ramp_months"], reps_hired
    )
    capacity = reps_ramped * p["to_b.opportunities_per_rep"]
    Mb = p["to_b.market_potential"]
    open_accounts = max(Mb - s["accounts_b"] - (s["opp1"] + s["opp2"] + s["opp3"]), 0.0)
    l_sd = p["to_b.leads_noise_sd"]
    leads = (
        (p["to_b.lead_rate"] * open_accounts + p["to_b.bottom_up_rate"] * N)
        * brand_mult
        * math.exp(l_sd * shocks["z_leads"] - 0.5 * l_sd**2)
    )
    new_opps = max(min(leads, capacity, open_accounts), 0.0)
    rate = 3.0 / p["to_b.sales_cycle_months"]
    out1, out2, out3 = s["opp1"] * rate, s["opp2"] * rate, s["opp3"] * rate
    opp1 = s["opp1"] - out1 + new_opps
    opp2 = s["opp2"] - out2 + out1
    opp3 = s["opp3"] - out3 + out2
    review = sigmoid(
        p["to_b.security_review_steepness"] * (P - p["to_b.security_review_threshold"])
    )
    win = min(
        p["to_b.win_rate"]
        * review
        * math.exp(
            p["to_b.win_sat_slope"] * (S_b - ref_b) - p["to_b.price_elasticity"] * (ratio - 1.0)
        ),
        1.0,
    )
    won = min(out3 * win, max(Mb - s["accounts_b"], 0.0))
    logo_churn = min(
        p["to_b.logo_churn"]
        * math.exp(
            -p["to_b.churn_sat_slope"] * (S_b - ref_b)
            + p["to_b.churn_price_elasticity"] * (ratio - 1.0)
        ),
        1.0,
    )
    growth = max(
        p["to_b.seat_expansion_max"] * math.tanh((S_b - p["to_b.expansion_sat_mid"]) / 2.0)
        - p["to_b.seat_price_sensitivity"] * (ratio - 1.0),
        -0.5,
    )
    accounts_b = s["accounts_b"] * (1.0 - logo_churn) + won
    seats_b = (
        s["seats_b"] * (1.0 - logo_churn) * (1.0 + growth) + won * p["to_b.seats_per_new_account"]
    )

    # Privacy incident (monthly probability; a yearly-label model is converted).
    b_records = seats_b * p["privacy.records_per_seat"]
    records = free_c + paid_c + b_records
    prob = clamp(
        incident_probability(
            inc,
            math.log10(1.0 + records),
            P,
            b_records / max(records, 1.0),
            p["privacy.third_party_access"],
        ),
        0.0,
        1.0,
    )
    if getattr(inc, "label_period", "month") == "year":
        prob = 1.0 - (1.0 - prob) ** (1.0 / 12.0)
    hit = 1.0 if shocks["u_incident"] < prob else 0.0
    keep_c = 1.0 - p["privacy.churn_shock_c"] * hit
    keep_b = 1.0 - p["privacy.churn_shock_b"] * hit
    lapsed_c += p["privacy.churn_shock_c"] * hit * (free_c + paid_c)
    free_c *= keep_c
    paid_c *= keep_c
    accounts_b *= keep_b
    seats_b *= keep_b
    brand = s["brand"] * p["privacy.brand_decay"] + p["privacy.brand_hit"] * hit
    revenue_12 = math.fsum(s["trail"][2])
    fine_cap = max(p["privacy.fine_cap_share"] * revenue_12, p["privacy.fine_cap_fixed"])
    cost_if_hit = (
        p["privacy.response_cost"]
        + p["privacy.cost_per_record"] * p["privacy.exposed_fraction"] * records
        + p["privacy.fine_fraction_of_cap"] * fine_cap
    )
    incident_cost = cost_if_hit * hit

    # Money, NPV, trailing 12 months, terminal values.
    mrr_c = paid_c * decision.c_price
    mrr_b = seats_b * decision.b_seat_price
    mrr = mrr_c + mrr_b
    arr = 12.0 * mrr
    users_c = free_c + paid_c
    financing = max(-s["cash"], 0.0) * p["finance.overdraft_rate_annual"] / 12.0
    costs = (
        decision.budget
        + p["finance.fixed_costs"]
        + p["to_c.compute_cost_per_user"] * users_c
        + p["to_b.cost_per_seat"] * seats_b
        + incident_cost
        + financing
    )
    net = mrr - costs
    cash = s["cash"] + net
    r = p["finance.discount_rate_annual"]
    r_m = (1.0 + r) ** (1.0 / 12.0) - 1.0
    t = period + 1
    disc = (1.0 + r_m) ** t
    npv = s["npv"] + net / disc
    keep = (1.0 - logo_churn) * keep_b
    # Maintenance: each stock's spend below the spend that holds it at its opening level.
    stock_spend = {
        "F_c": own * sp["c_product"], "U_c": sp["c_ux"], "R_c": sp["c_service"],
        "F_b": own * sp["b_product"], "U_b": sp["b_ux"], "R_b": sp["b_service"],
        "P": sp["privacy"], "K": p["capability.core_share"] * (sp["c_product"] + sp["b_product"]),
    }  # fmt: skip
    shortfall = sum(max(maintenance(s[k], p) - v, 0.0) for k, v in stock_spend.items())
    ref_price_c, ref_price_b = p["to_c.reference_price"], p["to_b.reference_seat_price"]
    vol_c, vol_b = paid_c * ref_price_c, seats_b * ref_price_b
    paid_next = (paid_c * (1.0 - min(churn_base, 1.0)) + conversion * free_c) * (
        1.0 - p["privacy.churn_shock_c"] * prob
    )
    seats_next = (
        seats_b * (1.0 - logo_churn) * (1.0 + growth) * (1.0 - p["privacy.churn_shock_b"] * prob)
    )
    org_c, org_b = paid_next * ref_price_c, seats_next * ref_price_b
    margin_c = mrr_c - p["to_c.compute_cost_per_user"] * users_c
    margin_b = mrr_b - p["to_b.cost_per_seat"] * seats_b
    steady = (
        net
        + sp["c_acquisition"]
        + sp["b_acquisition"]
        + incident_cost
        - cost_if_hit * prob
        - shortfall
    )
    month = [
        math.log(max(keep * (1.0 + growth), 1e-12)),
        math.log(max(keep * (1.0 + min(growth, 0.0)), 1e-12)),
        mrr,
        steady - margin_c - margin_b,  # the steady-state costs
        vol_c + vol_b,
        margin_c - max(mrr_c - vol_c, 0.0),  # margins without a premium over the reference price
        margin_b - max(mrr_b - vol_b, 0.0),
        vol_c,
        vol_b,
    ]
    trail = [row[1:] + [month[i]] for i, row in enumerate(s["trail"])]
    months = min(t, 12)

    def growth_cap(vol: float, org: float, row: int) -> float:
        g = p["finance.terminal_growth"]
        caps = [(org / max(vol, 1e-9)) ** 12 - 1.0]
        if months >= 2:
            caps.append((vol / max(trail[row][12 - months], 1e-9)) ** (12 / (months - 1)) - 1.0)
        return max(min(min(caps), g), -0.5)

    g = growth_cap(vol_c + vol_b, org_c + org_b, 4)
    g_c = growth_cap(vol_c, org_c, 7) if vol_c > 0 else g
    g_b = growth_cap(vol_b, org_b, 8) if vol_b > 0 else g
    k = 12 / months

    def gordon(x: float, gr: float) -> float:
        return x * (1.0 + gr) / (r - gr)

    tv = (
        gordon(math.fsum(trail[5]) * k, g_c)
        + gordon(math.fsum(trail[6]) * k, g_b)
        + gordon(math.fsum(trail[3]) * k, p["finance.terminal_growth"])
    ) / disc
    tv_arr = p["finance.arr_multiple"] * arr / disc

    cum_c_spend = s["cum_c_spend"] + sp["c_acquisition"]
    cum_c_adopters = s["cum_c_adopters"] + adopters
    cum_c_paid = s["cum_c_paid_adopters"] + paid_adopters
    cum_b_spend = s["cum_b_spend"] + sp["b_acquisition"]
    cum_b_won = s["cum_b_won"] + won
    any_incident = 1.0 - (1.0 - s["any_incident"]) * (1.0 - hit)
    cac_b = cum_b_spend / cum_b_won if cum_b_won > 1e-9 else nan
    unit_margin = p["to_b.seats_per_new_account"] * (
        decision.b_seat_price - p["to_b.cost_per_seat"]
    )

    new_state = {
        "F_c": F_c, "U_c": U_c, "R_c": R_c, "F_b": F_b, "U_b": U_b, "R_b": R_b, "P": P, "K": K,
        "brand": brand, "free_c": free_c, "paid_c": paid_c, "lapsed_c": lapsed_c,
        "opp1": opp1, "opp2": opp2, "opp3": opp3, "reps_hired": reps_hired, "reps_ramped": reps_ramped,
        "accounts_b": accounts_b, "seats_b": seats_b, "cash": cash, "npv": npv, "last_c_price": price,
        "s_ref_c": ref_c, "s_ref_b": ref_b, "cum_c_spend": cum_c_spend, "cum_c_adopters": cum_c_adopters,
        "cum_c_paid_adopters": cum_c_paid, "cum_b_spend": cum_b_spend, "cum_b_won": cum_b_won,
        "any_incident": any_incident, "trail": trail,
    }  # fmt: skip
    kpis = {
        "users_c": users_c,
        "free_c": free_c,
        "paid_c": paid_c,
        "lapsed_c": lapsed_c,
        "paid_share_c": paid_c / max(users_c, 1.0),
        "new_users_c": adopters,
        "conversion_c": conversion,
        "churn_free_c": churn_free,
        "churn_paid_c": churn_paid,
        "value_c": value,
        "cac_c_blended": cum_c_spend / cum_c_adopters if cum_c_adopters > 1e-9 else nan,
        "cac_c_paid": cum_c_spend / cum_c_paid if cum_c_paid > 1e-9 else nan,
        "accounts_b": accounts_b,
        "seats_b": seats_b,
        "reps_b": reps_ramped,
        "capacity_b": capacity,
        "new_opportunities_b": new_opps,
        "pipeline_b": opp1 + opp2 + opp3,
        "new_accounts_b": won,
        "win_rate_b": win,
        "logo_churn_b": logo_churn,
        "nrr_b": math.exp(math.fsum(trail[0]) * 12 / months),
        "grr_b": math.exp(math.fsum(trail[1]) * 12 / months),
        "cac_b": cac_b,
        "cac_payback_b": cac_b / unit_margin if unit_margin > 0 else nan,
        "satisfaction_c": S_c,
        "satisfaction_b": S_b,
        "core": K,
        "posture": P,
        "incident_prob": prob,
        "incidents": hit,
        "p_incident_so_far": any_incident,
        "incident_cost": incident_cost,
        "mrr_c": mrr_c,
        "mrr_b": mrr_b,
        "mrr": mrr,
        "arr": arr,
        "costs": costs,
        "financing_cost": financing,
        "net_cash_flow": net,
        "cash": cash,
        "npv": npv,
        "terminal_value": tv,
        "npv_total": npv + tv,
        "terminal_value_arr": tv_arr,
        "npv_total_arr": npv + tv_arr,
        "p_cash_negative": 1.0 if cash < 0 else 0.0,
    }
    return new_state, kpis


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between order statistics (NumPy's default 'linear' method)."""
    xs = sorted(values)
    h = (len(xs) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


#: 0/1 indicators (mean only) and ratios undefined without acquisitions (over defined paths).
PROBABILITY_KPIS = ("incidents", "p_incident_so_far", "p_cash_negative")
OPTIONAL_KPIS = ("cac_c_blended", "cac_c_paid", "cac_b", "cac_payback_b")


def summary(values: list[float], kpi: str = "") -> dict[str, float]:
    """Mean, P10, P50, P90 of one KPI over paths (NaN quantiles for a probability; an
    optional ratio over the paths where it is defined)."""
    nan = float("nan")
    if kpi in PROBABILITY_KPIS:
        return {"mean": math.fsum(values) / len(values), "p10": nan, "p50": nan, "p90": nan}
    if kpi in OPTIONAL_KPIS:
        values = [v for v in values if not math.isnan(v)]
        if not values:
            return {"mean": nan, "p10": nan, "p50": nan, "p90": nan}
    return {
        "mean": math.fsum(values) / len(values),
        "p10": quantile(values, 0.1),
        "p50": quantile(values, 0.5),
        "p90": quantile(values, 0.9),
    }


def run_paths(
    params: list[dict[str, float]],
    states: list[dict[str, float]],
    period: int,
    decision: Any,
    shocks: list[dict[str, float]],
    sat: Any,
    inc: Any,
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """One month of every path, a plain loop over paths (what the bench times)."""
    new_states, kpis = [], []
    for i in range(len(states)):
        st, k = step(params[i], states[i], period, decision, shocks[i], sat, inc)
        new_states.append(st)
        kpis.append(k)
    return new_states, kpis


def split_paths(columns: dict[str, Any]) -> list[dict[str, float]]:
    """``{name: sequence[n_paths]}`` (tensors or lists) -> one ``{name: float}`` per path."""
    names = list(columns)
    cols = [
        columns[n].tolist() if hasattr(columns[n], "tolist") else list(columns[n]) for n in names
    ]
    return [dict(zip(names, row, strict=True)) for row in zip(*cols, strict=True)]
