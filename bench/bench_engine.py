"""Benchmark of one simulation period: the vectorized engine against the scalar reference.

Run: ``python bench/bench_engine.py [--repeats 7] [--dtype float32] [--threads N]``.

Measured side by side in one run, on the CPU, default scenario and models, engine dtype
float32 (the default) unless ``--dtype float64``:

* ``market.step`` (shock draws included) at 100 and at 10,000 paths;
* the same plus ``kpi.summarize`` (mean/P10/P50/P90 of every KPI), i.e. what
  ``Simulation.step`` costs;
* the scalar, per-path reference (``tests/reference_model.py``) over 10,000 paths;
* what ``stratsim run --steps 24 --paths 10000`` costs: the import time (fresh
  interpreter), ``Simulation.run(24)`` at 10,000 paths and the share of ``kpi.summarize``.

With torch's default thread count above 1 (and no ``--threads``), everything is measured
again with one thread: on a busy machine intra-op threads wait for each other at every
operation and the default-thread figures then say more about the load than the engine.
The load average is printed. The verdict (exit status) uses the default thread count.

Each figure is the median of ``--repeats`` timings. Prints the ratios and whether the
design's performance targets are met: the vectorized period at 10,000 paths at
least 100x faster than the reference loop over the same paths, and within 3x of the
period at 100 paths. Exit status 0 when every target is met, 1 otherwise.

``--versions`` (on by default; ``--no-versions`` skips it) compares the model v2 engine
with the previous one (model v1, commit :data:`V1_COMMIT`, loaded from git history into a
temporary package) in the same run, one torch thread, float32: path-periods per second of
``step`` + ``summarize`` at 10,000 and 1,000,000 paths, default scenario and models.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def median_time(fn, repeats: int, inner: int = 1) -> float:
    """Median seconds per call of ``fn`` over ``repeats`` timings of ``inner`` calls."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def import_seconds() -> float:
    """Wall time of importing the engine (torch included) in a fresh interpreter."""
    code = "import time; t=time.perf_counter(); import stratsim.engine.simulation; print(time.perf_counter()-t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def measure(repeats: int, dtype_name: str) -> dict[str, float]:
    """Seconds per period: step and step+summarize at 100 and 10,000 paths, the
    reference at 10,000 paths, and a 24-period Simulation.run at 10,000 paths."""
    import reference_model as ref
    import torch

    from stratsim.engine import kpi, market
    from stratsim.engine.decisions import Decision
    from stratsim.engine.models import LinearSatisfaction, LogisticPrivacy
    from stratsim.engine.params import draw_params
    from stratsim.engine.scenario import Scenario
    from stratsim.engine.scenario_draw import draw_parameters
    from stratsim.engine.simulation import Simulation

    dtype = getattr(torch, dtype_name)
    cpu = torch.device("cpu")
    sat, inc = LinearSatisfaction(), LogisticPrivacy()
    decision = Decision().validate()
    scenario = Scenario()
    results: dict[str, float] = {}
    for n in (100, 10_000):
        params = draw_params(scenario, n, torch.Generator().manual_seed(0), dtype, cpu)
        state = market.initial_state(params, sat)
        gen = torch.Generator().manual_seed(1)
        inner = 50 if n == 100 else 10

        def step(params=params, state=state, gen=gen):
            return market.step(params, state, decision, gen, sat, inc)

        def step_summary(params=params, state=state, gen=gen):
            return kpi.summarize(market.step(params, state, decision, gen, sat, inc)[1])

        results[f"step_{n}"] = median_time(step, repeats, inner)
        results[f"step_sum_{n}"] = median_time(step_summary, repeats, inner)

    n = 10_000
    params = draw_parameters(scenario, n, torch.Generator().manual_seed(0), torch.float64, cpu)
    ref_params = ref.split_paths(params)
    ref_states = [ref.initial_state(p, sat) for p in ref_params]
    s = market.draw_shocks(torch.Generator().manual_seed(1), n, torch.float64, cpu)
    ref_shocks = ref.split_paths({k: getattr(s, k) for k in ref.SHOCK_KEYS})

    def reference():
        return ref.run_paths(ref_params, ref_states, 0, decision, ref_shocks, sat, inc)

    results["reference_10000"] = median_time(reference, max(3, repeats // 2))

    sim = Simulation(scenario, seed=0, n_paths=10_000, dtype=dtype_name, device="cpu")
    t0 = time.perf_counter()
    sim.run(24)
    results["run24_10000"] = time.perf_counter() - t0
    return results


def report(results: dict[str, float], label: str) -> dict[str, bool]:
    ms = {k: v * 1e3 for k, v in results.items()}
    print()
    print(f"{'period cost (ms), ' + label:<44}{'100 paths':>10}{'10,000 paths':>14}{'ratio':>8}")
    for key, name in (
        ("step", "market.step (incl. shock draws)"),
        ("step_sum", "market.step + kpi.summarize"),
    ):
        a, b = ms[f"{key}_100"], ms[f"{key}_10000"]
        print(f"{name:<44}{a:>10.3f}{b:>14.3f}{b / a:>7.2f}x")
    print(f"{'scalar reference loop':<44}{'':>10}{ms['reference_10000']:>14.1f}")
    speed = results["reference_10000"] / results["step_10000"]
    speed_sum = results["reference_10000"] / results["step_sum_10000"]
    scale = results["step_10000"] / results["step_100"]
    scale_sum = results["step_sum_10000"] / results["step_sum_100"]
    print(
        f"vectorized vs reference at 10,000 paths: {speed:,.0f}x (step), {speed_sum:,.0f}x (step + summarize)"
    )
    print(f"10,000 vs 100 paths: {scale:.2f}x (step), {scale_sum:.2f}x (step + summarize)")
    summ = 24 * (ms["step_sum_10000"] - ms["step_10000"]) / 1e3
    print(
        f"Simulation.run(24) at 10,000 paths: {results['run24_10000']:.2f} s (summarize ~{summ:.2f} s of it)"
    )
    checks = {
        "vectorized step >= 100x faster than the reference at 10,000 paths": speed >= 100,
        "step at 10,000 paths within 3x of 100 paths": scale <= 3,
        "step + summarize >= 100x faster than the reference at 10,000 paths": speed_sum >= 100,
        "step + summarize at 10,000 paths within 3x of 100 paths": scale_sum <= 3,
    }
    for name, ok in checks.items():
        print(f"[{'met' if ok else 'MISSED'}] {name} ({label})")
    return checks


#: The last commit of the model v1 engine.
V1_COMMIT = "7c4d89a"
_V1_FILES = (
    "__init__.py",
    "errors.py",
    "decisions.py",
    "models.py",
    "scenario.py",
    "kpi.py",
    "market.py",
)


def load_v1_engine(tmp: Path):
    """The model v1 engine modules (market, scenario, kpi, decisions, models) from git
    history, as the package ``stratsim_v1`` under ``tmp``."""
    import importlib

    pkg = tmp / "stratsim_v1"
    pkg.mkdir()
    for name in _V1_FILES:
        src = (
            ""
            if name == "__init__.py"
            else subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{V1_COMMIT}:stratsim/engine/{name}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        (pkg / name).write_text(src, encoding="utf-8")
    sys.path.insert(0, str(tmp))
    return {
        m: importlib.import_module(f"stratsim_v1.{m}")
        for m in ("market", "scenario", "kpi", "decisions", "models")
    }


def compare_versions(repeats: int) -> None:
    """Path-periods per second of step + summarize, model v2 vs v1, one thread, float32."""
    import tempfile

    import torch

    from stratsim.engine import kpi, market
    from stratsim.engine.decisions import Decision
    from stratsim.engine.models import LinearSatisfaction, LogisticPrivacy
    from stratsim.engine.params import draw_params
    from stratsim.engine.scenario import Scenario

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cpu, f32 = torch.device("cpu"), torch.float32
    print()
    print(
        f"model v2 vs model v1 ({V1_COMMIT}), step + summarize, 1 thread, float32, median of {repeats}"
    )
    print(f"{'paths':>10}{'v1 path-periods/s':>20}{'v2 path-periods/s':>20}{'v2/v1':>8}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            v1 = load_v1_engine(Path(tmp))
            for n in (10_000, 1_000_000):
                inner = 10 if n == 10_000 else 1
                reps = repeats if n == 10_000 else max(3, repeats // 2)
                p1 = v1["scenario"].draw_parameters(
                    v1["scenario"].Scenario(), n, torch.Generator().manual_seed(0), f32, cpu
                )
                s1 = v1["market"].initial_state(p1)
                d1 = v1["decisions"].Decision().validate()
                sat1, inc1 = v1["models"].LinearSatisfaction(), v1["models"].LogisticIncident()
                g1 = torch.Generator().manual_seed(1)

                def old(p1=p1, s1=s1, d1=d1, sat1=sat1, inc1=inc1, g1=g1):
                    return v1["kpi"].summarize(v1["market"].step(p1, s1, d1, g1, sat1, inc1)[1])

                sat, inc = LinearSatisfaction(), LogisticPrivacy()
                p2 = draw_params(Scenario(), n, torch.Generator().manual_seed(0), f32, cpu)
                s2 = market.initial_state(p2, sat)
                d2 = Decision().validate()
                g2 = torch.Generator().manual_seed(1)

                def new(p2=p2, s2=s2, d2=d2, sat=sat, inc=inc, g2=g2):
                    return kpi.summarize(market.step(p2, s2, d2, g2, sat, inc)[1])

                t_old, t_new = median_time(old, reps, inner), median_time(new, reps, inner)
                print(f"{n:>10,}{n / t_old:>20,.0f}{n / t_new:>20,.0f}{t_old / t_new:>8.2f}")
    finally:
        torch.set_num_threads(threads)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's default)"
    )
    ap.add_argument(
        "--versions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="compare with the model v1 engine",
    )
    ap.add_argument(
        "--only-versions", action="store_true", help="only the model v2 vs v1 comparison"
    )
    args = ap.parse_args(argv)
    if args.only_versions:
        compare_versions(args.repeats)
        return 0

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    default_threads = torch.get_num_threads()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"torch {torch.__version__}, {default_threads} threads, {os.cpu_count()} CPUs, load average {load:.2f}, "
        f"dtype {args.dtype}, median of {args.repeats}"
    )
    print(f"import of the engine (torch included) in a fresh interpreter: {import_seconds():.2f} s")
    checks = report(measure(args.repeats, args.dtype), f"{default_threads} threads")
    if default_threads > 1 and args.threads is None:
        # On a busy machine intra-op threads wait for each other at every operation;
        # one thread shows the engine's own cost.
        torch.set_num_threads(1)
        report(measure(args.repeats, args.dtype), "1 thread")
        torch.set_num_threads(default_threads)
    if args.versions:
        compare_versions(args.repeats)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
