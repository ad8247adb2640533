"""Sweeps: many points (decision levers and scenario values) evaluated on common random
numbers, as paths of one vectorized simulation per chunk, locally or as Ray tasks.

A *factor* is a key addressed by its dotted path as in the scenario file: a decision
lever ``allocation.c_share``, ``allocation.c_split.ux``, ... (see
:data:`~.batch.DECISION_LEVERS`) or a scenario parameter ``to_b.win_rate``. A *design*
is ``K`` points, each a value per factor (``values``: ``[K, D]``): a full grid
(:func:`grid_design`) or a Latin hypercube (:func:`lhs_design`, SALib's sampler).

:func:`evaluate` runs the points in the chunks of :func:`plan_chunks` (about
``chunk_paths`` paths each, within the ``--max-memory`` budget); each chunk is one
:class:`~.batch.Batch` of ``points x paths`` paths, so every point sees the random numbers
of a single run with the same seed (common random numbers) whatever the chunking: a point
equals ``stratsim run`` on the scenario with that point's values (to float rounding: torch
may round an element differently at another offset of a tensor). The plan depends on the
design and the flags only, never on the backend, so the Ray backend (:func:`evaluate`
with ``backend="ray"``) runs the same chunks as tasks and returns the local backend's
numbers bit for bit.

Setting one share of a split (``allocation.c_split.ux``) rescales the shares of that
split that the point does not set, in proportion, so the split still sums to 1 (the
others keep their ratios); shares that the point sets are never changed.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..decisions import SPLIT_KEYS, Decision
from ..errors import DecisionError, ScenarioError, StratsimError
from . import parse_finite
from .batch import DECISION_LEVERS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..kpi import Summary
    from ..models import ResponseModel
    from ..scenario import Scenario

#: Prefix of decision levers in dotted keys (the scenario file's ``[allocation]`` table).
LEVER_PREFIX = "allocation."

#: Torch memory one path of a sweep holds at float32 while a period is computed: the
#: state, the parameters overridden per path and the step's intermediate tensors.
#: ``bench/bench_sweep.py`` measured the peak RSS growth of a 100,000-path batch over 36
#: months at 460-960 bytes a path; 2.5 KB leaves room for a model revision with more state
#: and for the allocator's slack. float64 doubles it.
BYTES_PER_PATH_FLOAT32 = 2560

#: Default ``--max-memory``: 1 GiB of paths per chunk.
DEFAULT_MAX_MEMORY = 1 << 30

#: Default ``--chunk-paths``: the step's throughput per path is flat from about 30,000 to
#: 100,000 paths (6.5 and 6.1 M path-steps/s on one thread here, against 2.8 M at 10,000),
#: so chunks of this size lose nothing locally and give Ray one task per chunk.
DEFAULT_CHUNK_PATHS = 65_536

#: Most points of one design (a grid's product grows fast; a sweep of more runs in parts).
MAX_POINTS = 1_000_000

POLICIES = ("fixed", "feedback")
BACKENDS = ("local", "ray")
RAY_INSTALL_HINT = 'Ray is not installed; install it with: pip install "stratsim[scale]" (or: pip install ray)'


class Cancelled(StratsimError):
    """A sweep stopped by its ``should_stop`` callback."""


# ----------------------------------------------------------------------------- keys


def resolve_key(scenario: Scenario, key: str) -> str:
    """The canonical dotted key of a sweep factor, or a one-line error.

    ``allocation.c_share`` (also accepted bare: ``c_share``) and the other levers of
    :data:`~.batch.DECISION_LEVERS` with the ``allocation.`` prefix; or ``section.name``
    of a scenario parameter (``to_b.win_rate``).

    Raises:
        StratsimError: naming the key and what was expected.
    """
    from ..scenario import PARAM_SECTIONS

    k = key.strip()
    lever = k[len(LEVER_PREFIX) :] if k.startswith(LEVER_PREFIX) else k
    if lever in DECISION_LEVERS:
        return LEVER_PREFIX + lever
    section, _, name = k.partition(".")
    if section in PARAM_SECTIONS and name in type(getattr(scenario, section)).model_fields:
        return k
    raise StratsimError(
        f"key {key!r}: unknown; expected a decision lever (allocation.{', allocation.'.join(DECISION_LEVERS[:5])}, "
        f"allocation.c_split.ux, ...) or a scenario parameter section.name such as to_b.win_rate"
    )


def is_lever(key: str) -> bool:
    return key.startswith(LEVER_PREFIX)


def param_keys(scenario: Scenario) -> list[str]:
    """Every scenario parameter key (``section.name``) in scenario order."""
    from ..scenario import PARAM_SECTIONS

    return [f"{s}.{n}" for s in PARAM_SECTIONS for n in type(getattr(scenario, s)).model_fields]


def param_bounds(scenario: Scenario, key: str) -> tuple[float, float, bool]:
    """``(low, high, low_is_strict)`` of a parameter's valid range (``-inf``/``inf`` when
    open), as declared with its default in :mod:`~stratsim.engine.scenario`."""
    from ..scenario import _support

    section, _, name = key.partition(".")
    return _support(type(getattr(scenario, section)).model_fields[name].json_schema_extra or {})


# ------------------------------------------------------------------------- designs


@dataclass
class Design:
    """``K`` points over ``D`` factors: ``values[k, d]`` is point ``k``'s value of ``keys[d]``."""

    keys: list[str]
    values: np.ndarray  # [K, D] float64
    kind: str = "grid"

    @property
    def n_points(self) -> int:
        return int(self.values.shape[0])


