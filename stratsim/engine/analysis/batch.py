"""Many points evaluated as paths of one simulation, on common random numbers.

A *point* is one allocation (decision levers) together with values for any scenario
keys; ``n_points`` points of ``paths_per_point`` paths each run as a single simulation of
``n_points * paths_per_point`` paths laid out point-major (path ``k * P + p`` is path
``p`` of point ``k``). Every point sees the same parameter draws and the same shocks as
path ``p`` of a plain :class:`~stratsim.engine.simulation.Simulation` with
``n_paths = paths_per_point`` and the same seed (common random numbers): differences
between points are the decisions', not the noise's, and a point equals the single run
of that point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from ..decisions import SPLIT_KEYS, Decision, DecisionTensors
from ..errors import StratsimError

if TYPE_CHECKING:
    import torch

    from ..kpi import Summary
    from ..models import ResponseModel
    from ..params import Params
    from ..scenario import Scenario

#: Decision levers by dotted name: the form sweeps and optimizers address them in.
DECISION_LEVERS: tuple[str, ...] = (
    "budget",
    "privacy_share",
    "c_share",
    "c_price",
    "b_seat_price",
    *(f"c_split.{k}" for k in SPLIT_KEYS),
    *(f"b_split.{k}" for k in SPLIT_KEYS),
)


def tile_paths(x: Any, n_points: int) -> Any:
    """``[..., P]`` -> ``[..., n_points * P]`` (the block of paths repeated point after
    point, along the last dimension); numbers and 0-d tensors unchanged."""
    import torch

    if isinstance(x, torch.Tensor) and x.dim() >= 1:
        return x.repeat(*([1] * (x.dim() - 1)), n_points)
    return x


def per_point(x: Any, paths_per_point: int) -> Any:
    """``[K]`` values per point -> ``[K * P]`` values per path (each repeated P times);
    0-d tensors and numbers are returned unchanged (the same on every path)."""
    import torch

    if isinstance(x, torch.Tensor) and x.dim() == 1:
        return x.repeat_interleave(paths_per_point)
    return x


def expand_decisions(d: DecisionTensors, paths_per_point: int) -> DecisionTensors:
    """A decision with fields 0-d or ``[K]`` (one per point) as fields broadcastable to
    ``[K * P]`` paths. Gradients flow back to the ``[K]`` tensors."""
    return DecisionTensors(
        budget=per_point(d.budget, paths_per_point),
        privacy_share=per_point(d.privacy_share, paths_per_point),
        c_share=per_point(d.c_share, paths_per_point),
        c_split={k: per_point(v, paths_per_point) for k, v in d.c_split.items()},
        b_split={k: per_point(v, paths_per_point) for k, v in d.b_split.items()},
        c_price=per_point(d.c_price, paths_per_point),
        b_seat_price=per_point(d.b_seat_price, paths_per_point),
    )


def decisions_with(
    base: Decision, levers: Mapping[str, Any], dtype: Any, device: Any = "cpu"
) -> DecisionTensors:
    """``base`` as tensors with some levers replaced by per-point values.

    Args:
        base: the allocation every lever not named keeps.
        levers: ``{lever: Tensor[K] | sequence | number}`` with names from
            :data:`DECISION_LEVERS` (``"c_share"``, ``"c_split.ux"``, ...). Replacing one
            split share does not renormalize the others: give the whole split.

    Raises:
        StratsimError: an unknown lever name.
    """
    import torch

    d = DecisionTensors.from_decision(base, dtype, device)
    scal: dict[str, Any] = {}
    c_split, b_split = dict(d.c_split), dict(d.b_split)
    for name, value in levers.items():
        if name not in DECISION_LEVERS:
            raise StratsimError(
                f"lever {name!r}: unknown; expected one of {', '.join(DECISION_LEVERS)}"
            )
        v = (
            value
            if isinstance(value, torch.Tensor)
            else torch.as_tensor(value, dtype=dtype, device=device)
        )
        group, _, key = name.partition(".")
        if group == "c_split":
            c_split[key] = v
        elif group == "b_split":
            b_split[key] = v
        else:
            scal[name] = v
    return replace(d, c_split=c_split, b_split=b_split, **scal)


@dataclass
class Batch:
    """The simulation of ``n_points`` points x ``paths_per_point`` paths (see module doc).

    Build with :func:`make_batch`; step with :meth:`step` or :meth:`rollout`.
    ``state`` and ``params`` have ``n_paths = n_points * paths_per_point``.
    """

    n_points: int
    paths_per_point: int
    params: Params
    state: Any
    generator: torch.Generator
    satisfaction_model: ResponseModel
    privacy_model: ResponseModel

    @property
    def n_paths(self) -> int:
        return self.n_points * self.paths_per_point

    def draw_shocks(self) -> Any:
        """This period's shocks: ``paths_per_point`` draws (the stream of a single run),
        tiled over the points."""
        from .. import market

        s = market.draw_shocks(
            self.generator, self.paths_per_point, self.params.dtype, self.params.device
        )
        return type(s)(**{f.name: tile_paths(getattr(s, f.name), self.n_points) for f in fields(s)})

    def step(self, decision: DecisionTensors, relaxed: bool = False) -> dict[str, torch.Tensor]:
        """Advance one month; ``decision`` fields are 0-d or ``[n_points]``.

        Returns:
            ``{kpi: Tensor[n_points, paths_per_point]}`` for this month.
        """
        from .. import market

        d = expand_decisions(decision, self.paths_per_point)
        self.state, out = market.advance(
            self.params,
            self.state,
            d,
            self.draw_shocks(),
            self.satisfaction_model,
            self.privacy_model,
            relaxed,
        )
        return {
            k: v.reshape(self.n_points, self.paths_per_point) if v.dim() == 1 else v
            for k, v in out.items()
        }

    def rollout(
        self,
        decisions: DecisionTensors | Callable[[int], DecisionTensors],
        steps: int,
        relaxed: bool = False,
        on_period: Callable[[int, dict[str, torch.Tensor]], Any] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Step ``steps`` months; ``decisions`` is held throughout, or a function of the
        month index (0-based, from the current period) giving each month's decision.
        ``on_period(month, outputs)`` sees each month's ``[n_points, P]`` outputs.

        Returns:
            the last month's outputs ``{kpi: Tensor[n_points, paths_per_point]}``.
        """
        out: dict[str, torch.Tensor] = {}
        for t in range(steps):
            out = self.step(decisions(t) if callable(decisions) else decisions, relaxed)
            if on_period is not None:
                on_period(t, out)
        return out


