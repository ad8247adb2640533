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

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..decisions import Decision
from ..errors import DecisionError, ScenarioError, StratsimError
from ..terms import term

if TYPE_CHECKING:
    from ..scenario import Scenario

#: Prefix of decision levers in dotted keys (the scenario file's ``[allocation]`` table).

from .sweep_design import (  # noqa: F401 (re-exported)
    _DIST_FIELDS,
    BACKENDS,
    BYTES_PER_PATH_FLOAT32,
    DEFAULT_CHUNK_PATHS,
    DEFAULT_MAX_MEMORY,
    LEVER_PREFIX,
    MAX_POINTS,
    POLICIES,
    RAY_INSTALL_HINT,
    Cancelled,
    Design,
    _check_unique,
    _lever_get,
    _number,
    grid_design,
    is_lever,
    lhs_design,
    param_bounds,
    param_keys,
    parse_grid,
    parse_sample,
    point_decision,
    resolve_key,
    with_samples,
)
from .sweep_ray import (  # noqa: F401 (re-exported)
    _evaluate_ray,
    _ray_chunk,
    check_ray_address,
    import_ray,
)
from .sweep_runs import (  # noqa: F401 (re-exported)
    PointResult,
    Prepared,
    Progress,
    RunSpec,
    SweepResult,
    _stacked_decisions,
    bytes_per_path,
    check_objective,
    chunks,
    iter_chunk,
    plan_chunks,
    points_per_chunk,
    run_chunk,
)


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
        raise StratsimError(f"{term('chunk_paths')} {chunk_paths}: expected at least 1")
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