def _number(text: str, key: str, what: str) -> float:
    return parse_finite(text, f"key {key}: {what}")


def parse_grid(spec: str, lhs: bool = False) -> tuple[str, list[float]]:
    """``KEY=START:STOP:N`` (N evenly spaced values, ends included) or ``KEY=V1,V2,...``;
    with ``lhs`` the range ``KEY=START:STOP`` the hypercube samples uniformly.

    Returns:
        ``(key, values)``; for ``lhs``, ``values == [START, STOP]``.

    Raises:
        StratsimError: naming the key: bad syntax, a non-number, N < 1, an empty range
            (STOP below START, or N > 1 values on START == STOP), or N = 1 on a range
            (START != STOP: one point where a range was meant).
    """
    import numpy as np

    key, eq, rhs = spec.partition("=")
    key = key.strip()
    if not eq or not key or not rhs.strip():
        form = "KEY=START:STOP" if lhs else "KEY=START:STOP:N or KEY=V1,V2,..."
        raise StratsimError(f"grid {spec!r}: expected {form}")
    if lhs:
        parts = rhs.split(":")
        if len(parts) != 2:
            raise StratsimError(f"key {key}: range {rhs!r}: with --lhs expected START:STOP (the hypercube sets the points)")
        lo, hi = (_number(p, key, "bound") for p in parts)
        if not hi > lo:
            raise StratsimError(f"key {key}: range {rhs!r}: empty range; expected STOP > START")
        return key, [lo, hi]
    if ":" in rhs:
        parts = rhs.split(":")
        if len(parts) != 3:
            raise StratsimError(f"key {key}: range {rhs!r}: expected START:STOP:N")
        lo, hi = (_number(p, key, "bound") for p in parts[:2])
        try:
            n = int(parts[2])
        except ValueError:
            raise StratsimError(f"key {key}: N {parts[2]!r}: expected a whole number of points >= 1") from None
        if n < 1:
            raise StratsimError(f"key {key}: N {n}: empty range; expected at least 1 point")
        if hi < lo:
            raise StratsimError(f"key {key}: range {rhs!r}: empty range; expected STOP >= START")
        if n > 1 and hi == lo:
            raise StratsimError(f"key {key}: range {rhs!r}: empty range; {n} points on one value, expected STOP > START")
        if n < 2 and hi != lo:
            raise StratsimError(f"key {key}: range {rhs!r}: {n} point on a range; expected N >= 2 (or KEY=V for one value)")
        return key, [float(x) for x in np.linspace(lo, hi, n)]
    values = [_number(p, key, "value") for p in rhs.split(",") if p.strip()]
    if not values:
        raise StratsimError(f"key {key}: values {rhs!r}: empty; expected V1,V2,...")
    if len(set(values)) != len(values):
        raise StratsimError(f"key {key}: values {rhs!r}: repeated value; expected distinct values")
    return key, values


