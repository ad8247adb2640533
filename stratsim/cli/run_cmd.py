"""``stratsim run``: a headless Monte-Carlo run with a progress bar and a KPI table.

Sessions: ``--out SESSION.toml`` saves the run as a session (atomically, at the end);
``--session SESSION.toml`` continues a saved one (saved back to it unless ``--out``).
While a session target is set, the run autosaves to ``NAME.autosave.toml`` beside it (at
most once a second, and on the last step), on Ctrl-C, and on SIGHUP/SIGTERM (then exits
129/143); the autosave is removed once the session itself is saved. A session written in
place (a device such as ``/dev/full``, a FIFO, ``/dev/stdout``) or in ``/dev``, ``/proc``,
``/sys`` gets no autosave (:func:`stratsim.engine.outputs.sibling_problem`): nothing is
created beside it, and a failed save says so.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..engine.policies import UNATTENDED_POLICIES
from ._common import COMPILE_HELP, nonneg_int, output_file, positive_int

SHOWN_KPIS = (
    "users_c", "paid_c", "paid_share_c", "accounts_b", "seats_b", "mrr_c", "mrr_b", "satisfaction_c",
    "satisfaction_b", "nrr_b", "grr_b", "cac_payback_b", "incident_prob", "p_incident_so_far", "cash",
    "npv", "npv_total", "npv_total_arr", "p_cash_negative",
)  # fmt: skip


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run the simulation headless and print the final period's KPIs",
        description="Run the Monte-Carlo simulation without the TUI. Prints a table of the final "
        "period's KPIs (mean, P10, P50, P90 over paths); --csv writes every period.",
    )
    p.add_argument(
        "--scenario", type=Path, help="scenario TOML (default: the shipped default scenario)"
    )
    p.add_argument(
        "--steps",
        type=nonneg_int,
        help="months to simulate (default: the scenario's horizon; 0 with --session: just re-save it)",
    )
    p.add_argument(
        "--paths", type=positive_int, help=f"Monte-Carlo sample paths (default {DEFAULTS['paths']})"
    )
    p.add_argument("--seed", type=nonneg_int, help=f"random seed (default {DEFAULTS['seed']})")
    p.add_argument(
        "--policy", choices=UNATTENDED_POLICIES,
        help="allocation policy (default fixed; with --session: the session's); optimize re-optimizes every 3 months over the next 12 (256 paths, 12 gradient steps)",
    )  # fmt: skip
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda", "mps"),
        help="torch device (default auto: cuda, mps, cpu; with --session: the session's)",
    )
    p.add_argument("--dtype", choices=("float32", "float64"), help="tensor dtype (default float32)")
    p.add_argument(
        "--models", type=Path, help="folder of trained models (from `stratsim train --out`)"
    )
    p.add_argument(
        "--csv",
        type=output_file,
        help="write the tidy KPI table (period,kpi,mean,p10,p50,p90) here",
    )
    p.add_argument(
        "--out",
        type=output_file,
        metavar="SESSION.toml",
        help="save the run as a session file (autosaves to NAME.autosave.toml beside it while running)",
    )
    p.add_argument(
        "--session", type=Path, metavar="SESSION.toml",
        help="continue a saved session (replayed from its seed); --steps more months (default: up to the "
        "horizon); saved back to it unless --out is given. Not combinable with --scenario/--paths/--seed/--dtype/--models",
    )  # fmt: skip
    p.add_argument(
        "--threads", type=nonneg_int, default=0,
        help="torch CPU threads (default 0: the engine's policy, one thread: a second one measured slower at every size on a shared machine)",
    )  # fmt: skip
    p.add_argument(
        "--chunk-paths", type=positive_int, metavar="N",
        help="step the paths N at a time through the whole horizon and merge the KPI summaries (bounded "
        "memory; the mean exact, percentiles from a 131,072-path subsample above that many paths). "
        "Default: chunks of 1,000,000 above 5,000,000 paths (up to 100,000,000). Fixed policy, no sessions",
    )  # fmt: skip
    p.add_argument("--compile", action="store_true", help=COMPILE_HELP)
    p.add_argument(
        "--allow-external-models",
        action="store_true",
        help="with --session: accept model files outside the session's folder",
    )
    p.add_argument(
        "--force", action="store_true",
        help="replace an existing --out/--csv file that stratsim did not write as that kind of file "
        "(or a symbolic link: the link is replaced, never the file it points to)",
    )  # fmt: skip
    p.set_defaults(func=run)


DEFAULTS = {"paths": 1000, "seed": 0, "policy": "fixed", "device": "auto", "dtype": "float32"}
_NEW_RUN_ONLY = ("scenario", "paths", "seed", "dtype", "models")


def _opt(args: argparse.Namespace, name: str):
    value = getattr(args, name, None)
    return DEFAULTS[name] if value is None else value


def build_simulation(args: argparse.Namespace):
    """The Simulation described by run's flags (scenario, seed, paths, policy, device, dtype, models)."""
    from ..engine.scenario import load_scenario

    scenario = load_scenario(args.scenario)  # before torch is imported: bad input fails fast
    from ..engine.simulation import Simulation

    models = {}
    if args.models is not None:
        from ..engine.trained import load_models

        models = load_models(args.models)
    return Simulation(
        scenario,
        seed=_opt(args, "seed"),
        n_paths=_opt(args, "paths"),
        dtype=_opt(args, "dtype"),
        device=_opt(args, "device"),
        policy=_opt(args, "policy"),
        satisfaction_model=models.get("satisfaction"),
        privacy_model=models.get("privacy"),
    )


