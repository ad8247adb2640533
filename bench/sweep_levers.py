"""One-lever sweeps on the default scenario (the issue-8 strategist's check).

Each grid point is a separate 36-month run with the same seed (common random numbers:
the same parameter draws and shocks), so the differences between points are the lever's
effect alone. Prints, per lever, the mean NPV without and with the terminal values.
Run: ``python bench/sweep_levers.py [--paths N] [--months M]``.
"""

from __future__ import annotations

import argparse

import torch

from stratsim.engine.decisions import decision_from_allocation
from stratsim.engine.scenario import Scenario
from stratsim.engine.simulation import Simulation

REF = decision_from_allocation(Scenario().allocation)
GRIDS = {
    "b_seat_price": [
        REF.b_seat_price * f for f in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)
    ],
    "c_price": [REF.c_price * f for f in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)],
    "c_share": [i / 10 for i in range(11)],
    "budget": [REF.budget * f for f in (0.0, 0.5, 1.0, 2.0)],
    "privacy_share": [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5],
}


def run_point(lever: str, value: float, paths: int, months: int, seed: int = 0) -> dict[str, float]:
    sim = Simulation(
        Scenario(), seed=seed, n_paths=paths, device="cpu", dtype="float64", policy="manual"
    )
    d = REF.with_changes(**{lever: value}).validate()
    for _ in range(months):
        s = sim.step(d)
    return {k: s[k]["mean"] for k in s}


def sweep(lever: str, paths: int, months: int, kpi: str = "npv_total") -> list[tuple[float, float]]:
    return [(v, run_point(lever, v, paths, months)[kpi]) for v in GRIDS[lever]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--levers", default=",".join(GRIDS))
    a = ap.parse_args()
    torch.set_num_threads(1)
    cols = (
        "npv",
        "npv_total",
        "npv_total_arr",
        "paid_share_c",
        "accounts_b",
        "cac_payback_b",
        "p_cash_negative",
    )
    for lever in a.levers.split(","):
        print(f"\n{lever} ({a.paths} paths, {a.months} months; NPV in currency millions)")
        print(f"{'value':>12} " + " ".join(f"{c:>14}" for c in cols))
        for v in GRIDS[lever]:
            r = run_point(lever, v, a.paths, a.months)
            vals = [r[c] / 1e6 if c.startswith("npv") else r[c] for c in cols]
            print(f"{v:>12.4g} " + " ".join(f"{x:>14.4g}" for x in vals))


if __name__ == "__main__":
    main()
