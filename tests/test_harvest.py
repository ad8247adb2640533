"""No harvest before the horizon: the Gordon terminal value charges maintenance and the
installed base's own decline (``docs/MODEL.md`` section 6).

Before, the terminal value capitalized the last 12 months' cash flow: cutting the product,
service and privacy spend or doubling the seat price in the last year looked permanent
(+11M and +12M of NPV + terminal value over the default plan at 36 months). Every plan here
is a separate run with the same seed (common random numbers), float64.
"""

from __future__ import annotations

from functools import cache

import pytest
import torch

from stratsim.engine import market
from stratsim.engine.decisions import decision_from_allocation
from stratsim.engine.params import draw_params
from stratsim.engine.scenario import Scenario
from stratsim.engine.simulation import Simulation

PATHS = 300
MONTHS = 36
LAST_YEAR = MONTHS - 12  # the last 4 quarters
REF = decision_from_allocation(Scenario().allocation)
TINY = 1e-3


def maintenance_cut(d):
    """``d`` with every non-acquisition line (product, ux, service, privacy) cut to ~0 and
    the acquisition spend of both segments unchanged."""
    rest = d.budget * (1.0 - d.privacy_share)
    acq_c = rest * d.c_share * d.c_split["acquisition"]
    acq_b = rest * (1.0 - d.c_share) * d.b_split["acquisition"]
    split = {"product": TINY, "ux": TINY, "service": TINY, "acquisition": 1.0 - 3 * TINY}
    budget = (acq_c + acq_b) / (1.0 - 3 * TINY) / (1.0 - TINY)
    return d.with_changes(budget=budget, privacy_share=TINY, c_share=acq_c / (acq_c + acq_b), c_split=split, b_split=split).validate()


@cache
def npv_total(plan: str) -> float:
    """Mean ``npv_total`` at month 36 of the default plan with ``plan`` in the last year."""
    late = {
        "keep": REF,
        "maintenance cut": maintenance_cut(REF),
        "seat price x2": REF.with_changes(b_seat_price=2 * REF.b_seat_price).validate(),
        "budget ~0": REF.with_changes(budget=0.01 * REF.budget).validate(),
    }[plan]
    sim = Simulation(Scenario(), seed=0, n_paths=PATHS, dtype="float64", device="cpu", policy="manual")
    for t in range(MONTHS):
        summary = sim.step(late if t >= LAST_YEAR else REF)
    return summary["npv_total"]["mean"]


def test_cutting_maintenance_in_the_last_year_does_not_pay():
    """Product, service and privacy spend cut to ~0 for the last 4 quarters (acquisition
    kept) is worth less than keeping it: the terminal value charges the spend that holds
    each stock (it gained 11M before)."""
    assert npv_total("maintenance cut") < npv_total("keep")


def test_doubling_the_seat_price_in_the_last_year_does_not_pay():
    """The seat price's long-run optimum is near its reference (``tests/test_economics``);
    doubling it for the last 4 quarters raised the last year's margin, which was capitalized
    as a perpetuity growing at 3% while the seat base was already shrinking at its new churn
    (it gained 12M before). The To B margin now grows at the installed base's own rate."""
    assert npv_total("seat price x2") < npv_total("keep")


def test_cutting_the_whole_budget_in_the_last_year_gains_at_most_a_little():
    """Cutting everything (acquisition included) to 1% in the last 4 quarters gained 12.7M
    over the default plan; what remains (about 2.5M, within the range of the one-lever
    sweeps' differences) is the value of the last year's acquisition, which the terminal
    value does not credit: deals still in the pipeline and free users not yet converted at
    the horizon (``docs/MODEL.md`` section 10)."""
    assert npv_total("budget ~0") - npv_total("keep") < 4e6


# ----------------------------------------------------------- the maintenance spend


def _params(n: int = 64):
    return draw_params(Scenario(), n, torch.Generator().manual_seed(3), torch.float64, torch.device("cpu"))


@pytest.mark.parametrize("level", [0.5, 3.0, 5.0, 7.0, 9.0])
def test_holding_spend_at_the_maintenance_spend_keeps_a_stock_constant(level):
    """The inverse of the accumulation law, checked by simulating it: a stock fed its
    maintenance spend every month does not move (12 months, to 1e-9)."""
    p = _params().capability
    x = torch.full((4,), level, dtype=torch.float64)
    start = x.clone()
    for _ in range(12):
        x = market._grow(x, market.maintenance_spend(x, p), p)
    torch.testing.assert_close(x, start, rtol=0, atol=1e-9)
    # More spend raises the stock, less lowers it.
    m = market.maintenance_spend(start, p)
    assert (market._grow(start, 1.1 * m, p) > start).all() and (market._grow(start, 0.9 * m, p) < start).all()


def test_maintenance_spend_is_finite_at_the_top_of_the_scale_and_zero_without_effect():
    p = _params().capability
    top = market.maintenance_spend(torch.tensor([10.0, 9.999], dtype=torch.float32), p)
    assert torch.isfinite(top).all() and (top > 1e9).all()
    from dataclasses import replace

    assert (market.maintenance_spend(torch.tensor([5.0]), replace(p, eta=0.0)) == 0).all()


def test_a_run_that_maintains_its_stocks_is_not_charged():
    """The default plan spends at least the maintenance of every stock (its stocks rise
    towards their steady state), so its terminal value is what it was: the charge only
    applies where a stock is let decay."""
    sim = Simulation(Scenario(), seed=0, n_paths=50, dtype="float64", device="cpu", policy="manual")
    for _ in range(MONTHS):
        sim.step(REF)
    # The opening stocks of the last month, against that month's spend.
    stocks = market._stocks(sim.state)
    spend = market._stock_spend(sim.params, sim.decision_tensors(REF).spend())
    assert (market.maintenance_spend(stocks, sim.params.capability) <= spend).all()