def _progress(label: str):
    """A rich progress bar on stderr (hidden when stderr is not a terminal), removed when done."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    err = Console(stderr=True)
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    )  # fmt: skip


def _warn_models(sim) -> None:
    """Print the simulation's model warnings (:meth:`Simulation.model_warnings`) on stderr."""
    for line in sim.model_warnings():
        print(f"stratsim: warning: {line}", file=sys.stderr)


def _write_csv(sim, args: argparse.Namespace, saved: str = "") -> None:
    """Write ``--csv`` (the tidy KPI table) if given; ``saved`` is appended to a failure
    (what was already written)."""
    from ..engine.errors import StratsimError
    from ..engine.fileio import printable
    from ..engine.outputs import write_table

    if args.csv is None:
        return
    try:
        write_table(sim.kpi_frame(), args.csv, "csv", force=args.force)
    except OSError as exc:
        raise StratsimError(
            f"--csv {printable(args.csv)}: cannot write: {exc.strerror or exc}{saved}"
        ) from None
    n_kpis = len(sim.history[-1]) if sim.history else 0
    print(f"wrote {printable(args.csv)} ({sim.period} periods x {n_kpis} KPIs)", file=sys.stderr)


def _run_chunked(args: argparse.Namespace) -> int:
    """``run`` as a :class:`~stratsim.engine.chunked.ChunkedRun` (table and --csv only)."""
    from rich.console import Console

    from ..engine.chunked import DEFAULT_CHUNK_PATHS, ChunkedRun
    from ..engine.errors import StratsimError
    from ..engine.fileio import printable
    from ..engine.scenario import load_scenario
    from ..engine.simulation import MAX_PATHS
    from ._common import kpi_table, set_compile, set_threads

    why = (
        "--chunk-paths"
        if args.chunk_paths is not None
        else f"--paths above {MAX_PATHS:,} (a chunked run)"
    )
    for flag, value in (("--out", args.out), ("--session", args.session)):
        if value is not None:
            raise StratsimError(
                f"{flag} {printable(value)}: {why} cannot be saved as a session (a session is replayed in memory); use --csv"
            )
    if _opt(args, "policy") != "fixed":
        raise StratsimError(
            f"--policy {args.policy}: {why} needs --policy fixed (a feedback policy decides from all paths each month)"
        )
    scenario = load_scenario(args.scenario)
    models = {}
    if args.models is not None:
        from ..engine.trained import load_models

        models = load_models(args.models)
    sim = ChunkedRun(
        scenario, seed=_opt(args, "seed"), n_paths=_opt(args, "paths"), chunk_paths=args.chunk_paths or DEFAULT_CHUNK_PATHS,
        dtype=_opt(args, "dtype"), device=_opt(args, "device"), satisfaction_model=models.get("satisfaction"),
        privacy_model=models.get("privacy"),
    )  # fmt: skip
    set_threads(args.threads, sim.chunk_paths)
    set_compile(args)
    _warn_models(sim)
    steps = args.steps if args.steps is not None else sim.horizon
    with _progress(f"simulating {sim.n_chunks} chunk(s)") as progress:
        task = progress.add_task("run", total=steps * sim.n_chunks)
        sim.run(steps, on_progress=lambda done, total: progress.update(task, completed=done))
    Console().print(kpi_table(sim, SHOWN_KPIS))
    _write_csv(sim, args)
    return 0


