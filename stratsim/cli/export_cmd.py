"""``stratsim export SESSION.toml --csv PATH | --parquet PATH``: a session's tables.

Writes two files: the tidy KPI history ``period, kpi, mean, p10, p50, p90`` (as stored in
the session, i.e. as shown to the operator) at PATH, and the decisions (one row per
period: ``period, budget, privacy_share, c_share, c_price, b_seat_price,
c_split_product, ..., b_split_acquisition``) at ``--decisions PATH`` or, by default,
beside it with ``.decisions`` before the suffix (``kpis.csv`` -> ``kpis.decisions.csv``).
The session is validated but not replayed (use ``stratsim check`` for that) and its
model files are not needed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import output_file


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a session's KPI history and decisions to CSV or Parquet",
        description="Write a session's KPI history as the tidy table period,kpi,mean,p10,p50,p90 "
        "and its decisions (one row per period) as a second file: --decisions PATH, or by "
        "default PATH with '.decisions' before its suffix (kpis.csv -> kpis.decisions.csv).",
    )
    p.add_argument("session", type=Path, metavar="SESSION.toml", help="the session file")
    fmt = p.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", type=output_file, metavar="PATH", help="write CSV files")
    fmt.add_argument(
        "--parquet", type=output_file, metavar="PATH", help="write Parquet files (pyarrow)"
    )
    p.add_argument(
        "--decisions",
        type=output_file,
        metavar="PATH",
        help="where to write the decisions (default: PATH with .decisions before the suffix)",
    )
    p.add_argument(
        "--force", action="store_true",
        help="replace existing output files that are not stratsim tables with the same columns "
        "(or symbolic links: the link is replaced, never the file it points to)",
    )  # fmt: skip
    p.set_defaults(func=export)


def decisions_path(path: Path) -> Path:
    """``kpis.csv`` -> ``kpis.decisions.csv`` (``kpis`` -> ``kpis.decisions``)."""
    return path.with_name(f"{path.stem}.decisions{path.suffix}")


def export(args: argparse.Namespace) -> int:
    from ..engine.errors import StratsimError
    from ..engine.fileio import printable
    from ..engine.kpi import TIDY_COLUMNS, tidy_frame
    from ..engine.outputs import table_kind, write_table
    from ..engine.session import decisions_frame, read_session
    from ._common import check_outputs

    fmt = "csv" if args.csv is not None else "parquet"
    out = args.csv if args.csv is not None else args.parquet
    dec = args.decisions if args.decisions is not None else decisions_path(out)
    for path in (out, dec):
        if path.resolve() == args.session.resolve():
            raise StratsimError(f"{path}: is the session file; choose another output path")
    if out.resolve() == dec.resolve():
        raise StratsimError(
            f"{dec}: the decisions would overwrite the KPI table {out}; choose another --decisions path"
        )
    decision_columns = list(decisions_frame([]).columns)
    check_outputs(
        [
            (f"--{fmt}", out, table_kind(TIDY_COLUMNS, fmt)),
            ("--decisions", dec, table_kind(decision_columns, fmt)),
        ],
        args.force,
    )
    data = read_session(
        args.session, check_models=False, allow_external_models=True
    )  # reads no model file
    for line in data.warnings:
        print(f"stratsim: warning: {printable(line)}", file=sys.stderr)
    kpis, decisions = tidy_frame(data.history), decisions_frame(data.decisions)
    for frame, path in ((kpis, out), (decisions, dec)):
        try:
            write_table(frame, path, fmt, force=args.force)
        except OSError as exc:
            raise StratsimError(f"{printable(path)}: cannot write: {exc.strerror or exc}") from None
    print(
        f"wrote {printable(out)} ({len(kpis)} rows) and {printable(dec)} ({len(decisions)} rows)",
        file=sys.stderr,
    )
    return 0
