"""What a sweep runs: keys (scenario parameters and decision levers), grids, Latin
hypercubes and sampled designs, checked before anything runs."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..decisions import SPLIT_KEYS, Decision
from ..errors import StratsimError
from ..policies import BATCH_POLICIES
from ..terms import term
from . import parse_finite
from .batch import DECISION_LEVERS

if TYPE_CHECKING:
    import numpy as np

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

#: Policies a sweep's points can follow (:data:`~stratsim.engine.policies.BATCH_POLICIES`).
POLICIES = BATCH_POLICIES
BACKENDS = ("local", "ray")
RAY_INSTALL_HINT = (
    'Ray is not installed; install it with: pip install "stratsim[scale]" (or: pip install ray)'
)


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
    from ..scenario_draw import _support

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
            raise StratsimError(
                f"key {key}: range {rhs!r}: with {term('lhs')} expected START:STOP (the hypercube sets the points)"
            )
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
            raise StratsimError(
                f"key {key}: N {parts[2]!r}: expected a whole number of points >= 1"
            ) from None
        if n < 1:
            raise StratsimError(f"key {key}: N {n}: empty range; expected at least 1 point")
        if hi < lo:
            raise StratsimError(f"key {key}: range {rhs!r}: empty range; expected STOP >= START")
        if n > 1 and hi == lo:
            raise StratsimError(
                f"key {key}: range {rhs!r}: empty range; {n} points on one value, expected STOP > START"
            )
        if n < 2 and hi != lo:
            raise StratsimError(
                f"key {key}: range {rhs!r}: {n} point on a range; expected N >= 2 (or KEY=V for one value)"
            )
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
        raise StratsimError(
            f"grid {' x '.join(f'{k} ({len(v)})' for k, v in axes)}: {n:,} points; expected at most {MAX_POINTS:,} (fewer values per key, or {term('lhs')} N)"
        )
    rows = list(itertools.product(*(list(v) for _, v in axes)))
    return Design(keys, np.asarray(rows, dtype=np.float64).reshape(len(rows), len(keys)), "grid")


def lhs_design(ranges: Sequence[tuple[str, float, float]], n: int, seed: int = 0) -> Design:
    """``n`` points of a Latin hypercube over the ranges ``(key, low, high)`` (uniform in
    each; SALib's ``latin.sample``, McKay, Beckman & Conover 1979)."""
    import numpy as np
    from SALib.sample import latin

    if not 1 <= n <= MAX_POINTS:
        raise StratsimError(f"{term('lhs')} {n}: expected 1..{MAX_POINTS:,} points")
    keys = [k for k, _, _ in ranges]
    _check_unique(keys)
    if not keys:
        raise StratsimError(
            f"{term('lhs')}: no ranges; give {term('grid')} KEY=START:STOP for each key to sample"
        )
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
        raise StratsimError(
            f"sample {spec!r}: expected KEY=DIST:ARGS with DIST one of {', '.join(f'{d}:' + ':'.join(a).upper() for d, a in _DIST_FIELDS.items())}"
        )
    names = _DIST_FIELDS[parts[0]]
    if len(parts) - 1 != len(names):
        raise StratsimError(
            f"key {key}: distribution {rhs!r}: expected {parts[0]}:{':'.join(n.upper() for n in names)}"
        )
    return key, {
        "dist": parts[0],
        **{n: _number(p, key, n) for n, p in zip(names, parts[1:], strict=True)},
    }


def with_samples(
    scenario: Scenario, samples: Sequence[tuple[str, dict[str, Any]]], source: str | None = None
) -> Scenario:
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
            raise StratsimError(
                f"key {key}: a decision lever cannot be sampled per path; expected a scenario parameter such as to_b.win_rate (sweep levers with {term('grid')})"
            )
        section, _, name = k.partition(".")
        data[section][name] = dist
    return scenario_from_dict(data, source or term("sample"))


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
