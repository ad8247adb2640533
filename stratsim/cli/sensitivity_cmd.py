"""``stratsim sensitivity``: which scenario assumptions move a KPI most - tornado
(one at a time, with the best ``c_share`` at each end), Sobol' indices or Morris
elementary effects (SALib) - printed as ranked tables and bar charts."""

from __future__ import annotations

import argparse
import sys

from ._analysis import add_backend_flags, add_run_flags
from ._common import nonneg_int, output_file, positive_int

#: Columns of the ``--csv`` table of each method (checked before any simulation).
CSV_COLUMNS = {
    "tornado": ["rank", "parameter", "uncertain", "low", "base", "high", "kpi_low", "kpi_high", "swing",
                "best_c_share_low", "best_c_share_high", "best_c_share_base"],
    "sobol": ["rank", "parameter", "S1", "S1_conf", "ST", "ST_conf"],
    "morris": ["rank", "parameter", "mu_star", "mu_star_conf", "sigma", "mu"],
}  # fmt: skip


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"{v} must be a fraction in (0, 1]")
    return v


def register(sub) -> None:
    p = sub.add_parser(
        "sensitivity",
        help="rank the scenario assumptions by their effect on a KPI (tornado, Sobol, Morris)",
        description="Vary scenario parameters over their ranges (an uncertain parameter over its P10..P90, a "
        "certain one by +-RANGE) and rank them by their effect on a KPI at the horizon. tornado: one at a time, "
        "and whether the best To C share (c_share) changes; sobol: first-order and total Sobol' indices; "
        "morris: elementary effects (SALib). Every point runs on the same random numbers.",
    )
    p.add_argument(
        "--method",
        choices=("tornado", "sobol", "morris"),
        default="tornado",
        help="default tornado",
    )
    p.add_argument(
        "--params",
        metavar="LIST",
        help="comma-separated scenario keys (default: the scenario's uncertain parameters, else the main market assumptions)",
    )
    p.add_argument(
        "--range",
        type=_fraction,
        default=0.2,
        dest="rel_range",
        help="relative range of a certain parameter: value*(1-R)..value*(1+R) (default 0.2)",
    )
    p.add_argument(
        "--samples",
        type=positive_int,
        help="sobol: N, a power of 2 (N*(D+2) points, default 32); morris: trajectories (N*(D+1) points, default 10)",
    )
    p.add_argument(
        "--kpi",
        default="npv_total",
        help="KPI at the horizon (default npv_total: NPV with terminal value, as optimize)",
    )
    p.add_argument(
        "--stat",
        choices=("mean", "p10", "p50", "p90"),
        default="mean",
        help="statistic of the KPI over paths (default mean; a probability KPI such as p_cash_negative has only a mean)",
    )
    p.add_argument(
        "--minimize",
        action="store_true",
        help="tornado: the best c_share has the lowest KPI (e.g. --kpi p_cash_negative)",
    )
    p.add_argument(
        "--shares",
        type=nonneg_int,
        default=5,
        metavar="N",
        help="tornado: c_share levels 0..1 searched for the best share at each end (default 5: 0, 0.25, .., 1; 0: skip)",
    )
    add_run_flags(p, paths=200)
    p.add_argument("--csv", type=output_file, help="write the ranked table here (CSV)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --csv file that is not a stratsim table with the same columns (or a symbolic link: the link is replaced, never the file it points to)",
    )
    add_backend_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..engine.analysis import sensitivity as sa
    from ..engine.analysis.sweep import check_objective
    from ..engine.errors import StratsimError
    from ..engine.fileio import printable
    from ..engine.outputs import table_kind, write_table
    from ._analysis import backend_kwargs, run_spec
    from ._common import check_outputs, refuse_clobber, set_compile, set_threads

    refuse_clobber({"--csv": args.csv}, {"--scenario": args.scenario})
    check_outputs(
        [("--csv", args.csv, table_kind(CSV_COLUMNS[args.method], "csv"))], args.force
    )  # before any simulation
    check_objective(args.kpi, args.stat)
    scenario, spec = run_spec(args)
    keys = None
    if args.params is not None:
        keys = [k.strip() for k in args.params.split(",") if k.strip()]
        if not keys:
            raise StratsimError(
                f"--params {args.params!r}: no parameter; expected comma-separated scenario keys (e.g. to_b.win_rate) or no --params"
            )
    ranges = sa.parameter_ranges(scenario, keys, args.rel_range)  # checked before anything runs
    samples = args.samples or (32 if args.method == "sobol" else 10)
    kw = backend_kwargs(args)
    set_threads(args.threads, max(spec.paths, args.chunk_paths))  # the largest chunk's paths
    set_compile(args)
    out = Console()
    ev, result = _analyse(args, scenario, spec, ranges, samples, kw)
    header = (f"{args.kpi} {args.stat} at month {spec.steps}; {ev.points_run} points x {spec.paths} paths, seed {spec.seed} "
              f"(common random numbers), backend {args.backend}")  # fmt: skip
    if args.method == "tornado":
        frame = _print_tornado(out, result, ranges, header)
    else:
        frame = _print_indices(out, result, header)
    if args.csv is not None:
        try:
            write_table(frame[CSV_COLUMNS[args.method]], args.csv, "csv", force=args.force)
        except OSError as exc:
            raise StratsimError(
                f"--csv {printable(args.csv)}: cannot write: {exc.strerror or exc}"
            ) from None
        print(f"wrote {printable(args.csv)} ({len(frame)} rows)", file=sys.stderr)
    return 0


