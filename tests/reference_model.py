"""Scalar, per-path reference implementation of the market model (the test oracle).

The same equations as :mod:`stratsim.engine.market` (its module docstring and
``shared/DESIGN.md`` §1), written plainly with Python floats and :mod:`math`, one path
at a time, without calling the engine's step. The vectorized engine must match it
(``tests/test_reference.py``); ``bench/bench_engine.py`` times it against the engine.

Only the shipped model forms are implemented: the linear satisfaction model
``S = alpha*F + beta*U + gamma*R + intercept`` (clipped to 0..10) and the logistic
incident model ``p = sigmoid(b0 + b_rec*records_log10 + b_pos*P + b_ent*share + b_tp*tp)``,
read from the coefficients of :class:`~stratsim.engine.models.LinearSatisfaction` and
:class:`~stratsim.engine.models.LogisticIncident` instances.

Inputs per path: ``params`` a ``{"section.name": float}`` dict, ``state`` a
``{name: float}`` dict (the :class:`~stratsim.engine.market.State` fields), ``shocks``
``{"z_sat_c", "z_sat_b", "z_adopt", "z_leads", "u_incident"}`` floats.
"""

from __future__ import annotations

import math
from typing import Any

STATE_KEYS = (
    "F_c", "U_c", "R_c", "F_b", "U_b", "R_b", "P", "brand", "free_c", "paid_c",
    "pipeline_b", "accounts_b", "seats_b", "cash", "npv",
)  # fmt: skip
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


def initial_state(p: dict[str, float]) -> dict[str, float]:
    """Period-0 state of one path."""
    return {
        "F_c": p["capability.init_c"],
        "U_c": p["capability.init_c"],
        "R_c": p["capability.init_c"],
        "F_b": p["capability.init_b"],
        "U_b": p["capability.init_b"],
        "R_b": p["capability.init_b"],
        "P": p["capability.init_posture"],
        "brand": 0.0,
        "free_c": min(p["to_c.initial_free"], p["to_c.market_potential"]),
        "paid_c": min(p["to_c.initial_paid"], max(p["to_c.market_potential"] - p["to_c.initial_free"], 0.0)),
        "pipeline_b": p["to_b.initial_pipeline"],
        "accounts_b": min(p["to_b.initial_accounts"], p["to_b.market_potential"]),
        "seats_b": p["to_b.initial_seats"],
        "cash": p["finance.initial_cash"],
        "npv": 0.0,
    }


def grow(x: float, spend: float, p: dict[str, float]) -> float:
    """Capability stock: X + eta*ln(1 + spend/scale)*(1 - X/10) - delta*X, in 0..10."""
    gain = p["capability.eta"] * math.log(1.0 + spend / p["capability.spend_scale"])
    return clamp(x + gain * (1.0 - x / 10.0) - p["capability.delta"] * x, 0.0, 10.0)


def satisfaction(sat: Any, F: float, U: float, R: float) -> float:
    return clamp(sat.alpha * F + sat.beta * U + sat.gamma * R + sat.intercept, 0.0, 10.0)


def incident_probability(inc: Any, records_log10: float, posture: float, ent_share: float, third_party: float) -> float:
    z = inc.intercept + inc.b_records * records_log10 + inc.b_posture * posture + inc.b_enterprise * ent_share + inc.b_third_party * third_party
    return sigmoid(z)


