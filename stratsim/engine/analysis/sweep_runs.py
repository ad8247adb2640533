"""How a sweep runs its points: the run specification, chunks of points batched as
paths, progress events and the result table."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..decisions import Decision
from ..errors import StratsimError
from .batch import DECISION_LEVERS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..kpi import Summary
    from ..models import ResponseModel
    from ..scenario import Scenario

#: Prefix of decision levers in dotted keys (the scenario file's ``[allocation]`` table).

from .sweep_design import (
    BYTES_PER_PATH_FLOAT32,
    DEFAULT_CHUNK_PATHS,
    DEFAULT_MAX_MEMORY,
    POLICIES,
    Design,
    _lever_get,
)


@dataclass
class Prepared:
    """A design checked against the scenario: every point's decision and its scenario
    values, ready to run. Build with :func:`prepare`."""

    scenario: Scenario
    design: Design
    decisions: list[Decision]  # one per point
    overrides: dict[str, np.ndarray]  # param key -> [K] values


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
    privacy_model: ResponseModel | None = None

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
        privacy_model=spec.privacy_model,
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


def plan_chunks(
    n_points: int,
    paths: int,
    dtype: str = "float32",
    max_memory: int = DEFAULT_MAX_MEMORY,
    chunk_paths: int = DEFAULT_CHUNK_PATHS,
) -> list[tuple[int, int]]:
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
        raise StratsimError(
            f"kpi {kpi} statistic {stat!r}: a probability (a 0/1 per path) has no quantiles (n/a); expected mean"
        )