def grid_design(axes: Sequence[tuple[str, Sequence[float]]]) -> Design:
    """The full grid (Cartesian product, the last key varying fastest) of ``axes``."""
    import numpy as np

    if not axes:
        return Design([], np.zeros((1, 0)), "grid")
    keys = [k for k, _ in axes]
    _check_unique(keys)
    n = math.prod(len(v) for _, v in axes)
    if n > MAX_POINTS:
        raise StratsimError(f"grid {' x '.join(f'{k} ({len(v)})' for k, v in axes)}: {n:,} points; expected at most {MAX_POINTS:,} (fewer values per key, or --lhs N)")
    rows = list(itertools.product(*(list(v) for _, v in axes)))
    return Design(keys, np.asarray(rows, dtype=np.float64).reshape(len(rows), len(keys)), "grid")


def lhs_design(ranges: Sequence[tuple[str, float, float]], n: int, seed: int = 0) -> Design:
    """``n`` points of a Latin hypercube over the ranges ``(key, low, high)`` (uniform in
    each; SALib's ``latin.sample``, McKay, Beckman & Conover 1979)."""
    import numpy as np
    from SALib.sample import latin

    if not 1 <= n <= MAX_POINTS:
        raise StratsimError(f"--lhs {n}: expected 1..{MAX_POINTS:,} points")
    keys = [k for k, _, _ in ranges]
    _check_unique(keys)
    if not keys:
        raise StratsimError("--lhs: no ranges; give --grid KEY=START:STOP for each key to sample")
    problem = {"num_vars": len(keys), "names": keys, "bounds": [[lo, hi] for _, lo, hi in ranges]}
    return Design(keys, np.asarray(latin.sample(problem, n, seed=seed), dtype=np.float64), "lhs")


def _check_unique(keys: Sequence[str]) -> None:
    seen = set()
    for k in keys:
        if k in seen:
            raise StratsimError(f"key {k}: given twice; expected each key once")
        seen.add(k)


