"""``stratsim run``: a headless Monte-Carlo run with a progress bar and a KPI table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import nonneg_int, positive_int

SHOWN_KPIS = (
    "users_c", "paid_c", "paid_share_c", "accounts_b", "seats_b", "mrr_c", "mrr_b", "satisfaction_c",
    "satisfaction_b", "nrr_b", "incident_prob", "incidents", "cash", "npv", "p_cash_negative",
)  # fmt: skip


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run the simulation headless and print the final period's KPIs",
        description="Run the Monte-Carlo simulation without the TUI. Prints a table of the final "
        "period's KPIs (mean, P10, P50, P90 over paths); --csv writes every period.",
    )
    p.add_argument("--scenario", type=Path, help="scenario TOML (default: the shipped default scenario)")
    p.add_argument("--steps", type=positive_int, help="months to simulate (default: the scenario's horizon)")
    p.add_argument("--paths", type=positive_int, default=1000, help="Monte-Carlo sample paths (default 1000)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed (default 0)")
    p.add_argument("--policy", choices=("fixed", "feedback"), default="fixed", help="allocation policy (default fixed)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto", help="torch device (default auto: cuda, mps, cpu)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="tensor dtype (default float32)")
    p.add_argument("--models", type=Path, help="folder of trained models (from `stratsim train --out`)")
    p.add_argument("--csv", type=Path, help="write the tidy KPI table (period,kpi,mean,p10,p50,p90) here")
    p.set_defaults(func=run)


def build_simulation(args: argparse.Namespace):
    """The Simulation described by run's flags (scenario, seed, paths, policy, device, dtype, models)."""
    from ..engine.scenario import load_scenario
    from ..engine.simulation import Simulation

    scenario = load_scenario(args.scenario)
    models = {}
    if args.models is not None:
        from ..engine.trained import load_models

        models = load_models(args.models)
    return Simulation(
        scenario,
        seed=args.seed,
        n_paths=args.paths,
        dtype=args.dtype,
        device=args.device,
        policy=args.policy,
        satisfaction_model=models.get("satisfaction"),
        incident_model=models.get("privacy"),
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from ._common import check_writable, kpi_table

    if args.csv is not None:
        check_writable(args.csv)
    sim = build_simulation(args)
    steps = args.steps if args.steps is not None else sim.horizon
    err = Console(stderr=True)
    with Progress(
        TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    ) as progress:  # fmt: skip
        task = progress.add_task("run", total=steps)
        sim.run(steps, on_step=lambda period, summary: progress.advance(task))
    Console().print(kpi_table(sim, SHOWN_KPIS))
    if args.csv is not None:
        sim.kpi_frame().to_csv(args.csv, index=False)
        print(f"wrote {args.csv} ({steps} periods x {len(sim.history[-1])} KPIs)", file=sys.stderr)
    return 0
