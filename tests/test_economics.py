"""No free lunch: every lever of the default scenario has an interior optimum.

A strategist's check (issue 8): at the default scenario, 36 months, NPV including the
terminal value (``npv_total``, Gordon growth), sweep one lever at a time from the
default allocation. Every grid point is a separate run with the same seed, so all points
share their parameter draws and shocks (common random numbers): the comparisons are
exact for the sample, not noisy estimates.
"""

from __future__ import annotations

from functools import cache

import pytest

from stratsim.engine.decisions import decision_from_allocation
from stratsim.engine.scenario import Scenario
from stratsim.engine.simulation import Simulation

PATHS = 500
MONTHS = 36
REF = decision_from_allocation(Scenario().allocation)


@cache
def npv_total(lever: str, value: float) -> float:
    sim = Simulation(
        Scenario(), seed=0, n_paths=PATHS, dtype="float64", device="cpu", policy="manual"
    )
    d = REF.with_changes(**{lever: value}).validate()
    for _ in range(MONTHS):
        summary = sim.step(d)
    return summary["npv_total"]["mean"]


def best(lever: str, grid: list[float]) -> float:
    values = {v: npv_total(lever, v) for v in grid}
    return max(values, key=values.get)


PRICE_FACTORS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)


@pytest.mark.parametrize("lever", ["b_seat_price", "c_price"])
def test_best_price_is_strictly_inside_a_quarter_to_twenty_times_the_reference(lever):
    ref = getattr(REF, lever)
    grid = [ref * f for f in PRICE_FACTORS]
    top = best(lever, grid)
    assert ref * 0.25 < top < ref * 20, [(v, npv_total(lever, v)) for v in grid]
    # Raising the price twentyfold is not a free lunch.
    assert npv_total(lever, ref * 20) < npv_total(lever, ref)


def test_best_consumer_share_is_neither_all_to_c_nor_all_to_b():
    grid = [i / 10 for i in range(11)]
    top = best("c_share", grid)
    assert top not in (0.0, 1.0), [(v, npv_total("c_share", v)) for v in grid]


def test_spending_nothing_is_not_the_best_budget():
    grid = [REF.budget * f for f in (0.0, 0.5, 1.0, 2.0)]
    assert best("budget", grid) != 0.0, [(v, npv_total("budget", v)) for v in grid]


def test_best_privacy_share_is_interior():
    grid = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0]
    top = best("privacy_share", grid)
    assert top not in (0.0, 1.0), [(v, npv_total("privacy_share", v)) for v in grid]


def test_budget_has_an_interior_optimum_because_a_shortfall_is_financed():
    """Without interest on negative cash, spending more always paid (free credit): the
    best budget was the largest of the grid. With it, 3x the default is worse than 2x."""
    grid = [REF.budget * f for f in (0.0, 1.0, 2.0, 3.0)]
    b = best("budget", grid)
    assert 0.0 < b < grid[-1], [(v, npv_total("budget", v)) for v in grid]


def _npv_total_of(plan, scenario=None, months=MONTHS) -> float:
    sim = Simulation(
        scenario or Scenario(),
        seed=0,
        n_paths=PATHS,
        dtype="float64",
        device="cpu",
        policy="manual",
    )
    for t in range(months):
        summary = sim.step(plan(t))
    return summary["npv_total"]["mean"]


def test_terminal_growth_follows_a_shrinking_business():
    """Unit check of the cap: a growing volume keeps the scenario's rate, a shrinking one
    takes its own annualized trend, floored at -50%/year."""
    import torch

    from stratsim.engine.market import terminal_growth

    now = torch.tensor([120.0, 90.0, 10.0], dtype=torch.float64)
    old = torch.tensor([100.0, 100.0, 100.0], dtype=torch.float64)
    g = terminal_growth(0.03, now, old, 12)
    assert g[0].item() == pytest.approx(0.03)
    assert g[1].item() == pytest.approx(0.9 ** (12 / 11) - 1.0)
    assert g[2].item() == pytest.approx(-0.5)
    assert terminal_growth(0.03, now, old, 1) == 0.03


def test_a_better_starting_product_is_worth_more():
    """Satisfaction is judged against the market's typical product, not against the
    product's own start: a better starting product (every stock 7.5 instead of 5) has better
    rates and a higher NPV (it used to be lower: a high start could only decay)."""
    base = Scenario().to_dict()
    better = Scenario().to_dict()
    better["capability"]["init_c"] = better["capability"]["init_b"] = 7.5
    from stratsim.engine.scenario import scenario_from_dict

    assert _npv_total_of(lambda t: REF, scenario_from_dict(better)) > _npv_total_of(
        lambda t: REF, scenario_from_dict(base)
    )
