"""Elementwise helpers of the step: caps and ReLUs that are smooth on the relaxed
(differentiable) path, stacking, and in-place clamps of fresh temporaries."""

from __future__ import annotations

from typing import Any

import torch

Tensor = torch.Tensor


def _cap(x: Tensor, hi: Any, relaxed: bool, width: float = 0.05) -> Tensor:
    """``min(x, hi)``; on the relaxed path a smooth minimum ``hi - width*softplus((hi - x)/width)``
    with ``width`` relative to ``hi``, so the gradient does not vanish at the cap."""
    if not relaxed:
        return torch.minimum(x, hi) if isinstance(hi, Tensor) else x.clamp(max=hi)
    w = width * (hi.abs() + 1e-9 if isinstance(hi, Tensor) else abs(hi) + 1e-9)
    return hi - w * torch.nn.functional.softplus((hi - x) / w)


def _max(x: Tensor, y: Any) -> Tensor:
    """Elementwise ``max(x, y)`` for a tensor ``x`` and a float or tensor ``y``."""
    return torch.maximum(x, y) if isinstance(y, Tensor) else x.clamp(min=y)


def _relu(x: Tensor, relaxed: bool, width: float = 0.01) -> Tensor:
    """``max(x, 0)``; on the relaxed path ``width*softplus(x/width)``, smooth at 0 so the
    gradient at an unchanged price is the mean of both sides (the derivative a central
    finite difference sees), at the cost of a bias of at most ``width*ln 2``."""
    if not relaxed:
        return torch.relu(x)
    return width * torch.nn.functional.softplus(x / width)


def _col(xs: list[Tensor]) -> Tensor:
    """Stack 0-d or ``[n]`` tensors into ``[k, 1]`` or ``[k, n]`` (broadcast over paths)."""
    s = torch.stack(torch.broadcast_tensors(*xs))
    return s.unsqueeze(1) if s.dim() == 1 else s


def _clamp_fresh(x: Tensor, lo: float | None = None, hi: float | None = None) -> Tensor:
    """``x.clamp(lo, hi)`` for a temporary ``x`` the step has just made: in place (no new
    buffer) unless autograd tracks it."""
    return x.clamp(lo, hi) if x.requires_grad else x.clamp_(lo, hi)
