"""Drawing a scenario's uncertain parameters: one value per path from each parameter's
distribution (truncated to its bounds), with overrides (the schema is
:mod:`stratsim.engine.scenario`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .errors import ScenarioError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import torch
from .scenario import (
    MAX_MAGNITUDE,
    PARAM_SECTIONS,
    LogNormal,
    Normal,
    Scenario,
    Uniform,
    _bound_problem,
)


def draw_parameters(
    scenario: Scenario,
    n_paths: int,
    generator: torch.Generator,
    dtype: torch.dtype,
    device: torch.device,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, torch.Tensor]:
    """Draw every model parameter once per path.

    Returns:
        ``{"section.name": Tensor[n_paths]}`` for every float parameter of the sections in
        :data:`PARAM_SECTIONS`; certain parameters are constant tensors. Random numbers are
        drawn on the CPU generator (in the fixed order of the fields) and then moved, so
        a run replays identically on any device. The engine's typed form of the same
        draw is :func:`~.params.draw_params` (certain values kept as Python floats).
    """
    return draw_flat(
        scenario, n_paths, generator, dtype, device, overrides=overrides, keep_scalars=False
    )


def draw_flat(
    scenario: Scenario,
    n_paths: int,
    generator: torch.Generator,
    dtype: torch.dtype,
    device: torch.device,
    overrides: Mapping[str, Any] | None = None,
    keep_scalars: bool = False,
) -> dict[str, Any]:
    """The draw behind :func:`draw_parameters` and :func:`~.params.draw_params`.

    Uncertain parameters are drawn each from its distribution *truncated to the
    parameter's support* by the inverse CDF (so a draw never lands on or beyond a bound),
    each key from its own random stream (seeded from one draw of ``generator`` and the
    key): fixing, un-fixing or overriding a key leaves the draws of the others unchanged,
    so a run with a key overridden equals the run of a scenario with that value.
    ``overrides`` (``{"section.name": value or Tensor[n_paths]}``) replace the drawn or
    certain values; each is checked against the key's bounds. With ``keep_scalars`` a
    certain (or scalar-overridden) value stays a Python float.

    Raises:
        ScenarioError: an override names an unknown key, has the wrong shape, or a value
            outside the key's bounds (naming the key, the path and the value).
    """
    import torch

    overrides = dict(overrides or {})
    known = {f"{s}.{n}" for s in PARAM_SECTIONS for n in type(getattr(scenario, s)).model_fields}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ScenarioError(
            f"override key {unknown[0]}: unknown parameter; expected a key such as to_b.win_rate"
        )
    from .seeds import derive_seed

    # One stream per uncertain key, derived from one draw of ``generator``: fixing,
    # un-fixing or overriding a key never shifts another key's draws.
    root = int(torch.randint(0, 2**62, (1,), generator=generator))
    out: dict[str, Any] = {}
    for section in PARAM_SECTIONS:
        sec = getattr(scenario, section)
        for name, info in type(sec).model_fields.items():
            key = f"{section}.{name}"
            value = getattr(sec, name)
            extra = info.json_schema_extra or {}
            t: Any
            if key in overrides:
                t = _override(key, overrides[key], n_paths, extra)
            elif isinstance(value, int | float):
                t = float(value)
            else:
                t = _sample(
                    value, n_paths, torch.Generator().manual_seed(derive_seed(root, key)), extra
                )
            if isinstance(t, float):
                out[key] = (
                    t if keep_scalars else torch.full((n_paths,), t, dtype=dtype, device=device)
                )
            else:
                out[key] = t.to(dtype=dtype, device=device)
    return out


def _override(key: str, value: Any, n_paths: int, extra: dict) -> Any:
    import torch

    if isinstance(value, int | float) and not isinstance(value, bool):
        problem = _bound_problem(float(value), extra)
        if problem:
            raise ScenarioError(f"override {key}: value {value!r}: {problem}")
        return float(value)
    t = torch.as_tensor(value, dtype=torch.float64).detach().cpu()
    if t.dim() != 1 or t.shape[0] != n_paths:
        raise ScenarioError(
            f"override {key}: shape {tuple(t.shape)}: expected a number or [{n_paths}] values (one per path)"
        )
    for i, v in enumerate(t.tolist()):
        problem = _bound_problem(v, extra)
        if problem:
            raise ScenarioError(f"override {key}: path {i}: value {v!r}: {problem}")
    return t


def _support(extra: dict) -> tuple[float, float, bool]:
    """(low, high, low_is_strict) of a parameter's bounds (+-inf when unbounded)."""
    ge, gt, le = extra.get("ge"), extra.get("gt"), extra.get("le")
    lo = gt if gt is not None else (ge if ge is not None else -math.inf)
    hi = le if le is not None else math.inf
    return float(lo), float(hi), gt is not None


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def mass_inside(d: Any, extra: dict) -> float:
    """Probability that distribution ``d`` falls inside the parameter's support."""
    lo, hi, _ = _support(extra)
    if isinstance(d, Normal):
        if d.sd == 0:
            return 1.0 if lo <= d.mean <= hi else 0.0
        return _normal_cdf((hi - d.mean) / d.sd) - _normal_cdf((lo - d.mean) / d.sd)
    if isinstance(d, LogNormal):
        if d.sigma == 0:
            return 1.0 if lo <= d.median <= hi else 0.0
        z = lambda x: (math.log(x) - math.log(d.median)) / d.sigma  # noqa: E731
        return (_normal_cdf(z(hi)) if hi < math.inf else 1.0) - (
            _normal_cdf(z(lo)) if lo > 0 else 0.0
        )
    return 1.0