def step(
    p: dict[str, float],
    s: dict[str, float],
    period: int,
    decision: Any,
    shocks: dict[str, float],
    sat: Any,
    inc: Any,
) -> tuple[dict[str, float], dict[str, float]]:
    """One month of one path. ``period`` is the number of months already simulated.

    Returns ``(new_state, kpis)`` with every KPI of :data:`stratsim.engine.kpi.KPIS`.
    """
    sp = spend_items(decision)
    scale = p["capability.spend_scale"]

    F_c = grow(s["F_c"], sp["c_product"], p)
    U_c = grow(s["U_c"], sp["c_ux"], p)
    R_c = grow(s["R_c"], sp["c_service"], p)
    F_b = grow(s["F_b"], sp["b_product"], p)
    U_b = grow(s["U_b"], sp["b_ux"], p)
    R_b = grow(s["R_b"], sp["b_service"], p)
    P = grow(s["P"], sp["privacy"], p)

    noise = p["satisfaction.noise_sd"]
    S_c = clamp(satisfaction(sat, F_c, U_c, R_c) + noise * shocks["z_sat_c"], 0.0, 10.0)
    S_b = clamp(satisfaction(sat, F_b, U_b, R_b) + noise * shocks["z_sat_b"], 0.0, 10.0)

    # To C: Bass diffusion with acquisition spend and brand; freemium conversion; churn.
    brand_mult = math.exp(-s["brand"])
    M = p["to_c.market_potential"]
    N = s["free_c"] + s["paid_c"]
    ref_c = p["to_c.satisfaction_ref"]
    p_eff = (p["to_c.bass_p"] + p["to_c.acquisition_effect"] * math.log(1.0 + sp["c_acquisition"] / scale)) * brand_mult
    q_eff = p["to_c.bass_q"] * S_c / ref_c
    a_sd = p["to_c.adoption_noise_sd"]
    remaining = max(M - N, 0.0)
    adopters = (p_eff + q_eff * N / M) * remaining * math.exp(a_sd * shocks["z_adopt"] - 0.5 * a_sd**2)
    adopters = max(min(adopters, remaining), 0.0)
    price = max(decision.c_price, 1e-9)
    logit = (
        p["to_c.conversion_logit0"]
        + p["to_c.conversion_sat_slope"] * (S_c - ref_c)
        - p["to_c.price_elasticity"] * math.log(price / p["to_c.reference_price"])
    )
    conversion = p["to_c.conversion_max"] * sigmoid(logit)
    churn_mult = math.exp(-p["to_c.churn_sat_slope"] * (S_c - ref_c))
    churn_free = min(p["to_c.churn_free"] * churn_mult, 1.0)
    churn_paid = min(p["to_c.churn_paid"] * churn_mult, 1.0)
    converted = conversion * s["free_c"]
    free_c = max(s["free_c"] - converted - churn_free * s["free_c"] + adopters, 0.0)
    paid_c = max(s["paid_c"] + converted - churn_paid * s["paid_c"], 0.0)

    # To B: leads into the pipeline, 1/cycle resolves, won with the security-review gate.
    Mb = p["to_b.market_potential"]
    l_sd = p["to_b.leads_noise_sd"]
    open_share = clamp(1.0 - s["accounts_b"] / Mb, 0.0, 1.0)
    leads = sp["b_acquisition"] / p["to_b.cost_per_lead"] * open_share * brand_mult * math.exp(l_sd * shocks["z_leads"] - 0.5 * l_sd**2)
    resolved = s["pipeline_b"] / p["to_b.sales_cycle_months"]
    review = sigmoid(p["to_b.security_review_steepness"] * (P - p["to_b.security_review_threshold"]))
    ref_b = p["to_b.satisfaction_ref"]
    win = clamp(p["to_b.win_rate"] * review * min(S_b / ref_b, 1.5) * brand_mult, 0.0, 1.0)
    won = min(resolved * win, max(Mb - s["accounts_b"], 0.0))
    pipeline_b = s["pipeline_b"] - resolved + leads
    logo_churn = min(p["to_b.logo_churn"] * math.exp(-p["to_b.churn_sat_slope"] * (S_b - ref_b)), 1.0)
    expansion = p["to_b.seat_expansion_max"] * math.tanh((S_b - p["to_b.expansion_sat_mid"]) / 2.0)
    accounts_b = s["accounts_b"] * (1.0 - logo_churn) + won
    seats_b = s["seats_b"] * (1.0 - logo_churn) * (1.0 + expansion) + won * p["to_b.seats_per_new_account"]

    # Privacy incident.
    users = free_c + paid_c
    b_records = seats_b * p["privacy.records_per_seat"]
    records = users + b_records
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
    hit = 1.0 if shocks["u_incident"] < prob else 0.0
    free_c *= 1.0 - p["privacy.churn_shock_c"] * hit
    paid_c *= 1.0 - p["privacy.churn_shock_c"] * hit
    accounts_b *= 1.0 - p["privacy.churn_shock_b"] * hit
    seats_b *= 1.0 - p["privacy.churn_shock_b"] * hit
    brand = s["brand"] * p["privacy.brand_decay"] + p["privacy.brand_hit"] * hit

    # Money.
    mrr_c = paid_c * decision.c_price
    mrr_b = seats_b * decision.b_seat_price
    mrr = mrr_c + mrr_b
    arr = 12.0 * mrr
    remediation = p["privacy.cost_per_record"] * p["privacy.exposed_fraction"] * records * hit
    fine = p["privacy.fine_fraction_of_cap"] * p["privacy.fine_cap_share"] * arr * hit
    incident_cost = remediation + fine
    users_c = free_c + paid_c
    costs = decision.budget + p["finance.fixed_costs"] + p["to_c.compute_cost_per_user"] * users_c + p["to_b.cost_per_seat"] * seats_b + incident_cost
    net = mrr - costs
    cash = s["cash"] + net
    r_m = (1.0 + p["finance.discount_rate_annual"]) ** (1.0 / 12.0) - 1.0
    npv = s["npv"] + net / (1.0 + r_m) ** (period + 1)

    new_state = {
        "F_c": F_c, "U_c": U_c, "R_c": R_c, "F_b": F_b, "U_b": U_b, "R_b": R_b, "P": P,
        "brand": brand, "free_c": free_c, "paid_c": paid_c, "pipeline_b": pipeline_b,
        "accounts_b": accounts_b, "seats_b": seats_b, "cash": cash, "npv": npv,
    }  # fmt: skip
    kpis = {
        "users_c": users_c,
        "free_c": free_c,
        "paid_c": paid_c,
        "paid_share_c": paid_c / max(users_c, 1.0),
        "new_users_c": adopters,
        "conversion_c": conversion,
        "churn_free_c": churn_free,
        "churn_paid_c": churn_paid,
        "cac_c": sp["c_acquisition"] / max(adopters, 1.0),
        "accounts_b": accounts_b,
        "seats_b": seats_b,
        "pipeline_b": pipeline_b,
        "new_accounts_b": won,
        "win_rate_b": win,
        "logo_churn_b": logo_churn,
        "nrr_b": ((1.0 - logo_churn) * (1.0 + expansion)) ** 12,
        "cac_b": sp["b_acquisition"] / max(won, 1e-3),
        "satisfaction_c": S_c,
        "satisfaction_b": S_b,
        "posture": P,
        "incident_prob": prob,
        "incidents": hit,
        "incident_cost": incident_cost,
        "mrr_c": mrr_c,
        "mrr_b": mrr_b,
        "mrr": mrr,
        "arr": arr,
        "costs": costs,
        "net_cash_flow": net,
        "cash": cash,
        "npv": npv,
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


def summary(values: list[float]) -> dict[str, float]:
    """Mean, P10, P50, P90 of one KPI over paths."""
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
    cols = [columns[n].tolist() if hasattr(columns[n], "tolist") else list(columns[n]) for n in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*cols, strict=True)]
