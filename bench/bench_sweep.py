"""Benchmark of ``stratsim sweep``: the vectorized local backend against one
``Simulation`` per point, and against the Ray backend, in one run.

Run: ``python bench/bench_sweep.py [--points 100] [--paths 1000] [--months 36] [--repeats 3]
[--ray-cpus 2] [--device cpu]``.

The sweep is a grid over ``allocation.c_share`` x ``to_b.win_rate`` (10 x 10 = 100 points
by default) on the default scenario, float32, CPU, one torch thread in this process:

* **local**: :func:`stratsim.engine.analysis.sweep.evaluate` (points batched as paths of
  one simulation, in chunks of the default 1 GiB budget);
* **one at a time**: for each point a :class:`~stratsim.engine.simulation.Simulation`
  with that point's scenario, run over the months (what a tool that runs the model once
  per sample does);
* **ray**: the same ``evaluate`` with ``backend="ray"`` on a local Ray of ``--ray-cpus``
  CPUs, the same chunks as tasks: ``ray.init``, a first run (the workers start and import
  torch) and a second run on warm workers are timed apart (skipped when Ray is not
  installed).

Each figure is the median of ``--repeats`` timings after one small warm-up run of each.
Prints wall times, path-periods per second (points x paths x months / seconds), the
speed-up of local over one at a time (target >= 10x) and the Ray overhead, plus the peak
RSS growth per path of one batch (what ``BYTES_PER_PATH_FLOAT32`` in ``sweep.py`` is
sized on). Exit status 0 when the 10x target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time


def median_time(fn, repeats: int):
    """(median seconds of ``repeats`` calls of ``fn``, the last call's result)."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100, help="grid points (a square number: n x n)")
    ap.add_argument("--paths", type=int, default=1000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ray-cpus", type=int, default=2)
    ap.add_argument(
        "--device",
        default="cpu",
        help="torch device of the local and one-at-a-time runs (Ray: cpu)",
    )
    args = ap.parse_args()

    import numpy as np
    import torch

    from stratsim.engine.analysis import sweep as sw
    from stratsim.engine.scenario import Scenario, scenario_from_dict
    from stratsim.engine.simulation import Simulation

    torch.set_num_threads(1)
    n = int(round(args.points**0.5))
    scenario = Scenario()
    design = sw.grid_design(
        [("allocation.c_share", np.linspace(0, 1, n)), ("to_b.win_rate", np.linspace(0.1, 0.4, n))]
    )
    prepared = sw.prepare(scenario, design)
    spec = sw.RunSpec(steps=args.months, paths=args.paths, seed=0, device=args.device)
    work = design.n_points * args.paths * args.months
    print(f"load average {os.getloadavg()[0]:.2f}; {design.n_points} points x {args.paths} paths x {args.months} months "
          f"= {work:,} path-periods")  # fmt: skip

    def run_local(spec=spec):
        return sw.evaluate(prepared, spec)

    def run_singles(months=args.months):
        out = []
        for i, d in enumerate(prepared.decisions):
            data = scenario.to_dict()
            data["allocation"] = d.to_dict()
            data["to_b"]["win_rate"] = float(prepared.overrides["to_b.win_rate"][i])
            sim = Simulation(
                scenario_from_dict(data), seed=0, n_paths=args.paths, device=args.device
            )
            sim.run(months)
            out.append(sim.last_summary()["npv"]["mean"])
        return out

    sw.evaluate(
        sw.prepare(scenario, sw.grid_design([("allocation.c_share", [0.5])])),
        sw.RunSpec(steps=2, paths=8, device=args.device),
    )
    Simulation(scenario, n_paths=8, device=args.device).run(2)  # warm-up
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t_local, local = median_time(run_local, args.repeats)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    paths_batch = max(b - a for a, b in sw.plan_chunks(design.n_points, args.paths)) * args.paths
    print(f"local vectorized: {t_local:8.2f} s  {work / t_local:12,.0f} path-periods/s  ({local.n_chunks} chunk(s); "
          f"peak RSS growth {(rss1 - rss0) * 1024 / paths_batch:.0f} B/path)")  # fmt: skip
    t_single, singles = median_time(run_singles, args.repeats)
    print(f"one Simulation per point: {t_single:8.2f} s  {work / t_single:12,.0f} path-periods/s")
    y = local.horizon_values("npv")
    same = np.allclose(y, singles, rtol=1e-6)
    speedup = t_single / t_local
    print(f"speed-up local / one at a time: {speedup:.1f}x (target >= 10x); same NPV means: {same}")

    try:
        import ray
    except ImportError:
        print("ray: not installed (pip install 'stratsim[scale]'); skipped")
        return 0 if speedup >= 10 and same else 1
    t0 = time.perf_counter()
    ray.init(num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False)
    t_init = time.perf_counter() - t0
    try:
        cpu_spec = sw.RunSpec(steps=args.months, paths=args.paths, seed=0, device="cpu")
        t0 = time.perf_counter()
        remote = sw.evaluate(prepared, cpu_spec, backend="ray")
        t_cold = time.perf_counter() - t0  # the workers start and import torch
        t0 = time.perf_counter()
        remote = sw.evaluate(prepared, cpu_spec, backend="ray")
        t_ray = time.perf_counter() - t0  # warm workers
    finally:
        t0 = time.perf_counter()
        ray.shutdown()
        t_down = time.perf_counter() - t0
    identical = (
        np.array_equal(remote.horizon_values("npv"), y)
        if args.device == "cpu"
        else np.allclose(remote.horizon_values("npv"), y, rtol=1e-4)
    )
    print(f"ray ({args.ray_cpus} CPUs, {remote.n_chunks} tasks), warm workers: {t_ray:8.2f} s  {work / t_ray:12,.0f} path-periods/s "
          f"({t_ray / t_local:.2f}x local); first run (workers start) {t_cold:.1f} s; ray.init {t_init:.1f} s, "
          f"shutdown {t_down:.1f} s: a command with its own local Ray takes {(t_cold + t_init + t_down) / t_local:.1f}x "
          f"local; identical to local: {identical}")  # fmt: skip
    return 0 if speedup >= 10 and same and identical else 1


if __name__ == "__main__":
    sys.exit(main())
