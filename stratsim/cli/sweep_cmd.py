"""``stratsim sweep``: a grid (or Latin hypercube) over decision levers and scenario
parameters, every point on the same random numbers, batched as paths of one simulation
per chunk (or as Ray tasks); prints the points ranked by the objective and the best one,
and writes the tidy table ``point, KEY..., [period,] kpi, mean, p10, p50, p90``."""

from __future__ import annotations

import argparse
import sys

from ._analysis import add_backend_flags, add_run_flags
from ._common import output_file, positive_int


def register(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a grid or Latin hypercube of points (levers and scenario values) on common random numbers",
        description="Evaluate many points - decision levers (allocation.c_share, allocation.c_split.ux, ...) and "
        "scenario parameters (to_b.win_rate, ...) - each on the same random numbers (common random numbers), "
        "batched as paths of one vectorized simulation (or as Ray tasks). Example: stratsim sweep "
        "--grid allocation.c_share=0:1:11 --grid allocation.privacy_share=0:0.3:7",
    )
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=START:STOP:N",
        help="a grid axis: N evenly spaced values from START to STOP (or KEY=V1,V2,...); with --lhs: KEY=START:STOP, the range to sample. Repeat for more keys (full grid)",
    )
    p.add_argument(
        "--lhs",
        type=positive_int,
        metavar="N",
        help="N points of a Latin hypercube over the --grid ranges instead of the full grid",
    )
    p.add_argument(
        "--sample",
        action="append",
        default=[],
        metavar="KEY=DIST",
        help="make a scenario parameter uncertain, drawn per path from DIST (uniform:LOW:HIGH, normal:MEAN:SD, lognormal:MEDIAN:SIGMA, triangular:LOW:MODE:HIGH), the same draws at every point",
    )
    add_run_flags(p, paths=1000)
    p.add_argument(
        "--every-period",
        action="store_true",
        help="table rows for every month, not only the horizon",
    )
    p.add_argument(
        "--objective",
        default="npv_total.mean",
        metavar="KPI[.STAT]",
        help="what picks the best point: a KPI and mean|p10|p50|p90 at the horizon (default npv_total.mean: NPV with terminal value, as optimize; a probability KPI such as p_cash_negative has only a mean)",
    )
    p.add_argument(
        "--minimize",
        action="store_true",
        help="the best point has the lowest objective (e.g. p_cash_negative.mean)",
    )
    p.add_argument(
        "--top", type=positive_int, default=10, help="points shown in the ranked table (default 10)"
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", type=output_file, help="write the tidy table here (CSV)")
    out.add_argument("--parquet", type=output_file, help="write the tidy table here (Parquet)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --csv/--parquet file that is not a stratsim table with the same columns (or a symbolic link: the link is replaced, never the file it points to)",
    )
    add_backend_flags(p)
    p.set_defaults(func=run)


def build_design(args: argparse.Namespace, scenario):
    """The checked design (:class:`~stratsim.engine.analysis.sweep.Prepared`) of the flags."""
    from ..engine.analysis.sweep import (
        grid_design,
        lhs_design,
        parse_grid,
        parse_sample,
        prepare,
        with_samples,
    )
    from ..engine.errors import StratsimError

    if not args.grid:
        raise StratsimError(
            "sweep: no --grid; expected at least one --grid KEY=START:STOP:N (e.g. --grid allocation.c_share=0:1:11)"
        )
    scenario = with_samples(scenario, [parse_sample(s) for s in args.sample])
    axes = [parse_grid(g, lhs=args.lhs is not None) for g in args.grid]
    sampled = {k for k, _ in (parse_sample(s) for s in args.sample)}
    for k, _ in axes:
        if k in sampled:
            raise StratsimError(f"key {k}: both --grid and --sample; expected one of them")
    if args.lhs is not None:
        design = lhs_design([(k, v[0], v[1]) for k, v in axes], args.lhs, seed=args.seed)
    else:
        design = grid_design(axes)
    return prepare(scenario, design)


def run(args: argparse.Namespace) -> int:
    from ..engine.analysis.sweep import check_objective, evaluate
    from ..engine.errors import StratsimError
    from ..engine.fileio import printable
    from ..engine.kpi import STATS
    from ..engine.outputs import table_kind, write_table
    from ._analysis import ProgressBar, backend_kwargs, chunk_paths_of, run_spec
    from ._common import check_outputs, refuse_clobber, set_compile, set_threads

    target = args.csv or args.parquet
    flag = "--csv" if args.csv else "--parquet"
    fmt_out = "csv" if args.csv else "parquet"
    refuse_clobber({flag: target}, {"--scenario": args.scenario})
    check_outputs([(flag, target, None)], args.force)  # folder and name, before anything loads
    kpi, _, stat = args.objective.partition(".")
    stat = stat or "mean"
    check_objective(kpi, stat)
    scenario, spec = run_spec(args)
    prepared = build_design(args, scenario)  # every point checked before anything runs
    columns = [
        "point",
        *prepared.design.keys,
        *(["period"] if spec.every_period else []),
        "kpi",
        *STATS,
    ]
    check_outputs(
        [(flag, target, table_kind(columns, fmt_out))], args.force
    )  # before any simulation
    kw = backend_kwargs(args)
    k = prepared.design.n_points
    set_threads(args.threads, chunk_paths_of(args, k, spec.paths, spec.dtype))
    set_compile(args)
    with ProgressBar(f"sweep {k} points x {spec.paths} paths") as bar:
        result = evaluate(prepared, spec, on_progress=bar, **kw)
    _print_ranking(args, prepared, spec, result, kpi, stat)
    if target is not None:
        frame = result.frame()
        try:
            write_table(frame, target, fmt_out, force=args.force)
        except OSError as exc:
            raise StratsimError(
                f"{flag} {printable(target)}: cannot write: {exc.strerror or exc}"
            ) from None
        print(f"wrote {target} ({len(frame)} rows: {k} points x {frame['kpi'].nunique()} KPIs"
              f"{' x ' + str(spec.steps) + ' months' if spec.every_period else ''})", file=sys.stderr)  # fmt: skip
    return 0


def _print_ranking(args: argparse.Namespace, prepared, spec, result, kpi: str, stat: str) -> None:
    """The ``--top`` points ranked by ``kpi`` ``stat`` at the horizon (NaN last), and the best."""
    from rich.console import Console
    from rich.table import Table

    from ._common import fmt

    k = prepared.design.n_points
    keys = prepared.design.keys
    y = result.horizon_values(kpi, stat)
    best = result.best(kpi, stat, maximize=not args.minimize)
    order = sorted(range(k), key=lambda i: (y[i] != y[i], -y[i] if not args.minimize else y[i]))
    table = Table(
        title=f"{k} points, {spec.paths} paths each, {spec.steps} months, seed {spec.seed} (common random numbers), "
        f"ranked by {kpi} {stat} at month {spec.steps}",
        caption=f"backend {result.backend}, {result.n_chunks} chunk(s)",
    )
    table.add_column("point", justify="right")
    for key in keys:
        table.add_column(key.removeprefix("allocation."), justify="right")
    for col in (f"{kpi} mean", "P10", "P50", "P90"):
        table.add_column(col, justify="right")
    values = prepared.design.values
    for i in order[: args.top]:
        s = result.results[i][-1][kpi]
        table.add_row(
            str(i),
            *(f"{v:.4g}" for v in values[i]),
            *(fmt(s[x]) for x in ("mean", "p10", "p50", "p90")),
        )
    out = Console()
    out.print(table)
    s = result.results[best][-1][kpi]
    where = ", ".join(f"{key}={v:.4g}" for key, v in zip(keys, values[best], strict=True))
    out.print(
        f"best point {best}: {where}: {kpi} {stat} {fmt(s[stat])} (P10 {fmt(s['p10'])}, P90 {fmt(s['p90'])})"
    )