def _analyse(args: argparse.Namespace, scenario, spec, ranges, samples: int, kw: dict):
    """Run the chosen method (tornado, Sobol', Morris) with a progress bar; returns the
    evaluator (its point count) and the method's result."""
    import numpy as np

    from ..engine.analysis import sensitivity as sa
    from ._analysis import ProgressBar

    with ProgressBar(f"{args.method} over {len(ranges)} parameters") as bar:
        ev = sa.Evaluator(
            scenario,
            [r.key for r in ranges],
            spec,
            args.kpi,
            args.stat,
            not args.minimize,
            on_progress=bar,
            **kw,
        )
        if args.method == "tornado":
            shares = list(np.linspace(0.0, 1.0, args.shares)) if args.shares > 1 else None
            result = sa.tornado(ev, ranges, shares)
        elif args.method == "sobol":
            result = sa.sobol(
                sa.salib_problem(ranges), ev, samples, seed=args.seed, kpi=args.kpi, stat=args.stat
            )
        else:
            result = sa.morris(
                sa.salib_problem(ranges), ev, samples, seed=args.seed, kpi=args.kpi, stat=args.stat
            )
    return ev, result


def _print_tornado(out, t, ranges, header: str):
    import pandas as pd
    from rich.table import Table

    from ._common import fmt

    base = {r.key: r for r in ranges}
    table = Table(title=f"Tornado: {header}", caption=f"base case {t.kpi} {t.stat} {fmt(t.base_kpi)}; at low/high: {t.kpi} "
                  f"with the parameter at its low/high" + (f"; c_share*: the best To C share at low/high (at base "
                  f"{t.best_share_base:g})" if t.best_share_base is not None else ""))  # fmt: skip
    table.add_column("#", justify="right")
    table.add_column("parameter", no_wrap=True)
    for col in ("low..high", "at low", "at high", "swing"):
        table.add_column(col, justify="right")
    show_share = t.best_share_base is not None
    if show_share:
        table.add_column("c_share*", justify="right")
    rows = []
    for i, r in enumerate(t.rows, 1):
        extra = []
        if show_share:
            mark = " [bold]changes[/]" if t.share_changes(r) else ""
            extra = [f"{r.best_share_low:g}/{r.best_share_high:g}{mark}"]
        table.add_row(
            str(i),
            r.key,
            f"{fmt(r.low)}..{fmt(r.high)}",
            fmt(r.kpi_low),
            fmt(r.kpi_high),
            fmt(r.swing),
            *extra,
        )
        rows.append({"rank": i, "parameter": r.key, "uncertain": base[r.key].uncertain, "low": r.low, "base": base[r.key].base,
                     "high": r.high, "kpi_low": r.kpi_low, "kpi_high": r.kpi_high, "swing": r.swing,
                     "best_c_share_low": r.best_share_low, "best_c_share_high": r.best_share_high,
                     "best_c_share_base": t.best_share_base})  # fmt: skip
    out.print(table)
    _print_tornado_bars(out, t, show_share)
    return pd.DataFrame(rows)


