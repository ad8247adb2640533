"""``stratsim optimize``: the allocation that maximizes a risk-aware NPV, re-evaluated on
fresh paths against the current one; ``--frontier K`` traces mean NPV against CVaR.

The optimizer lives in :mod:`stratsim.engine.analysis.optimize` (methods, bounds,
objective, constraints and the evaluation are documented there). Exit status: 0 done; 1
a constraint could not be met (reported, the least-violating allocation shown); 2 bad
input; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._common import COMPILE_HELP, nonneg_int, output_file, positive_int

DEFAULT_PATHS = 1000


def register(sub) -> None:
    p = sub.add_parser(
        "optimize",
        help="find the allocation that maximizes (risk-aware) NPV; compare it with the current one on fresh paths",
        description="Optimize the allocation levers over the horizon: gradient ascent through the differentiable "
        "simulation (default), CMA-ES or random search, on common random numbers; then re-simulate the "
        "recommendation and the current allocation exactly on fresh paths (seed+1) and report each KPI's "
        "difference with a 95% paired bootstrap interval. Exit 1 when a constraint cannot be met.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--scenario",
        type=Path,
        help="scenario TOML (default: the shipped default scenario); optimizes from period 0",
    )
    src.add_argument(
        "--session",
        type=Path,
        metavar="SESSION.toml",
        help="optimize from a saved session's current period and state",
    )
    p.add_argument(
        "--horizon",
        type=positive_int,
        help="months optimized (default: the scenario's horizon; with --session the months left to it)",
    )
    p.add_argument(
        "--paths",
        type=positive_int,
        help=f"training paths (default {DEFAULT_PATHS}; with --session at most the session's)",
    )
    p.add_argument(
        "--eval-paths", type=positive_int, help="fresh evaluation paths (default: --paths)"
    )
    p.add_argument(
        "--seed",
        type=nonneg_int,
        help="seed of the training paths (default 0, or the session's); evaluation uses seed+1",
    )
    p.add_argument(
        "--levers",
        default="all",
        help="comma-separated levers: budget, privacy_share, c_share, c_split, b_split, c_price, b_seat_price (default all)",
    )
    p.add_argument(
        "--bound",
        action="append",
        default=[],
        metavar="LEVER=LO:HI",
        help="box of a share or money lever (default: shares 0..1, budget 0..3x current, prices x1/3..3x current); repeatable",
    )
    p.add_argument(
        "--schedule",
        choices=("stationary", "quarterly"),
        default="stationary",
        help="one allocation for the whole horizon, or one per quarter",
    )
    p.add_argument(
        "--objective",
        choices=("npv_total",),
        default="npv_total",
        help="npv_total: NPV at the horizon including the discounted terminal value (the KPI npv_total; default)",
    )
    p.add_argument(
        "--risk",
        default="none",
        metavar="cvar:ALPHA:LAMBDA",
        help="objective (1-LAMBDA)*mean + LAMBDA*CVaR_ALPHA of NPV (default none: the mean)",
    )
    p.add_argument(
        "--constraint",
        action="append",
        default=[],
        metavar="METRIC<=LIMIT",
        help="e.g. p_cash_negative_ever<=0.05 (cash below 0 in any month; the KPI p_cash_negative, cash below 0 at the horizon only, is refused) or KPI>=X (its mean at the horizon); repeatable",
    )
    p.add_argument(
        "--method",
        choices=("gradient", "cmaes", "random"),
        default="gradient",
        help="optimizer (default gradient)",
    )
    p.add_argument(
        "--budget-evals",
        type=positive_int,
        help="objective evaluations of one candidate on --paths paths (default: gradient 60 iterations, cmaes/random 300 candidates)",
    )
    p.add_argument(
        "--frontier",
        type=positive_int,
        metavar="K",
        help="efficient frontier: K risk weights from risk-neutral to pure CVaR (CVaR at 10%%; cannot be combined with --risk); table and chart",
    )
    p.add_argument(
        "--models", type=Path, help="folder of trained models (from `stratsim train --out`)"
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="tensor dtype (default float32)",
    )
    p.add_argument(
        "--device",
        choices=("cpu", "cuda", "mps", "auto"),
        default="cpu",
        help="torch device (default cpu)",
    )
    p.add_argument(
        "--threads",
        type=nonneg_int,
        default=0,
        help="torch CPU threads (default 0: one thread below 100,000 paths)",
    )
    p.add_argument("--compile", action="store_true", help=COMPILE_HELP)
    p.add_argument(
        "--json", action="store_true", help="print the result as JSON on stdout instead of tables"
    )
    p.add_argument(
        "--out",
        type=output_file,
        help="write the recommendation: a scenario TOML (from --scenario; one allocation, so not with --schedule quarterly) or a session (from --session, with the run and the quarterly plan recorded)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --out file that is not a stratsim file of that kind (or a symbolic link: the link is replaced, never the file it points to)",
    )
    p.add_argument(
        "--allow-external-models",
        action="store_true",
        help="with --session: accept model files outside the session's folder",
    )
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace, seed: int, paths: int):
    from ..engine.analysis import optimize as O
    from ..engine.analysis import recommend as R

    return R.OptimizeSettings(
        levers=O.parse_levers(args.levers), schedule=args.schedule, objective=args.objective,
        risk=O.parse_risk(args.risk), constraints=tuple(O.parse_constraint(c) for c in args.constraint),
        method=args.method, budget_evals=args.budget_evals, paths=paths, eval_paths=args.eval_paths,
        seed=seed, bounds=dict(O.parse_bound(b) for b in args.bound),
    )  # fmt: skip


def _check_args(args: argparse.Namespace) -> None:
    """Refuse contradictory or clobbering flags and parse every setting before any heavy
    work (bad input fails fast)."""
    from ..engine.errors import StratsimError
    from ..engine.scenario import SCENARIO_FILE
    from ..engine.session import SESSION_FILE
    from ._common import check_outputs, refuse_clobber

    refuse_clobber({"--out": args.out}, {"--scenario": args.scenario, "--session": args.session})
    if args.out is not None and args.session is None and args.schedule == "quarterly":
        raise StratsimError(
            f"--out {args.out}: --schedule quarterly gives one allocation per quarter but a scenario holds one "
            "allocation; use --session SESSION.toml --out to keep the quarterly plan"
        )
    check_outputs(
        [("--out", args.out, SESSION_FILE if args.session is not None else SCENARIO_FILE)],
        args.force,
    )
    if args.frontier is not None and args.frontier < 2:
        raise StratsimError(f"--frontier {args.frontier}: expected at least 2 points")
    if args.frontier is not None and args.risk != "none":
        raise StratsimError(
            f"--frontier {args.frontier} with --risk {args.risk}: the frontier sets the risk weight itself (0..1 at CVaR 10%); expected one of them"
        )
    _settings(args, 0, 1)
    if args.session is not None and args.models is not None:
        raise StratsimError(
            "--models cannot be combined with --session: a session keeps its own models"
        )


def _starting_point(args: argparse.Namespace):
    """``(scenario, base, seed, paths, sim, loaded)``: what the search starts from, the
    continued ``--session`` (``sim``/``loaded``; paths at most the session's) or the
    scenario's allocation (``sim``/``loaded`` None)."""
    if args.session is not None:
        from ..engine.session import load_session

        loaded = load_session(
            args.session,
            allow_external_models=args.allow_external_models,
            device="cpu" if args.device == "auto" else args.device,
        )
        for line in loaded.warnings:
            print(f"stratsim: warning: {line}", file=sys.stderr)
        sim = loaded.simulation
        seed = sim.seed if args.seed is None else args.seed
        return (
            sim.scenario,
            sim.decision,
            seed,
            min(args.paths or sim.n_paths, sim.n_paths),
            sim,
            loaded,
        )
    from ..engine.decisions import decision_from_allocation
    from ..engine.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    base = decision_from_allocation(scenario.allocation)
    return scenario, base, args.seed or 0, args.paths or DEFAULT_PATHS, None, None


def _starts(args: argparse.Namespace, scenario, sim, seed: int, paths: int, eval_paths: int):
    """``(start, eval_start)``: the search's and the evaluation's
    :class:`~stratsim.engine.analysis.lever_space.Start` (the evaluation seed is ``seed + 1``)."""
    from ..engine.analysis import optimize as O

    if sim is not None:
        steps = args.horizon or max(sim.horizon - sim.period, 1)
        start = O.start_from_simulation(sim, paths=paths, steps=steps, tag=f"optimize:{seed}")
        return start, O.start_from_simulation(
            sim, paths=eval_paths, steps=steps, tag=f"optimize:{seed + 1}"
        )
    models = {}
    if args.models is not None:
        from ..engine.trained import load_models

        models = load_models(args.models)
    kw = dict(
        steps=args.horizon or scenario.simulation.horizon_months,
        satisfaction_model=models.get("satisfaction"),
        privacy_model=models.get("privacy"),
        dtype=args.dtype,
        device=args.device,
    )
    start = O.start_from_scenario(scenario, paths=paths, seed=seed, **kw)
    return start, O.start_from_scenario(scenario, paths=eval_paths, seed=seed + 1, **kw)


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    scenario, base, seed, paths, sim, loaded = _starting_point(args)
    settings = _settings(args, seed, paths)
    from ..engine.analysis import recommend as R
    from ._common import set_compile, set_threads

    set_threads(args.threads, paths)
    set_compile(args)
    eval_paths = settings.eval_paths or paths
    start, eval_start = _starts(args, scenario, sim, seed, paths, eval_paths)
    progress = _Progress(enabled=not args.json)
    try:
        if args.frontier:
            points, current = R.frontier(
                base, start, eval_start, settings, args.frontier, on_progress=progress
            )
            progress.close()
            return _report_frontier(args, points, current, settings)
        rec = R.optimize(base, start, eval_start, settings, on_progress=progress)
    finally:
        progress.close()
    if args.json:
        print(json.dumps(rec.to_dict(), indent=1, default=float))
    else:
        _print_recommendation(rec, start.steps, paths, eval_paths)
    if args.out is not None:
        _write_out(args, rec, scenario, sim, loaded)
    return 0 if rec.feasible else 1


class _Progress:
    """A rich progress line on stderr (iteration, objective, best, evals/s)."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.bar = None

    def __call__(self, p) -> None:
        if not self.enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from ._common import fmt

        if self.bar is None:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                console=self.console,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(p.method, total=p.total, info="")
        self.bar.update(
            self.task,
            completed=p.iteration,
            total=p.total,
            description=f"{p.method} {p.label}".strip(),
            info=f"objective {fmt(p.objective)}  best {fmt(p.best)}  {p.evals_per_s:.1f} evals/s",
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _lever_rows(current, recommended):
    from ..engine.decisions import SPLIT_KEYS

    rows = [
        ("budget", current.budget, recommended.budget),
        ("privacy_share", current.privacy_share, recommended.privacy_share),
        ("c_share", current.c_share, recommended.c_share),
    ]
    rows += [(f"c_split.{k}", current.c_split[k], recommended.c_split[k]) for k in SPLIT_KEYS]
    rows += [(f"b_split.{k}", current.b_split[k], recommended.b_split[k]) for k in SPLIT_KEYS]
    rows += [
        ("c_price", current.c_price, recommended.c_price),
        ("b_seat_price", current.b_seat_price, recommended.b_seat_price),
    ]
    return rows


def _print_recommendation(rec, steps: int, paths: int, eval_paths: int) -> None:
    from rich.console import Console
    from rich.table import Table

    from ._common import fmt

    con = Console()
    s = rec.search
    blocks = rec.recommended
    alloc = Table(
        title=f"Allocation: current vs recommended ({rec.settings['schedule']})",
        caption=f"levers: {rec.settings['levers']}",
    )
    alloc.add_column("lever")
    alloc.add_column("current", justify="right")
    for i in range(len(blocks)):
        alloc.add_column("recommended" if len(blocks) == 1 else f"Q{i + 1}", justify="right")
    cur_rows = _lever_rows(rec.current[0], rec.current[0])
    per_block = [_lever_rows(rec.current[0], b) for b in blocks]
    for j, (name, cur, _) in enumerate(cur_rows):
        alloc.add_row(name, fmt(cur), *(fmt(rows[j][2]) for rows in per_block))
    con.print(alloc)
    t = Table(
        title=f"Evaluation on {eval_paths} fresh paths (seed {rec.settings['eval_seed']}), exact simulation; NPV and KPIs at month {steps}",
        caption=f"{rec.method}: {s.evals} evals, {s.path_periods:,} path-periods, {s.wall_s:.1f} s on {paths} training paths"
        + (" (cancelled)" if s.cancelled else "") + "; Δ = recommended - current, 95% paired bootstrap CI",
    )  # fmt: skip
    for col, just in (
        ("KPI", "left"),
        ("current", "right"),
        ("recommended", "right"),
        ("Δ", "right"),
        ("95% CI of Δ", "right"),
        ("sig.", "center"),
    ):
        t.add_column(col, justify=just)
    for st in rec.stats:
        t.add_row(
            st.label,
            fmt(st.current),
            fmt(st.recommended),
            fmt(st.diff),
            f"{fmt(st.ci_low)} .. {fmt(st.ci_high)}",
            "yes" if st.significant else "no",
        )
    con.print(t)
    for c in rec.constraints:
        state = (
            "met"
            if c.met
            else "NOT MET (infeasible within the levers' bounds: the least-violating allocation is shown)"
        )
        con.print(
            f"constraint {c.constraint}: recommended {c.recommended:.4g} (current {c.current:.4g}) on the evaluation paths: {state}"
        )


def _report_frontier(args, points, current, settings) -> int:
    from ._common import fmt

    alpha = round(settings.risk.alpha * 100)
    if args.json:
        print(
            json.dumps(
                {
                    "settings": settings.as_dict(0) | {"frontier": args.frontier},
                    "current": current.to_dict(),
                    "points": [p.to_dict() for p in points],
                },
                indent=1,
                default=float,
            )
        )
        return 0
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table(
        title=f"Efficient frontier on fresh paths (lambda: weight of CVaR{alpha})",
        caption="--json gives every point's full allocation",
    )
    for col in (
        "#",
        "lambda",
        "mean NPV",
        f"CVaR{alpha}",
        "P10",
        "P(cash<0)",
        "budget",
        "c_share",
        "privacy",
    ):
        t.add_column(col, justify="right")
    rows = [("now", current)] + [(str(i + 1), p) for i, p in enumerate(points)]
    for label, p in rows:
        d = p.decisions[0]
        lam = "-" if label == "now" else f"{p.lam:.2f}"
        t.add_row(
            label,
            lam,
            fmt(p.mean),
            fmt(p.cvar),
            fmt(p.p10),
            f"{p.p_cash_negative_ever:.2f}",
            fmt(d.budget),
            f"{d.c_share:.2f}",
            f"{d.privacy_share:.2f}",
        )
    con.print(t)
    from rich.text import Text

    con.print(Text.from_ansi(frontier_chart(points, current, alpha)))
    return 0


def frontier_chart(points, current, alpha: int, width: int = 70, height: int = 16) -> str:
    """A terminal scatter (plotext) of mean NPV against CVaR, points numbered, current as C."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.plot([p.cvar for p in points], [p.mean for p in points], marker="dot", label="frontier")
    for i, p in enumerate(points):
        plt.text(str(i + 1), p.cvar, p.mean)
    plt.scatter([current.cvar], [current.mean], marker="C", label="current")
    plt.xlabel(f"CVaR{alpha} of NPV")
    plt.ylabel("mean NPV")
    return plt.build()


def _write_out(args, rec, scenario, sim, loaded) -> None:
    import tomli_w

    from ..engine.errors import StratsimError
    from ..engine.fileio import printable
    from ..engine.outputs import write_bytes
    from ..engine.scenario import SCENARIO_FILE, scenario_from_dict

    if sim is None:
        data = scenario.to_dict()
        data["allocation"] = rec.recommended[0].to_dict()
        data["name"] = f"{scenario.name} (optimized)"
        scenario_from_dict(data, str(args.out))  # the written scenario loads
        try:
            write_bytes(
                args.out, tomli_w.dumps(data).encode("utf-8"), SCENARIO_FILE, force=args.force
            )
        except OSError as exc:
            raise StratsimError(
                f"--out {printable(args.out)}: cannot write: {exc.strerror or exc}"
            ) from None
        print(
            f"wrote scenario file {printable(args.out)} with the recommended allocation",
            file=sys.stderr,
        )
        return
    from ..engine.session import save_session

    sim.set_decision(rec.recommended[0])
    sim.optimizations = [*getattr(sim, "optimizations", []), {"period": sim.period, **rec.record()}]
    save_session(
        sim, args.out, name=loaded.meta.name, created=loaded.meta.created, force=args.force
    )
    print(
        f"wrote session {args.out}: the recommendation is the next decision (manual policy); the run is recorded",
        file=sys.stderr,
    )
