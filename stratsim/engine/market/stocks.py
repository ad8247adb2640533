"""Capability stocks (goodwill stocks with diminishing returns and depreciation, Nerlove &
Arrow 1962), the spend that holds them (:func:`maintenance_spend`) and the satisfaction
they give (``docs/MODEL.md`` sections 1-2)."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from ..models import ResponseModel
from ..params import Params
from .smooth import _clamp_fresh, _col
from .state import Shocks, State, Tensor


class Capabilities(NamedTuple):
    """Capability stocks after this month's spend, each ``[n_paths]``, 0..10."""

    F_c: Tensor
    U_c: Tensor
    R_c: Tensor
    F_b: Tensor
    U_b: Tensor
    R_b: Tensor
    P: Tensor
    K: Tensor


def _grow(x: Tensor, spend: Any, p: Any) -> Tensor:
    """Capability stocks ``x`` (``[n_paths]`` or ``[k, n_paths]`` with ``spend`` ``[k, 1]``)
    after one month: ``clamp(x + eta*ln(1 + spend/scale)*(1 - x/10) - delta*x, 0, 10)``.
    ``p`` is the :class:`~.params.CapabilityParams`.

    Computed as ``gain + x*(1 - delta - gain/10)``: the factor is ``[k, 1]`` (per stock),
    so the ``[k, n_paths]`` stocks go through one temporary (the product, then the gain
    added and the clamp in place) instead of six (``addcmul`` measured 2.7x slower than
    the two ops with a broadcast ``[k, 1]`` factor)."""
    gain = p.eta * torch.log1p(spend / p.spend_scale)
    keep = (1.0 - p.delta) - gain / 10.0
    grown = x * keep
    grown = grown + gain if grown.requires_grad else grown.add_(gain)
    return _clamp_fresh(grown, 0.0, 10.0)


def maintenance_spend(x: Tensor, p: Any) -> Tensor:
    """Monthly spend (currency/month) that holds each capability stock ``x`` (``[n_paths]``
    or ``[k, n_paths]``, 0..10) at its level: the inverse of :func:`_grow` at ``X' = X``,
    ``eta*ln(1 + s/scale)*(1 - X/10) = delta*X``, so
    ``s = scale*(exp(delta*X/(eta*(1 - X/10))) - 1)`` (same shape as ``x``).

    The exponent is capped at :data:`MAINTENANCE_EXP_MAX` (``X`` at or near 10, which no
    finite spend holds, costs ``scale*e^20`` a month); where ``eta = 0`` no spend holds a
    stock and the maintenance spend is 0 (its decay shows in the satisfaction and the
    volume instead). ``p`` is the :class:`~.params.CapabilityParams`.
    """
    headroom = (1.0 - x / 10.0).clamp(min=1e-6)
    eta = p.eta
    if isinstance(eta, Tensor):
        expo = torch.where(eta > 0, p.delta * x / (eta.clamp(min=1e-30) * headroom), 0.0)
    elif eta > 0:
        expo = p.delta * x / (eta * headroom)
    else:
        return torch.zeros_like(x)
    return p.spend_scale * torch.expm1(expo.clamp(max=MAINTENANCE_EXP_MAX))


#: Cap of the exponent of :func:`maintenance_spend` (e^20 ~ 5e8 spend scales a month: a
#: stock at 10 cannot be held with any finite spend, and the charge must stay finite).
MAINTENANCE_EXP_MAX = 20.0


def _stocks(state: State) -> Tensor:
    """The eight capability stocks of ``state`` as one ``[8, n_paths]`` tensor, in the
    order of :class:`Capabilities`."""
    return torch.stack(
        [state.F_c, state.U_c, state.R_c, state.F_b, state.U_b, state.R_b, state.P, state.K]
    )


def _stock_spend(p: Params, spend: dict[str, Tensor]) -> Tensor:
    """The month's spend into each of the eight stocks, ``[8, 1]`` or ``[8, n_paths]``
    (order of :class:`Capabilities`): product spend goes ``core_share`` to the shared core
    K and the rest to the segment's F. The rows sum to the budget less acquisition spend."""
    c = p.capability
    own = 1.0 - c.core_share
    return _col([
        own * spend["c_product"], spend["c_ux"], spend["c_service"],
        own * spend["b_product"], spend["b_ux"], spend["b_service"],
        spend["privacy"], c.core_share * (spend["c_product"] + spend["b_product"]),
    ])  # fmt: skip


def capabilities(p: Params, state: State, spend: dict[str, Tensor]) -> Capabilities:
    """The eight stocks grow in one ``[8, n_paths]`` pass (one kernel per operation instead
    of eight: the step is dominated by per-operation overhead at these sizes). Product
    spend goes ``core_share`` to the shared core K and the rest to the segment's F."""
    return Capabilities(*_grow(_stocks(state), _stock_spend(p, spend), p.capability).unbind(0))


def satisfaction(
    p: Params, caps: Capabilities, shocks: Shocks, model: ResponseModel
) -> tuple[Tensor, Tensor]:
    """``S = clamp(model(F_eff, U, R, segment) + noise_sd*z, 0, 10)`` for To C and To B,
    ``[n_paths]``, with ``F_eff = (1 - core_weight)*F + core_weight*K``."""
    w = p.capability.core_weight
    zeros = torch.zeros_like(caps.F_c)
    f_c = torch.lerp(caps.F_c, caps.K, w)  # (1 - w)*F + w*K in one pass
    f_b = torch.lerp(caps.F_b, caps.K, w)
    S_c = model.predict(
        {"functionality": f_c, "ux": caps.U_c, "service_response": caps.R_c, "segment": zeros}
    )
    S_b = model.predict(
        {"functionality": f_b, "ux": caps.U_b, "service_response": caps.R_b, "segment": zeros + 1.0}
    )
    sd = p.satisfaction.noise_sd
    if isinstance(sd, Tensor):
        return (S_c + sd * shocks.z_sat_c).clamp(0.0, 10.0), (S_b + sd * shocks.z_sat_b).clamp(
            0.0, 10.0
        )
    return _clamp_fresh(torch.add(S_c, shocks.z_sat_c, alpha=sd), 0.0, 10.0), _clamp_fresh(
        torch.add(S_b, shocks.z_sat_b, alpha=sd), 0.0, 10.0
    )