def _print_tornado_bars(out, t, show_share: bool) -> None:
    """The tornado as text bars around the base case, and whether the best To C share moves."""
    from ._analysis import diverging
    from ._common import fmt

    scale = max(
        (max(abs(r.kpi_low - t.base_kpi), abs(r.kpi_high - t.base_kpi)) for r in t.rows),
        default=0.0,
    )
    width = max(8, min(30, (out.width - 44) // 2))
    name_w = max(len(r.key) for r in t.rows)
    out.print(
        f"{t.kpi} {t.stat} change from the base case ({fmt(t.base_kpi)}); left: lower, right: higher"
    )
    for r in t.rows:
        lo, hi = r.kpi_low - t.base_kpi, r.kpi_high - t.base_kpi
        out.print(
            f"{r.key:<{name_w}} {fmt(min(lo, hi)):>7} {diverging(lo, hi, scale, width)} {fmt(max(lo, hi)):<7}",
            markup=False,
        )
    if show_share:
        moved = [r.key for r in t.rows if t.share_changes(r)]
        if moved:
            out.print(
                f"The best To C share ({t.best_share_base:.2f} at base) changes within the range of: {', '.join(moved)}"
            )
        else:
            out.print(
                f"The best To C share ({t.best_share_base:.2f}) holds across every parameter's range"
            )


def _ci_exceeds(values: dict[str, float]) -> bool:
    """A Sobol' row whose 95% interval half-width (``S1_conf``/``ST_conf``, SALib's
    bootstrap) is larger than the index itself: the index cannot be told from 0."""
    return any(not values[f"{k}_conf"] <= abs(values[k]) for k in ("S1", "ST"))


def _print_indices(out, ind, header: str):
    import pandas as pd
    from rich.table import Table

    from ._analysis import bar
    from ._common import fmt

    if ind.method == "sobol":
        cols, lead, title = (
            ("S1", "S1_conf", "ST", "ST_conf"),
            "ST",
            "Sobol' indices (S1 first-order, ST total; +-95% CI)",
        )
    else:
        cols, lead, title = (
            ("mu_star", "mu_star_conf", "sigma", "mu"),
            "mu_star",
            "Morris elementary effects (mu* mean |effect|)",
        )
    table = Table(title=f"{title}: {header}")
    table.add_column("#", justify="right")
    table.add_column("parameter", no_wrap=True)
    for c in cols:
        table.add_column(c, justify="right")
    table.add_column(lead, justify="left", no_wrap=True, min_width=12, overflow="crop")
    scale = max(
        (abs(r.values[lead]) for r in ind.rows if r.values[lead] == r.values[lead]), default=0.0
    )
    if ind.method == "sobol":
        scale = max(scale, 1e-12) if scale > 1 else 1.0
    for i, r in enumerate(ind.rows, 1):
        table.add_row(
            str(i),
            r.key,
            *(f"{r.values[c]:.3f}" if ind.method == "sobol" else fmt(r.values[c]) for c in cols),
            bar(r.values[lead], scale, 12),
        )
    out.print(table)
    if ind.method == "sobol":
        s1 = sum(r.values["S1"] for r in ind.rows)
        out.print(f"sum of S1 {s1:.3g} (1 - sum: the share of variance from interactions)")
        wide = [r.key for r in ind.rows if _ci_exceeds(r.values)]
        if wide:
            print(f"stratsim: warning: Sobol' confidence intervals exceed the indices of {len(wide)} of {len(ind.rows)} "
                  f"parameters ({', '.join(wide[:3])}{', ...' if len(wide) > 3 else ''}): too few samples to rank them; "
                  "raise --samples (e.g. 256)", file=sys.stderr)  # fmt: skip
    return pd.DataFrame(
        [{"rank": i, "parameter": r.key, **r.values} for i, r in enumerate(ind.rows, 1)]
    )
