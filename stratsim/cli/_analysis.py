"""Flags and helpers shared by ``stratsim sweep`` and ``stratsim sensitivity``: the run
settings of every point, the backend (local or Ray), the memory budget, a progress bar
and terminal bar charts."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..engine.policies import BATCH_POLICIES
from ._common import COMPILE_HELP, nonneg_int, positive_int

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def memory_size(text: str) -> int:
    """argparse type: a byte count such as ``512M``, ``2G``, ``1.5g``, ``100000`` (powers of 1024)."""
    m = _SIZE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; expected e.g. 512M or 2G")
    value = float(m.group(1)) * 1024 ** "_kmgt".index((m.group(2) or "_").lower())
    if value < 1024 * 1024:
        raise argparse.ArgumentTypeError(f"{text!r}: expected at least 1M")
    return int(value)


def add_run_flags(p: argparse.ArgumentParser, paths: int) -> None:
    """Scenario, horizon, paths, seed, policy, device, dtype, models and threads."""
    p.add_argument(
        "--scenario", type=Path, help="scenario TOML (default: the shipped default scenario)"
    )
    p.add_argument(
        "--horizon",
        type=positive_int,
        help="months to simulate each point (default: the scenario's horizon_months)",
    )
    p.add_argument(
        "--paths",
        type=positive_int,
        default=paths,
        help=f"Monte-Carlo paths per point (default {paths}); every point uses the same random numbers",
    )
    p.add_argument(
        "--seed",
        type=nonneg_int,
        default=0,
        help="random seed (default 0); a point equals `stratsim run` with the same seed and paths",
    )
    p.add_argument(
        "--policy",
        choices=BATCH_POLICIES,
        default="fixed",
        help="allocation policy of every point (default fixed: the point's allocation every month)",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda", "mps"),
        default="auto",
        help="torch device (default auto)",
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="tensor dtype (default float32)",
    )
    p.add_argument(
        "--models", type=Path, help="folder of trained models (from `stratsim train --out`)"
    )
    p.add_argument(
        "--threads",
        type=nonneg_int,
        default=0,
        help="torch CPU threads for the local backend (default 0: one below 100,000 paths per chunk)",
    )
    p.add_argument("--compile", action="store_true", help=COMPILE_HELP + " (local backend)")


def add_backend_flags(p: argparse.ArgumentParser) -> None:
    from ..engine.analysis.sweep import DEFAULT_CHUNK_PATHS, DEFAULT_MAX_MEMORY

    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help='local: chunks of points batched as paths in this process; ray: the same chunks as Ray tasks (pip install "stratsim[scale]")',
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="join a running Ray cluster (e.g. 10.0.0.5:6379, or auto) instead of starting a local Ray for the command",
    )
    p.add_argument(
        "--ray-cpus",
        type=positive_int,
        help="CPUs of the local Ray started for the command (default: all)",
    )
    p.add_argument(
        "--max-memory",
        type=memory_size,
        default=DEFAULT_MAX_MEMORY,
        metavar="SIZE",
        help="memory budget of one chunk of points, e.g. 512M, 4G (default 1G)",
    )
    p.add_argument(
        "--chunk-paths",
        type=positive_int,
        default=DEFAULT_CHUNK_PATHS,
        metavar="N",
        help=f"paths (points x paths per point) per chunk, one Ray task each (default {DEFAULT_CHUNK_PATHS}); smaller: more tasks",
    )


def run_spec(args: argparse.Namespace):
    """``(scenario, RunSpec)`` from the run flags; the scenario is validated before torch loads."""
    from ..engine.analysis.sweep import RunSpec
    from ..engine.errors import StratsimError
    from ..engine.scenario import load_scenario

    if args.ray_address and args.backend != "ray":
        raise StratsimError(f"--ray-address {args.ray_address}: only with --backend ray")
    scenario = load_scenario(args.scenario)
    models = {}
    if args.models is not None:
        from ..engine.trained import load_models

        models = load_models(args.models)
    steps = args.horizon or scenario.simulation.horizon_months
    spec = RunSpec(
        steps=steps, paths=args.paths, seed=args.seed, policy=args.policy, dtype=args.dtype, device=args.device,
        every_period=bool(getattr(args, "every_period", False)),
        satisfaction_model=models.get("satisfaction"), privacy_model=models.get("privacy"),
    )  # fmt: skip
    return scenario, spec


def backend_kwargs(args: argparse.Namespace) -> dict:
    if args.backend == "ray":
        from ..engine.analysis.sweep import import_ray

        import_ray()  # before anything runs: say how to install it
    return {"backend": args.backend, "max_memory": args.max_memory, "chunk_paths": args.chunk_paths,
            "ray_address": args.ray_address, "ray_cpus": args.ray_cpus}  # fmt: skip


def chunk_paths_of(args: argparse.Namespace, n_points: int, paths: int, dtype: str) -> int:
    """Paths of the largest chunk (what sets the torch thread count)."""
    from ..engine.analysis.sweep import plan_chunks

    return paths * max(
        stop - start
        for start, stop in plan_chunks(n_points, paths, dtype, args.max_memory, args.chunk_paths)
    )


class ProgressBar:
    """A rich progress bar on stderr (hidden when stderr is not a terminal), fed with
    :class:`~stratsim.engine.analysis.sweep.Progress` events."""

    def __init__(self, label: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("point-months"),
            TextColumn("{task.fields[chunks]}"), TimeRemainingColumn(),
            console=self.console, transient=True, disable=not self.console.is_terminal,
        )  # fmt: skip
        self.task = None

    def __enter__(self) -> ProgressBar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, p) -> None:
        if self.task is None:
            self.task = self.progress.add_task("sweep", total=p.total, chunks="")
        self.progress.update(
            self.task,
            completed=p.done,
            total=p.total,
            chunks=f"chunk {p.chunks_done}/{p.chunks_total}",
        )


def bar(value: float, scale: float, width: int) -> str:
    """A horizontal bar of ``value / scale * width`` cells (eighths of a cell)."""
    if not scale or value != value or value <= 0:
        return ""
    eighths = round(min(1.0, value / scale) * width * 8)
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]


def diverging(lo: float, hi: float, scale: float, width: int) -> str:
    """A bar from ``lo`` to ``hi`` (relative to a centre at 0) in a field of ``2 * width + 1``
    cells with ``│`` at the centre: a tornado bar."""
    if not scale or lo != lo or hi != hi:
        return " " * width + "│" + " " * width
    left = round(max(0.0, -min(lo, hi, 0.0)) / scale * width)
    right = round(max(0.0, max(lo, hi, 0.0)) / scale * width)
    left, right = min(left, width), min(right, width)
    return " " * (width - left) + "█" * left + "│" + "█" * right + " " * (width - right)