def _continue_session(args: argparse.Namespace):
    """Load ``--session`` (refusing flags that would contradict it); returns the LoadedSession."""
    from ..engine.errors import StratsimError
    from ..engine.fileio import printable
    from ..engine.session import load_session

    given = [f"--{n}" for n in _NEW_RUN_ONLY if getattr(args, n, None) is not None]
    if given:
        raise StratsimError(
            f"{', '.join(given)} cannot be combined with --session: a session keeps its own scenario, seed, paths, dtype and models"
        )
    loaded = load_session(
        args.session,
        allow_external_models=args.allow_external_models,
        device=args.device,
        threads=args.threads,
    )
    for line in loaded.warnings:
        print(f"stratsim: warning: {printable(line)}", file=sys.stderr)
    if args.policy is not None:
        loaded.simulation.set_policy(args.policy)
    return loaded


def _check_targets(args: argparse.Namespace):
    """Refuse outputs that would overwrite an input or a file of another kind; returns
    the session target (``--out``, else ``--session``, else None)."""
    from ..engine.kpi import TIDY_COLUMNS
    from ..engine.outputs import table_kind
    from ..engine.session import SESSION_FILE
    from ._common import check_outputs, refuse_clobber

    refuse_clobber(
        {"--csv": args.csv},
        {"--scenario": args.scenario, "--session": args.session, "--out": args.out},
    )
    refuse_clobber({"--out": args.out}, {"--scenario": args.scenario})
    target = args.out if args.out is not None else args.session
    csv_kind = table_kind(TIDY_COLUMNS, "csv")
    check_outputs(
        [
            ("--out" if args.out is not None else "--session", target, SESSION_FILE),
            ("--csv", args.csv, csv_kind),
        ],
        args.force,
    )
    return target


def _autosave_target(target):
    """``(autosave_to, no_autosave)``: the session path the run autosaves beside (None when
    there is no target or it may have no sibling) and why not (None when it autosaves).

    No autosave beside a device, stream or file in /dev, /proc, /sys: it would litter that
    folder (/dev/full.autosave.toml) or fail; the run is then written only at the end.
    """
    from ..engine.errors import StratsimError
    from ..engine.fileio import OutputError
    from ..engine.outputs import check_output, sibling_problem
    from ..engine.session import SESSION_FILE, autosave_path

    no_autosave = sibling_problem(target) if target is not None else None
    autosave_to = target if no_autosave is None else None
    if autosave_to is not None:
        try:  # the autosave beside the session: only ever replaced when it is a session
            check_output(autosave_path(autosave_to), SESSION_FILE)
        except OutputError as exc:
            raise StratsimError(f"{exc} (this run autosaves there: move it away)") from None
    return autosave_to, no_autosave


def _open_simulation(args: argparse.Namespace):
    """``(sim, name, created, default_steps)``: the continued ``--session`` (its name and
    creation time, steps up to its horizon) or a new simulation (the whole horizon)."""
    if args.session is not None:
        loaded = _continue_session(args)
        sim = loaded.simulation
        return sim, loaded.meta.name, loaded.meta.created, max(0, sim.horizon - sim.period)
    sim = build_simulation(args)
    return sim, None, None, sim.horizon


