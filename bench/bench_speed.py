"""Issue 13's benchmark: where the time of a run goes, against the machine's limits.

Run: ``python bench/bench_speed.py [--repeats 5] [--no-compile] [--no-rss10m] [--no-tui]
[--threads-scan]``.

One torch thread (the engine's policy), CPU, float32, default scenario and models, all in
one run so the ratios are comparable on a loaded machine (the load average is printed):

* the full run (``Simulation.step``: step + KPI summary), in path-periods per second, at
  10,000, 100,000 and 1,000,000 paths (target: >= 3M path-periods/s at 10,000 paths),
  each eager and (``--compile``, :func:`stratsim.engine.market.use_compile`) compiled, side
  by side, with the compile time;
* the step alone (``market.step``) against two limits measured in the same run:
  dispatch (aten ops per step, counted with a dispatch mode, x the measured per-op cost of
  a 1-element ``add``) and bandwidth (bytes the step's ops read and write, counted the same
  way, / the measured copy bandwidth of a 256 MiB tensor); target: the full run within
  2x of the bandwidth limit at 1,000,000 paths;
* the KPI summary's share of a run (target < 20%) and its speed-up over the summary of
  stratsim 0.1/model v2 (:data:`BASE_COMMIT`, loaded from git history) at 10,000, 100,000
  and 1,000,000 paths (the new one subsamples quantiles from 1,000,000 paths up);
* ``--threads-scan``: one against two threads at 10,000 to 2,000,000 paths (the thread
  policy's threshold, :data:`stratsim.engine.device.SINGLE_THREAD_BELOW_PATHS`);
* peak RSS of ``stratsim run --paths 10000000 --steps 2`` (chunked; target 4 GB) in a
  child process (``--no-rss10m`` skips it);
* the TUI's key press to the next ``Period N`` at 100,000 paths (target < 200 ms;
  ``bench/bench_tui.py``'s step latency, ``--no-tui`` skips it);
* a summary table of every target, met or missed by how much.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_COMMIT = "32720b0"  # main before issue 13 (model v2)


def median_time(fn, repeats: int, best: bool = False) -> float:
    """Median (or, ``best``, minimum) seconds of ``repeats`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) if best else statistics.median(times)


def old_summarize():
    """``kpi.summarize`` as of :data:`BASE_COMMIT` (None when git history is unavailable)."""
    try:
        src = subprocess.run(
            ["git", "show", f"{BASE_COMMIT}:stratsim/engine/kpi.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "kpi_base.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("kpi_base", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.summarize


def count_step(sim):
    """(aten ops, bytes read+written by them) of one ``market.step`` of ``sim``."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from stratsim.engine import market

    class Count(TorchDispatchMode):
        ops = 0
        nbytes = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            Count.ops += 1
            flat = [*args, *(out if isinstance(out, (tuple, list)) else (out,))]
            for t in flat:
                # an expand (stride 0) is not touched per element
                if isinstance(t, torch.Tensor) and t.numel() > 1 and 0 not in t.stride():
                    Count.nbytes += t.numel() * t.element_size()
            return out

    state, gen = sim.state, sim._gen.get_state()
    dt = sim.decision_tensors(sim.next_decision())
    with Count():
        market.step(sim.params, state, dt, sim._gen, sim.satisfaction_model, sim.privacy_model)
    sim._gen.set_state(gen)
    return Count.ops, Count.nbytes


def limits(repeats: int) -> tuple[float, float]:
    """(seconds per dispatched op, copy bandwidth in bytes/s), measured now: the best of
    ``3 * repeats`` (a limit is what the machine can do; other users' load only slows it)."""
    import torch

    a, b = torch.ones(1), torch.ones(1)
    per_op = (
        median_time(lambda: [torch.add(a, b) for _ in range(1000)], 3 * repeats, best=True) / 1000
    )
    big = torch.ones(64 * 2**20)  # 256 MiB
    dst = torch.empty_like(big)
    t = median_time(lambda: dst.copy_(big), 3 * repeats, best=True)
    return per_op, 2 * big.numel() * 4 / t


def bench_size(
    n: int, periods: int, repeats: int, per_op: float, bw: float, base, compiled: bool = False
) -> dict:
    """One line of figures at ``n`` paths (see the module docstring), eager or compiled;
    returns them."""
    import torch._dynamo

    from stratsim.engine import market
    from stratsim.engine.kpi import QUANTILE_SAMPLE_FROM, summarize
    from stratsim.engine.simulation import Simulation

    sim = Simulation(seed=0, n_paths=n, device="cpu")
    ops, nbytes = count_step(sim)  # the eager step's ops and bytes: the limits
    compile_s = 0.0
    if compiled:
        torch._dynamo.reset()  # a fresh (static-shape) compilation for this size
        market.use_compile(True)
        t0 = time.perf_counter()
        sim.run(1)
        compile_s = time.perf_counter() - t0
        sim.run(1)
    else:
        sim.run(2)
    dt = sim.decision_tensors(sim.next_decision())
    saved = sim._gen.get_state()

    def step():
        return market.step(
            sim.params, sim.state, dt, sim._gen, sim.satisfaction_model, sim.privacy_model
        )

    step_s = median_time(step, repeats)
    sim._gen.set_state(saved)
    out = step()[1]
    summ_s = median_time(lambda: summarize(out, sim.quantile_sample), repeats)
    t0 = time.perf_counter()
    sim.run(periods)
    full_s = (time.perf_counter() - t0) / periods
    market.use_compile(False)
    disp_s, bw_s = ops * per_op, nbytes / bw
    mode = f"compiled ({compile_s:.0f} s to compile)" if compiled else "eager"
    line = (
        f"{n:>9,} paths, {mode}: full run {n / full_s / 1e6:6.2f}M path-periods/s ({full_s * 1e3:7.1f} ms/period); "
        f"step {step_s * 1e3:7.1f} ms = {step_s / disp_s:4.1f}x dispatch limit ({ops} ops, {disp_s * 1e3:.2f} ms), "
        f"{step_s / bw_s:4.1f}x bandwidth limit ({nbytes / 1e9:.2f} GB, {bw_s * 1e3:.1f} ms); "
        f"summary {summ_s * 1e3:6.1f} ms = {summ_s / (summ_s + step_s):4.0%} of a period"
    )
    if base is not None and not compiled:
        old_s = median_time(lambda: base(out), max(1, repeats // 2) if n >= 1_000_000 else repeats)
        line += f"; summary {old_s / summ_s:.2f}x faster than {BASE_COMMIT} ({old_s * 1e3:.1f} ms)"
    if n >= QUANTILE_SAMPLE_FROM:
        line += " [quantiles subsampled]"
    print(line, flush=True)
    return {
        "n": n,
        "compiled": compiled,
        "full_s": full_s,
        "step_s": step_s,
        "summ_s": summ_s,
        "bw_s": bw_s,
    }


def verdict(ok: bool, missed_by: float) -> str:
    return "met" if ok else f"MISSED by {missed_by:.2f}x"


def bench_runs(repeats: int, compiled: bool) -> list[dict]:
    per_op, bw = limits(repeats)
    print(f"limits: {per_op * 1e6:.2f} us per dispatched op; copy bandwidth {bw / 1e9:.1f} GB/s")
    base = old_summarize()
    rows = []
    for n, periods in ((10_000, 24), (100_000, 6), (1_000_000, 3)):
        for mode in (False, True) if compiled else (False,):
            rows.append(bench_size(n, periods, repeats, per_op, bw, base, mode))
    return rows


def targets(rows: list[dict], rss: float | None, tui_ms: float | None) -> None:
    """Every target of issue 13, met or missed by how much."""
    print("targets:")
    for r in rows:
        mode = "compiled" if r["compiled"] else "eager"
        n, full_s = r["n"], r["full_s"]
        share = r["summ_s"] / (r["summ_s"] + r["step_s"])
        print(
            f"  {n:>9,} paths, {mode:8}: summary {share:4.0%} of a period (< 20%: {verdict(share < 0.2, share / 0.2)})",
            end="",
        )
        if n == 10_000:
            print(
                f"; full run {n / full_s / 1e6:.2f}M path-periods/s (>= 3M: {verdict(n / full_s >= 3e6, 3e6 * full_s / n)})",
                end="",
            )
        if n == 1_000_000:
            ratio = full_s / r["bw_s"]
            print(
                f"; full run {ratio:.1f}x the bandwidth limit (<= 2x: {verdict(ratio <= 2, ratio / 2)})",
                end="",
            )
        print()
    if rss is not None:
        print(
            f"  10,000,000 paths peak RSS {rss / 2**30:.2f} GiB (<= 4 GB: {verdict(rss <= 4e9, rss / 4e9)})"
        )
    if tui_ms is not None:
        print(
            f"  TUI key to next period at 100,000 paths {tui_ms:.0f} ms (< 200 ms: {verdict(tui_ms < 200, tui_ms / 200)})"
        )


def threads_scan(repeats: int) -> None:
    import torch

    from stratsim.engine.simulation import Simulation

    for n in (10_000, 100_000, 1_000_000, 2_000_000):
        res = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            sim = Simulation(seed=0, n_paths=n, device="cpu")
            sim.run(1)
            res[threads] = median_time(
                lambda sim=sim: sim.step(), max(2, repeats // (1 + n // 500_000))
            )
            del sim
        print(
            f"threads {n:>9,} paths: 1 thread {res[1] * 1e3:7.1f} ms/period, 2 threads {res[2] * 1e3:7.1f} ms; "
            f"2 threads {res[1] / res[2]:.2f}x the speed of 1"
        )
    torch.set_num_threads(1)


def rss10m() -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "stratsim", "run", "--paths", "10000000", "--steps", "2", "--device", "cpu"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(
        f"10,000,000 paths x 2 periods (chunked): peak RSS {peak / 2**30:.2f} GiB in {time.perf_counter() - t0:.0f} s "
        f"(target 4 GB: {'met' if peak <= 4e9 else 'MISSED'})"
    )
    return peak


def tui_latency(steps: int) -> float | None:
    """Median ms from ``n`` to the next ``Period N`` at 100,000 paths (bench/bench_tui.py)."""
    spec = importlib.util.spec_from_file_location(
        "bench_tui", Path(__file__).with_name("bench_tui.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    here = os.getcwd()
    try:
        return mod.bench_step_latency(100_000, steps) * 1e3
    finally:
        os.chdir(here)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the compiled step (default on)",
    )
    ap.add_argument(
        "--rss10m",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a 10,000,000-path run's peak RSS (default on)",
    )
    ap.add_argument(
        "--tui",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the TUI's key to next period at 100,000 paths (default on)",
    )
    ap.add_argument("--threads-scan", action=argparse.BooleanOptionalAction, default=False)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (1 min)"
    )
    rows = bench_runs(args.repeats, args.compile)
    if args.threads_scan:
        threads_scan(args.repeats)
    rss = rss10m() if args.rss10m else None
    tui_ms = tui_latency(5) if args.tui else None
    targets(rows, rss, tui_ms)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
