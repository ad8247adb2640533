"""Helpers shared by the subcommands: argument types, output checks, tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine.errors import StratsimError
from ..format import fmt  # shared with the TUI; the subcommands import it from here

if TYPE_CHECKING:
    from ..engine.fileio import OutputError
    from ..engine.outputs import OutputKind


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} must be at least {minimum}")
        return value

    return parse


#: The flag of each setting the engine names in its messages
#: (:func:`stratsim.engine.terms.term`): installed by :func:`stratsim.cli.main` for every
#: command but the TUI, so a message says ``--map`` where the TUI says ``map``.
CLI_FLAGS: dict[str, str] = {
    "sep": "--sep",
    "decimal": "--decimal",
    "thousands": "--thousands",
    "encoding": "--encoding",
    "skip_rows_matching": "--skip-rows-matching",
    "target": "--target",
    "positive": "--positive",
    "label_period": "--label-period",
    "map": "--map",
    "min_items": "--min-items",
    "scale": "--scale",
    "missing": "--missing",
    "max_missing": "--max-missing",
    "derive": "--derive",
    "set": "--set",
    "range": "--range",
    "params": "--params",
    "samples": "--samples",
    "lhs": "--lhs",
    "grid": "--grid",
    "sample": "--sample",
    "chunk_paths": "--chunk-paths",
    "backend": "--backend",
    "ray_address": "--ray-address",
    "allow_external_models": "--allow-external-models",
}


#: argparse types: an integer >= 1, an integer >= 0.
positive_int = _int_at_least(1)
nonneg_int = _int_at_least(0)


def output_file(text: str) -> Path:
    """argparse type of an output file path: not empty, not a folder. A path that cannot
    be probed (a name longer than the file system allows, a parent without search
    permission) is left to :func:`check_outputs`, which refuses it in one line."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path, expected a file path")
    if text.endswith(("/", "\\")):
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, expected a file path")
    try:
        is_dir = Path(text).is_dir()
    except (OSError, ValueError):
        is_dir = False
    if is_dir:
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, expected a file path")
    return Path(text)


def refuse_clobber(outputs: dict[str, Path | None], inputs: dict[str, Path | None]) -> None:
    """Refuse, before any work, an output that would overwrite an input or another output.

    Raises:
        StratsimError: naming both flags and the path.
    """
    seen: dict[Path, str] = {}
    for flag, path in inputs.items():
        if path is not None:
            seen[path.resolve()] = flag
    for flag, path in outputs.items():
        if path is None:
            continue
        other = seen.get(path.resolve())
        if other is not None:
            raise StratsimError(
                f"{path}: {flag} would overwrite the file given to {other}; choose another path"
            )
        seen[path.resolve()] = flag


def check_outputs(outputs: list[tuple[str, Path | None, OutputKind]], force: bool) -> None:
    """Refuse, before any work, each ``(flag, path, kind)`` output that cannot or must not
    be written (:func:`stratsim.engine.outputs.check_output`): a missing or unwritable
    folder, a folder, and, unless ``force``, a symbolic link or an existing file that is
    not a stratsim file of that kind.

    Raises:
        StratsimError: one line naming the flag, the path and the problem (and ``--force``
            when it would accept it).
    """
    from ..engine.fileio import OutputError
    from ..engine.outputs import check_output

    for flag, path, kind in outputs:
        if path is None:
            continue
        try:
            check_output(path, kind, force=force)
        except OutputError as exc:
            raise output_error(flag, exc) from None


def output_error(flag: str, exc: OutputError) -> StratsimError:
    """The one-line CLI error of an output refused by the engine: ``FLAG PATH: problem``,
    plus ``(give --force to replace it)`` when ``--force`` would accept it."""
    hint = " (give --force to replace it)" if exc.overridable else ""
    return StratsimError(f"{flag} {exc}{hint}")


def kpi_table(sim, kpis) -> object:
    """A rich Table of the last period's KPIs of ``sim`` (mean, P10, P50, P90)."""
    from rich.table import Table

    from ..engine.kpi import KPIS

    summary = sim.last_summary() or {}
    table = Table(
        title=f"Period {sim.period} of {sim.horizon} ({sim.n_paths} paths, policy {sim.policy_name})",
        caption=f"satisfaction model: {sim.satisfaction_model.description}; "
        f"privacy model: {sim.privacy_model.description}",
    )
    table.add_column("KPI")
    table.add_column("unit", style="dim")
    for col in ("mean", "P10", "P50", "P90"):
        table.add_column(col, justify="right")
    for k in kpis:
        if k in summary:
            s = summary[k]
            table.add_row(
                KPIS[k][0], KPIS[k][1], *(fmt(s[x]) for x in ("mean", "p10", "p50", "p90"))
            )
    return table


COMPILE_HELP = (
    "torch.compile the simulation step (opt-in): seconds to compile once, then about 2x faster "
    "steps; for long runs and sweeps (falls back to the plain step, with a warning, where unavailable)"
)


def set_compile(args) -> bool:
    """``--compile``: :func:`~stratsim.engine.market.use_compile` for the command's device;
    a one-line warning on stderr where it is unavailable. Returns whether it is on."""
    if not getattr(args, "compile", False):
        return False
    from ..engine.device import resolve_device
    from ..engine.market import use_compile

    def warn(why: str) -> None:
        print(f"stratsim: warning: --compile: {why}", file=sys.stderr)

    why = use_compile(
        True, resolve_device(getattr(args, "device", None) or "auto"), on_fallback=warn
    )
    if why is not None:
        warn(f"{why}; the step runs uncompiled")
    return why is None


def set_threads(threads: int, n_paths: int | None) -> int:
    """``--threads`` for a command: the engine's one thread policy,
    :func:`~stratsim.engine.device.configure_threads` (``threads`` 0: the policy)."""
    from ..engine.device import configure_threads

    return configure_threads(threads, n_paths)