def _steps_to_run(args: argparse.Namespace, sim, default_steps: int) -> int:
    """Months to simulate (``--steps``, else ``default_steps``), warning past the horizon."""
    steps = args.steps if args.steps is not None else default_steps
    if sim.period + steps > sim.horizon:
        print(
            f"stratsim: warning: periods {max(sim.period, sim.horizon) + 1}..{sim.period + steps} lie past the "
            f"scenario's horizon of {sim.horizon} months (simulation.horizon_months); simulating them anyway",
            file=sys.stderr,
        )
    elif steps == 0 and args.steps is None:
        print(
            f"stratsim: warning: the session is at its horizon (period {sim.period}); give --steps N to go on",
            file=sys.stderr,
        )
    return steps


def _simulate(sim, steps: int, autosave_to, no_autosave, name, created) -> None:
    """Run ``steps`` months with a progress bar, autosaving beside ``autosave_to`` at most
    once a second, on the last step, on Ctrl-C (then re-raised) and on SIGHUP/SIGTERM."""
    import time

    from ..engine.fileio import printable
    from ..engine.session import autosave, install_signal_autosave

    start, last_autosave = sim.period, [0.0]

    def after_step(period: int, progress, task) -> None:
        progress.advance(task)
        if autosave_to is not None and (
            time.monotonic() - last_autosave[0] >= 1.0 or period == start + steps
        ):
            autosave(sim, autosave_to, name=name, created=created)
            last_autosave[0] = time.monotonic()

    guard = (
        install_signal_autosave(lambda: sim, autosave_to, name=name, created=created)
        if autosave_to is not None
        else None
    )
    try:
        with _progress("simulating") as progress:
            task = progress.add_task("run", total=steps)
            sim.run(steps, on_step=lambda period, summary: after_step(period, progress, task))
    except KeyboardInterrupt:
        if autosave_to is not None:
            path = autosave(sim, autosave_to, name=name, created=created)
            print(f"stratsim: autosaved period {sim.period} to {printable(path)}", file=sys.stderr)
        elif no_autosave is not None:
            print(
                f"stratsim: interrupted at period {sim.period}; nothing autosaved ({no_autosave})",
                file=sys.stderr,
            )
        raise
    finally:
        if guard is not None:
            guard.uninstall()


def _save(
    sim, args: argparse.Namespace, target, autosave_to, no_autosave, steps: int, name, created
) -> None:
    """Save the session to ``target`` and drop its autosave; a failure says where the run
    is still kept (the autosave, when one was written)."""
    from ..engine.errors import StratsimError
    from ..engine.fileio import printable
    from ..engine.session import autosave_path, discard_autosave, save_session

    try:
        save_session(sim, target, name=name, created=created, force=args.force)
    except StratsimError as exc:
        if autosave_to is None:
            kept = f" (no autosave is kept: {no_autosave})"
        else:
            auto = autosave_path(autosave_to)
            kept = (
                f" (the run is autosaved in {printable(auto)})"
                if os.path.isfile(auto) and steps > 0
                else ""
            )
        raise StratsimError(f"{exc}{kept}") from None
    if autosave_to is not None:
        discard_autosave(autosave_to)
    print(
        f"saved session {printable(target)} (period {sim.period}, {sim.n_paths} paths, seed {sim.seed})",
        file=sys.stderr,
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..engine.fileio import printable
    from ..engine.simulation import MAX_PATHS
    from ._common import kpi_table, set_compile, set_threads

    target = _check_targets(args)
    if args.chunk_paths is not None or _opt(args, "paths") > MAX_PATHS:
        return _run_chunked(args)
    autosave_to, no_autosave = _autosave_target(target)
    sim, name, created, default_steps = _open_simulation(args)
    set_threads(args.threads, sim.n_paths)
    set_compile(args)
    _warn_models(sim)
    steps = _steps_to_run(args, sim, default_steps)
    _simulate(sim, steps, autosave_to, no_autosave, name, created)
    Console().print(kpi_table(sim, SHOWN_KPIS))
    # The session (primary output) first: a failing --csv must not lose the run.
    if target is not None:
        _save(sim, args, target, autosave_to, no_autosave, steps, name, created)
    _write_csv(
        sim, args, f" (the session {printable(target)} is saved)" if target is not None else ""
    )
    return 0
