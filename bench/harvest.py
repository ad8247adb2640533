"""Harvest before the horizon and horizon consistency of the terminal value (default scenario).

Prints (1) the mean NPV, terminal value and ``npv_total`` of the default plan (fixed policy)
at horizons of 12 to 60 months, and (2) the mean ``npv_total`` at month 36 of the default
plan with a different allocation in its last 4 quarters: the maintenance lines (product, ux,
service, privacy) cut to ~0, the seat price doubled, both prices doubled, the budget cut to
1%, and the harvest (budget 1% and both prices doubled). Common random numbers, float64.
Run: ``python bench/harvest.py [--paths N]``.
"""

from __future__ import annotations

import argparse

import torch

from stratsim.engine.decisions import decision_from_allocation
from stratsim.engine.scenario import Scenario
from stratsim.engine.simulation import Simulation

REF = decision_from_allocation(Scenario().allocation)
TINY = 1e-3


def maintenance_cut(d):
    """``d`` with product, ux, service and privacy spend ~0, acquisition spend unchanged."""
    rest = d.budget * (1.0 - d.privacy_share)
    acq_c = rest * d.c_share * d.c_split["acquisition"]
    acq_b = rest * (1.0 - d.c_share) * d.b_split["acquisition"]
    split = {"product": TINY, "ux": TINY, "service": TINY, "acquisition": 1.0 - 3 * TINY}
    budget = (acq_c + acq_b) / (1.0 - 3 * TINY) / (1.0 - TINY)
    c_share = acq_c / (acq_c + acq_b)
    return d.with_changes(
        budget=budget, privacy_share=TINY, c_share=c_share, c_split=split, b_split=split
    ).validate()


def plans() -> dict:
    double = {"c_price": 2 * REF.c_price, "b_seat_price": 2 * REF.b_seat_price}
    return {
        "keep": REF,
        "maintenance cut": maintenance_cut(REF),
        "seat price x2": REF.with_changes(b_seat_price=double["b_seat_price"]).validate(),
        "prices x2": REF.with_changes(**double).validate(),
        "budget 1%": REF.with_changes(budget=0.01 * REF.budget).validate(),
        "harvest (budget 1%, prices x2)": REF.with_changes(
            budget=0.01 * REF.budget, **double
        ).validate(),
    }


def simulation(paths: int, months: int) -> Simulation:
    d = Scenario().to_dict()
    d["simulation"]["horizon_months"] = max(months, d["simulation"]["horizon_months"])
    from stratsim.engine.scenario import scenario_from_dict

    return Simulation(
        scenario_from_dict(d), seed=0, n_paths=paths, dtype="float64", device="cpu", policy="manual"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=500)
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(f"default plan, {a.paths} paths (currency millions)")
    print(f"{'months':>6} {'npv':>10} {'terminal':>10} {'npv_total':>10}")
    sim = simulation(a.paths, 60)
    for t in range(1, 61):
        s = sim.step(REF)
        if t % 12 == 0:
            print(
                f"{t:>6} "
                + " ".join(
                    f"{s[k]['mean'] / 1e6:>10.2f}" for k in ("npv", "terminal_value", "npv_total")
                )
            )
    print(
        f"\nlast 4 quarters of 36 months changed, {a.paths} paths: mean npv_total (currency millions)"
    )
    for name, late in plans().items():
        sim = simulation(a.paths, 36)
        for t in range(36):
            s = sim.step(late if t >= 24 else REF)
        print(f"{name:>32} {s['npv_total']['mean'] / 1e6:>10.2f}")


if __name__ == "__main__":
    main()