def _point_overrides(overrides: Mapping[str, Any] | None, n_points: int) -> dict[str, torch.Tensor]:
    """``overrides`` as float64 tensors: scalars or ``[n_points]`` (else StratsimError)."""
    import torch

    out = {
        k: (v if isinstance(v, torch.Tensor) else torch.as_tensor(v, dtype=torch.float64))
        for k, v in (overrides or {}).items()
    }
    for k, v in out.items():
        if v.dim() > 1 or (v.dim() == 1 and v.shape[0] != n_points):
            raise StratsimError(
                f"override {k}: shape {tuple(v.shape)}: expected one value or {n_points} (one per point)"
            )
    return out


def _point_params(
    scenario: Scenario,
    n_points: int,
    paths_per_point: int,
    seed: int,
    overrides: Mapping[str, Any] | None,
    dt: torch.dtype,
    device: torch.device,
) -> Params:
    """The batch's parameters ``[K * P]``: every point draws the run's parameter stream
    (the same P paths, tiled K times), then its ``overrides`` replace the scenario's values
    on its own paths (checked against each key's bounds first)."""
    import torch

    from ..params import Params
    from ..scenario_draw import draw_flat
    from ..seeds import derive_seed

    overrides = _point_overrides(overrides, n_points)
    # Validate the per-point values against the keys' bounds (K paths, one per point).
    draw_flat(
        scenario,
        n_points,
        torch.Generator().manual_seed(0),
        dt,
        device,
        overrides=overrides,
        keep_scalars=True,
    )
    pgen = torch.Generator().manual_seed(derive_seed(seed, "params"))
    flat = draw_flat(scenario, paths_per_point, pgen, dt, device, keep_scalars=True)
    flat = {k: tile_paths(v, n_points) for k, v in flat.items()}
    for k, v in overrides.items():
        flat[k] = per_point(v.to(dtype=dt, device=device), paths_per_point) if v.dim() else float(v)
    return Params.from_flat(flat, n_points * paths_per_point, dt, device)


def make_batch(
    scenario: Scenario,
    *,
    n_points: int,
    paths_per_point: int,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    satisfaction_model: ResponseModel | None = None,
    privacy_model: ResponseModel | None = None,
    dtype: torch.dtype | str = "float32",
    device: torch.device | str = "cpu",
    incident_model: ResponseModel | None = None,
) -> Batch:
    """A :class:`Batch` at period 0 whose random numbers are those of a single run.

    Args:
        scenario: the validated scenario every point starts from.
        n_points, paths_per_point: K >= 1 and P >= 1 (K * P paths in all).
        seed: the run seed (parameter and shock streams as :class:`Simulation` derives them).
        overrides: ``{"section.name": Tensor[K] | sequence of K | number}``: scenario values
            per point (dotted keys of the scenario's parameter sections), replacing the
            scenario's value or distribution for that point's paths. Checked against each
            key's bounds.
        satisfaction_model, privacy_model: default to the shipped linear/logistic models
            (``incident_model``: the deprecated former name of ``privacy_model``).

    Raises:
        StratsimError: K or P out of range; ScenarioError for an unknown key, a wrong
            shape or a value out of bounds (naming the key and the point).
    """
    import torch

    from .. import market
    from ..device import resolve_dtype
    from ..models import LinearSatisfaction, LogisticPrivacy, renamed_keyword
    from ..simulation import MAX_PATHS, derive_seed

    privacy_model = renamed_keyword(
        privacy_model, incident_model, "incident_model", "privacy_model"
    )
    if n_points < 1 or paths_per_point < 1 or n_points * paths_per_point > MAX_PATHS:
        raise StratsimError(
            f"points {n_points} x paths {paths_per_point}: expected both >= 1 and at most {MAX_PATHS} paths in all"
        )
    device = torch.device(device)
    dt = resolve_dtype(dtype, device) if isinstance(dtype, str) else dtype
    params = _point_params(scenario, n_points, paths_per_point, seed, overrides, dt, device)
    return Batch(
        n_points=n_points,
        paths_per_point=paths_per_point,
        params=params,
        state=market.initial_state(params),
        generator=torch.Generator().manual_seed(derive_seed(seed, "shocks")),
        satisfaction_model=satisfaction_model or LinearSatisfaction(),
        privacy_model=privacy_model or LogisticPrivacy(),
    )


def summarize_points(outputs: Mapping[str, torch.Tensor]) -> list[Summary]:
    """One KPI summary per point (:func:`~stratsim.engine.kpi.summarize` over its paths),
    from ``{kpi: Tensor[n_points, P]}``."""
    from ..kpi import summarize

    n = next(iter(outputs.values())).shape[0]
    return [summarize({k: v[i] for k, v in outputs.items()}) for i in range(n)]
