"""``stratsim check SESSION.toml``: validate a session file and replay it.

Exit status: 0 the file is valid and the replayed history matches the stored one;
1 it is valid but the replay differs (the first differing period, KPI and statistic
are printed); 2 the file is invalid (one line on stderr naming the key path, the value
and the expectation) or a model file is missing or changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import nonneg_int


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be in 0..1")
    return value


def register(sub) -> None:
    p = sub.add_parser(
        "check",
        help="validate a session file and check that replaying it reproduces its history",
        description="Validate every key of a session file, load its models (sha256 checked), "
        "re-simulate its decisions from its seed and compare the result with the stored KPI "
        "history. Exit 0: matches; 1: the replay differs (first period and KPI reported); "
        "2: invalid file.",
    )
    p.add_argument("session", type=Path, metavar="SESSION.toml", help="the session file")
    p.add_argument(
        "--tolerance", type=_tolerance, default=1e-9,
        help="relative tolerance of the comparison (default 1e-9; 0 for exact equality)",
    )  # fmt: skip
    p.add_argument(
        "--allow-external-models",
        action="store_true",
        help="accept model files outside the session's folder",
    )
    p.add_argument(
        "--device", choices=("auto", "cpu", "cuda", "mps"),
        help="replay on this device (default: the session's; results are bit-identical only on the same device and dtype)",
    )  # fmt: skip
    p.add_argument(
        "--threads", type=nonneg_int, default=0,
        help="torch CPU threads (default 0: the engine's policy, one thread: a second one measured slower at every size on a shared machine)",
    )  # fmt: skip
    p.set_defaults(func=check)


def check(args: argparse.Namespace) -> int:
    from ..engine.fileio import printable
    from ..engine.session import load_session

    loaded = load_session(
        args.session,
        allow_external_models=args.allow_external_models,
        device=args.device,
        threads=args.threads,
    )
    for line in loaded.simulation.model_warnings():
        print(f"stratsim: warning: {line}", file=sys.stderr)
    for line in loaded.warnings:
        print(f"stratsim: warning: {printable(line)}", file=sys.stderr)
    sim = loaded.simulation
    what = f"{printable(args.session)}: schema {loaded.meta.schema_version}, {sim.period} period(s), {sim.n_paths} paths, seed {sim.seed}, {sim.dtype_name} on {sim.device.type}"
    for switch in sim.model_switches:  # models adopted "from the next period" in the TUI
        print(
            f"{printable(args.session)}: {switch.role} model from Period {switch.period}: {printable(switch.model.description)}"
        )
    if sim.branches:
        print(f"{printable(args.session)}: branches: {printable(', '.join(sim.branches))}")
    diff = loaded.first_difference(args.tolerance)
    if diff is None:
        print(f"{what}: replay matches the stored history")
        return 0
    print(f"{what}: replay DIFFERS from the stored history at {diff}")
    return 1