def _sample(d: Any, n: int, g: torch.Generator, extra: dict) -> torch.Tensor:
    """``n`` float64 draws of ``d`` truncated to the bounds in ``extra`` (inverse CDF)."""
    import torch

    lo, hi, strict = _support(extra)
    u = torch.rand(n, generator=g, dtype=torch.float64) + 2.0**-54  # in (0, 1)
    if isinstance(d, Normal | LogNormal):
        mu, sd = (d.mean, d.sd) if isinstance(d, Normal) else (math.log(d.median), d.sigma)
        if isinstance(d, LogNormal):
            lo_x, hi_x = (
                (math.log(lo) if lo > 0 else -math.inf),
                (math.log(hi) if hi < math.inf else math.inf),
            )
        else:
            lo_x, hi_x = lo, hi
        if sd == 0:
            x = torch.full((n,), mu, dtype=torch.float64)
        else:
            a = _normal_cdf((lo_x - mu) / sd) if lo_x > -math.inf else 0.0
            b = _normal_cdf((hi_x - mu) / sd) if hi_x < math.inf else 1.0
            x = mu + sd * torch.special.ndtri(a + (b - a) * u)
        x = torch.exp(x) if isinstance(d, LogNormal) else x
    elif isinstance(d, Uniform):
        x = d.low + (d.high - d.low) * u
    else:  # Triangular: inverse CDF.
        a, c, b = d.low, d.mode, d.high
        if b == a:
            x = torch.full((n,), a, dtype=torch.float64)
        else:
            fc = (c - a) / (b - a)
            left = a + torch.sqrt(u * (b - a) * (c - a))
            right = b - torch.sqrt((1 - u) * (b - a) * (b - c))
            x = torch.where(u < fc, left, right)
    # Rounding can land on a bound: keep draws inside the support (strictly above a
    # strict lower bound).
    if strict:
        lo = math.nextafter(lo, math.inf) if lo != 0 else max(1e-12, 0.0)
    lo, hi = max(lo, -MAX_MAGNITUDE), min(hi, MAX_MAGNITUDE)
    return x.clamp(min=lo, max=hi)
