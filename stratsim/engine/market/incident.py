"""The month's privacy incident: its probability, draw, cost (GDPR Art. 83(5) cap) and
the churn and brand penalty it causes (``docs/MODEL.md`` section 5)."""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..models import ResponseModel, label_period_months
from ..params import Params
from .demand import Consumer, Enterprise
from .smooth import _max
from .state import Shocks, State, Tensor


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


def incidents(
    p: Params,
    state: State,
    P: Tensor,
    con: Consumer,
    ent: Enterprise,
    shocks: Shocks,
    model: ResponseModel,
    relaxed: bool,
) -> Incidents:
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
    cost_if_hit = (
        pr.response_cost
        + pr.cost_per_record * pr.exposed_fraction * records
        + pr.fine_fraction_of_cap * cap
    )
    cost = cost_if_hit * hit
    lapsed = con.lapsed_c + lost_c * (con.free_c + con.paid_c)
    return Incidents(
        prob,
        hit,
        con.free_c * keep_c,
        con.paid_c * keep_c,
        lapsed,
        ent.accounts_b * keep_b,
        ent.seats_b * keep_b,
        brand,
        cost,
        keep_b,
        cost_if_hit * prob,
    )