_DIST_FIELDS = {
    "uniform": ("low", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("median", "sigma"),
    "triangular": ("low", "mode", "high"),
}


def parse_sample(spec: str) -> tuple[str, dict[str, Any]]:
    """``KEY=DIST:A:B[:C]`` -> ``(key, distribution table)`` as in a scenario file:
    ``uniform:LOW:HIGH``, ``normal:MEAN:SD``, ``lognormal:MEDIAN:SIGMA``,
    ``triangular:LOW:MODE:HIGH``.

    Raises:
        StratsimError: naming the key.
    """
    key, eq, rhs = spec.partition("=")
    key = key.strip()
    parts = rhs.split(":")
    if not eq or not key or parts[0] not in _DIST_FIELDS:
        raise StratsimError(f"sample {spec!r}: expected KEY=DIST:ARGS with DIST one of {', '.join(f'{d}:' + ':'.join(a).upper() for d, a in _DIST_FIELDS.items())}")
    names = _DIST_FIELDS[parts[0]]
    if len(parts) - 1 != len(names):
        raise StratsimError(f"key {key}: distribution {rhs!r}: expected {parts[0]}:{':'.join(n.upper() for n in names)}")
    return key, {"dist": parts[0], **{n: _number(p, key, n) for n, p in zip(names, parts[1:], strict=True)}}


def with_samples(scenario: Scenario, samples: Sequence[tuple[str, dict[str, Any]]], source: str = "--sample") -> Scenario:
    """``scenario`` with the parameters of ``samples`` made uncertain (drawn once per path
    from the given distribution, the same draws at every point), validated like a file.

    Raises:
        StratsimError: a key that is not a scenario parameter (a lever cannot be sampled);
            ScenarioError: a distribution out of the key's bounds (naming the key).
    """
    from ..scenario import scenario_from_dict

    if not samples:
        return scenario
    data = scenario.to_dict()
    for key, dist in samples:
        k = resolve_key(scenario, key)
        if is_lever(k):
            raise StratsimError(f"key {key}: a decision lever cannot be sampled per path; expected a scenario parameter such as to_b.win_rate (sweep levers with --grid)")
        section, _, name = k.partition(".")
        data[section][name] = dist
    return scenario_from_dict(data, source)


# ------------------------------------------------------------------- point checks


def _lever_get(d: Decision, lever: str) -> float:
    group, _, key = lever.partition(".")
    return float(getattr(d, group)[key]) if key else float(getattr(d, lever))


def point_decision(base: Decision, levers: dict[str, float]) -> Decision:
    """``base`` with the levers (names of :data:`~.batch.DECISION_LEVERS`) set; the shares of
    a split that ``levers`` does not set are rescaled in proportion so the split sums to 1.
    Not validated."""
    scal = {k: v for k, v in levers.items() if "." not in k}
    changes: dict[str, Any] = dict(scal)
    for group in ("c_split", "b_split"):
        given = {k.partition(".")[2]: v for k, v in levers.items() if k.startswith(group + ".")}
        if not given:
            continue
        split = dict(getattr(base, group))
        rest = [k for k in SPLIT_KEYS if k not in given]
        left = 1.0 - math.fsum(given.values())
        old = math.fsum(split[k] for k in rest)
        for k in rest:
            split[k] = left * (split[k] / old if old > 0 else 1.0 / len(rest))
        split.update(given)
        changes[group] = split
    return base.with_changes(**changes)


@dataclass
class Prepared:
    """A design checked against the scenario: every point's decision and its scenario
    values, ready to run. Build with :func:`prepare`."""

    scenario: Scenario
    design: Design
    decisions: list[Decision]  # one per point
    overrides: dict[str, np.ndarray]  # param key -> [K] values


def prepare(scenario: Scenario, design: Design, base: Decision | None = None) -> Prepared:
    """Check every point before anything runs.

    Args:
        scenario: the (validated) scenario every point starts from.
        design: its keys canonical or not (:func:`resolve_key` is applied).
        base: the allocation levers the design does not set keep (default: the
            scenario's ``[allocation]``).

    Raises:
        StratsimError / DecisionError / ScenarioError: naming the key, the point and the
            value: an unknown key, a decision that fails validation (a share above 1, a
            split that cannot sum to 1), a scenario value outside the key's bounds.
    """
    import numpy as np

    from ..decisions import decision_from_allocation
    from ..scenario import _bound_problem

    keys = [resolve_key(scenario, k) for k in design.keys]
    _check_unique(keys)
    design = Design(keys, np.asarray(design.values, dtype=np.float64), design.kind)
    base = base if base is not None else decision_from_allocation(scenario.allocation)
    lever_cols = [(d, k[len(LEVER_PREFIX) :]) for d, k in enumerate(keys) if is_lever(k)]
    decisions = []
    for i, row in enumerate(design.values.tolist()):
        levers = {name: row[d] for d, name in lever_cols}
        try:
            decisions.append(point_decision(base, levers).validate())
        except DecisionError as exc:
            shown = ", ".join(f"{LEVER_PREFIX}{n}={v:g}" for n, v in levers.items())
            raise DecisionError(f"point {i} ({shown}): {exc}") from None
    overrides = {}
    for d, k in enumerate(keys):
        if is_lever(k):
            continue
        col = design.values[:, d]
        section, _, name = k.partition(".")
        extra = type(getattr(scenario, section)).model_fields[name].json_schema_extra or {}
        for v in np.unique(col).tolist():  # the scenario's own bound check, once per value
            problem = _bound_problem(float(v), extra)
            if problem:
                i = int(np.flatnonzero(col == v)[0])
                raise ScenarioError(f"key {k}: point {i}: value {v!r}: {problem}")
        overrides[k] = col.copy()
    return Prepared(scenario, design, decisions, overrides)


# ------------------------------------------------------------------------ running


@dataclass
class RunSpec:
    """How each point is simulated (everything a chunk needs; picklable for Ray)."""

    steps: int
    paths: int = 1000
    seed: int = 0
    policy: str = "fixed"
    dtype: str = "float32"
    device: str = "cpu"
    every_period: bool = False
    satisfaction_model: ResponseModel | None = None
    incident_model: ResponseModel | None = None

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise StratsimError(f"policy {self.policy!r}: expected one of {', '.join(POLICIES)}")
        if self.steps < 1:
            raise StratsimError(f"horizon {self.steps}: expected at least 1 month")
        if self.paths < 1:
            raise StratsimError(f"paths {self.paths}: expected at least 1")


#: Per point: its KPI summaries, one per period (``every_period`` or the feedback
#: policy) or only the horizon's.
PointResult = list["Summary"]


def _stacked_decisions(decisions: Sequence[Decision], dtype: Any, device: Any):
    """One :class:`~stratsim.engine.decisions.DecisionTensors` of ``K`` points: a lever
    that differs between points is ``[K]``, one the points share stays a 0-d tensor (the
    same on every path: no per-path arithmetic for it)."""
    from .batch import decisions_with

    levers = {}
    for lv in DECISION_LEVERS:
        values = [_lever_get(d, lv) for d in decisions]
        if any(v != values[0] for v in values):
            levers[lv] = values
    return decisions_with(decisions[0], levers, dtype, device)


def iter_chunk(prepared: Prepared, spec: RunSpec, start: int, stop: int) -> Iterator[Any]:
    """Simulate points ``start..stop-1`` as one batch (``(stop-start) * paths`` paths).

    Yields the month (1-based, an ``int``) after each month, then the list of one
    :data:`PointResult` per point. The local backend and the Ray tasks both run this.
    """
    from ..device import resolve_device
    from ..policies import FeedbackPolicy
    from .batch import make_batch, summarize_points

    k = stop - start
    device = resolve_device(spec.device)
    batch = make_batch(
        prepared.scenario,
        n_points=k,
        paths_per_point=spec.paths,
        seed=spec.seed,
        overrides={key: v[start:stop].tolist() for key, v in prepared.overrides.items()},
        satisfaction_model=spec.satisfaction_model,
        incident_model=spec.incident_model,
        dtype=spec.dtype,
        device=device,
    )
    dtype = batch.params.dtype
    points = list(prepared.decisions[start:stop])
    per_period = spec.every_period or spec.policy == "feedback"
    histories: list[list[Summary]] = [[] for _ in range(k)]
    fixed = _stacked_decisions(points, dtype, device) if spec.policy == "fixed" else None
    policies = [FeedbackPolicy() for _ in range(k)]
    taken: list[list[Decision]] = [[] for _ in range(k)]
    for t in range(spec.steps):
        if fixed is not None:
            decision = fixed
        else:  # each point's own feedback policy, as Simulation.step runs it
            for i in range(k):
                points[i] = policies[i].decide(points[i], taken[i], histories[i]).validate()
                taken[i].append(points[i])
            decision = _stacked_decisions(points, dtype, device)
        out = batch.step(decision)
        if per_period or t == spec.steps - 1:
            for i, s in enumerate(summarize_points(out)):
                histories[i].append(s)
        yield t + 1
    yield histories if spec.every_period else [h[-1:] for h in histories]


def run_chunk(
    prepared: Prepared,
    spec: RunSpec,
    start: int,
    stop: int,
    on_period: Callable[[int], Any] | None = None,
) -> list[PointResult]:
    """:func:`iter_chunk` run to the end; ``on_period(month)`` after each month."""
    for item in iter_chunk(prepared, spec, start, stop):
        if not isinstance(item, int):
            return item
        if on_period is not None:
            on_period(item)
    raise AssertionError("unreachable")  # pragma: no cover


def bytes_per_path(dtype: str) -> int:
    return BYTES_PER_PATH_FLOAT32 * (2 if dtype == "float64" else 1)


def points_per_chunk(paths: int, dtype: str, max_memory: int) -> int:
    """Points per batch so that ``points * paths * bytes_per_path`` stays within
    ``max_memory`` bytes (at least 1 point)."""
    return max(1, int(max_memory // (paths * bytes_per_path(dtype))))


def plan_chunks(n_points: int, paths: int, dtype: str = "float32", max_memory: int = DEFAULT_MAX_MEMORY,
                chunk_paths: int = DEFAULT_CHUNK_PATHS) -> list[tuple[int, int]]:
    """The chunks ``[(start, stop), ...]`` of a sweep: as few as keep each within
    ``chunk_paths`` paths (at least one point) and ``max_memory`` bytes, of balanced sizes.
    The same for every backend."""
    size = max(1, min(points_per_chunk(paths, dtype, max_memory), chunk_paths // paths))
    n = math.ceil(n_points / size)
    return chunks(n_points, math.ceil(n_points / n))


def chunks(n_points: int, size: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``0..n_points`` in pieces of at most ``size``."""
    return [(s, min(s + size, n_points)) for s in range(0, n_points, size)]


@dataclass
class Progress:
    """Progress in point-months: ``done`` of ``total`` (``n_points * steps``)."""

    done: int
    total: int
    chunks_done: int = 0
    chunks_total: int = 0


@dataclass
class SweepResult:
    """The outcome of :func:`evaluate`: the prepared points and one result per point."""

    prepared: Prepared
    spec: RunSpec
    results: list[PointResult]
    backend: str = "local"
    n_chunks: int = 1
    info: dict[str, Any] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """The tidy table ``point, KEY..., [period,] kpi, mean, p10, p50, p90``
        (``period`` 1-based, present with ``every_period``; points 0-based in design order)."""
        import pandas as pd

        from ..kpi import STATS

        keys = self.prepared.design.keys
        values = self.prepared.design.values.tolist()
        rows = []
        for i, res in enumerate(self.results):
            first = self.spec.steps - len(res) + 1
            for j, summary in enumerate(res):
                for kpi, stats in summary.items():
                    row = {"point": i, **dict(zip(keys, values[i], strict=True))}
                    if self.spec.every_period:
                        row["period"] = first + j
                    rows.append({**row, "kpi": kpi, **stats})
        cols = ["point", *keys, *(["period"] if self.spec.every_period else []), "kpi", *STATS]
        return pd.DataFrame(rows, columns=cols)

    def horizon_values(self, kpi: str, stat: str = "mean") -> np.ndarray:
        """``[K]``: ``stat`` of ``kpi`` at the horizon for each point."""
        import numpy as np

        check_objective(kpi, stat)
        return np.asarray([r[-1][kpi][stat] for r in self.results], dtype=np.float64)

    def best(self, kpi: str = "npv", stat: str = "mean", maximize: bool = True) -> int:
        """Index of the best point by ``stat`` of ``kpi`` at the horizon (NaN never best)."""
        import numpy as np

        y = self.horizon_values(kpi, stat)
        y = np.where(np.isnan(y), -np.inf if maximize else np.inf, y)
        return int(np.argmax(y) if maximize else np.argmin(y))


def check_objective(kpi: str, stat: str) -> None:
    """Refuse an unknown KPI or statistic, and a quantile of a 0/1 probability KPI
    (:data:`~stratsim.engine.kpi.PROBABILITY_KPIS`: only its mean, a probability, is
    reported; its P10/P50/P90 are n/a).

    Raises:
        StratsimError: one line naming the KPI or statistic and what was expected.
    """
    from ..kpi import KPIS, PROBABILITY_KPIS, STATS

    if kpi not in KPIS:
        raise StratsimError(f"kpi {kpi!r}: unknown; expected one of {', '.join(KPIS)}")
    if stat not in STATS:
        raise StratsimError(f"statistic {stat!r}: expected one of {', '.join(STATS)}")
    if kpi in PROBABILITY_KPIS and stat != "mean":
        raise StratsimError(f"kpi {kpi} statistic {stat!r}: a probability (a 0/1 per path) has no quantiles (n/a); expected mean")


def evaluate(
    prepared: Prepared,
    spec: RunSpec,
    *,
    backend: str = "local",
    max_memory: int = DEFAULT_MAX_MEMORY,
    chunk_paths: int = DEFAULT_CHUNK_PATHS,
    ray_address: str | None = None,
    ray_cpus: int | None = None,
    on_progress: Callable[[Progress], Any] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SweepResult:
    """Run every point of ``prepared`` (see the module doc).

    Args:
        backend: ``"local"`` (chunks one after another in this process) or ``"ray"``
            (chunks as Ray tasks; joins ``ray_address`` or the Ray already initialized in
            this process, else starts a local Ray with ``ray_cpus`` CPUs (default: all)
            and stops it before returning).
        max_memory, chunk_paths: the chunk plan (:func:`plan_chunks`); with Ray each chunk
            is a task, so smaller chunks give more CPUs work.
        on_progress: called with :class:`Progress` after each month of each chunk
            (streamed back from the Ray tasks as they run).
        should_stop: checked after every month (local backend): True raises
            :class:`Cancelled`.

    Returns:
        :class:`SweepResult` (results in design order, identical for both backends).
    """
    if backend not in BACKENDS:
        raise StratsimError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if chunk_paths < 1:
        raise StratsimError(f"--chunk-paths {chunk_paths}: expected at least 1")
    k = prepared.design.n_points
    parts = plan_chunks(k, spec.paths, spec.dtype, max_memory, chunk_paths)
    total = k * spec.steps
    if backend == "ray":
        return _evaluate_ray(prepared, spec, parts, ray_address, ray_cpus, on_progress)
    results: list[PointResult] = []
    prog = Progress(0, total, 0, len(parts))
    for start, stop in parts:
        def tick(month: int, n: int = stop - start) -> None:
            prog.done += n
            if on_progress is not None:
                on_progress(prog)
            if should_stop is not None and should_stop():
                raise Cancelled("sweep cancelled")

        results.extend(run_chunk(prepared, spec, start, stop, tick))
        prog.chunks_done += 1
    return SweepResult(prepared, spec, results, "local", len(parts))


# ----------------------------------------------------------------------------- Ray


def import_ray():
    """``ray``, or a one-line :class:`StratsimError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise StratsimError(f"--backend ray: {RAY_INSTALL_HINT}") from None
    return ray


def _ray_chunk(prepared: Prepared, spec: RunSpec, start: int, stop: int) -> Iterator[Any]:
    """Body of a Ray task (a Ray generator: each month streams back as it is done)."""
    from ..device import configure_threads

    configure_threads(0, stop - start)  # the engine's one thread policy, in the worker
    yield from iter_chunk(prepared, spec, start, stop)


def check_ray_address(address: str, timeout: float = 5.0) -> None:
    """Refuse quickly a ``HOST:PORT`` where nothing listens (Ray itself retries for
    minutes). ``auto`` and ``ray://`` client addresses are left to Ray.

    Raises:
        StratsimError: naming the address and the socket error.
    """
    import socket

    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise StratsimError(f"--ray-address {address!r}: expected HOST:PORT of the Ray head (e.g. 10.0.0.5:6379), auto, or ray://HOST:10001")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise StratsimError(f"--ray-address {address}: no Ray head answers there ({exc.strerror or exc}); start one with `ray start --head --port={port}`") from None


def _evaluate_ray(
    prepared: Prepared,
    spec: RunSpec,
    parts: list[tuple[int, int]],
    ray_address: str | None,
    ray_cpus: int | None,
    on_progress: Callable[[Progress], Any] | None,
) -> SweepResult:
    import logging

    ray = import_ray()
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        if ray_address:
            check_ray_address(ray_address)
        try:
            if ray_address:
                ray.init(address=ray_address, **kwargs)
            else:
                ray.init(num_cpus=ray_cpus, include_dashboard=False, **kwargs)
        except Exception as exc:  # ConnectionError, RuntimeError, ValueError from Ray
            where = f"--ray-address {ray_address}" if ray_address else "a local Ray"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StratsimError(f"{where}: cannot start or join Ray: {first}") from None
        started = True
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        k = prepared.design.n_points
        task = ray.remote(num_cpus=1)(_ray_chunk)
        pref, sref = ray.put(prepared), ray.put(spec)
        gens = {}
        for idx, (start, stop) in enumerate(parts):
            gens[task.remote(pref, sref, start, stop)] = idx
        pending = list(gens)
        done: dict[int, list[PointResult]] = {}
        prog = Progress(0, k * spec.steps, 0, len(parts))
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for gen in ready:
                    idx = gens[gen]
                    start, stop = parts[idx]
                    try:
                        value = ray.get(next(gen))
                    except StopIteration:
                        continue
                    except ray.exceptions.RayTaskError as exc:  # the task's own error, one line
                        cause = exc.cause
                        if isinstance(cause, StratsimError):
                            raise type(cause)(str(cause)) from None
                        raise StratsimError(f"sweep chunk {start}..{stop - 1} failed on Ray: {type(cause).__name__}: {cause}") from None
                    if isinstance(value, int):
                        prog.done += stop - start
                        pending.append(gen)
                    else:
                        done[idx] = value
                        prog.chunks_done += 1
                    if on_progress is not None:
                        on_progress(prog)
        except BaseException:  # an error or Ctrl-C: stop the chunks still running on the cluster
            for gen in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(gen)
            raise
        results = [r for idx in range(len(parts)) for r in done[idx]]
        info = {"ray_cpus": cpus, "ray_address": ray_address or ("local" if started else "existing")}
        return SweepResult(prepared, spec, results, "ray", len(parts), info)
    finally:
        if started:
            ray.shutdown()
