"""Decisions: the allocation of one period.

``budget`` (currency/month) is split: ``privacy_share`` to the shared privacy and
security programme; of the rest, ``c_share`` to To C and ``1 - c_share`` to To B; within
each segment ``c_split`` / ``b_split`` give fractions over product (functionality F),
ux (U), service (service response R) and acquisition (marketing for To C, sales for
To B), each summing to 1 within :data:`SPLIT_TOLERANCE`. ``c_price`` is per paid
consumer per month, ``b_seat_price`` per enterprise seat per month.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .errors import DecisionError
from .scenario import MAX_MAGNITUDE

if TYPE_CHECKING:
    import torch

SPLIT_KEYS = ("product", "ux", "service", "acquisition")
SPLIT_TOLERANCE = 1e-6
DECISION_KEYS = (
    "budget",
    "privacy_share",
    "c_share",
    "c_split",
    "b_split",
    "c_price",
    "b_seat_price",
)


def _split(product: float, ux: float, service: float, acquisition: float) -> dict[str, float]:
    return {"product": product, "ux": ux, "service": service, "acquisition": acquisition}


@dataclass(frozen=True)
class Decision:
    """One period's allocation. Construct, then :meth:`validate` (``Simulation`` does)."""

    budget: float = 300_000.0
    privacy_share: float = 0.10
    c_share: float = 0.5
    c_split: dict[str, float] = field(default_factory=lambda: _split(0.2, 0.2, 0.1, 0.5))
    b_split: dict[str, float] = field(default_factory=lambda: _split(0.2, 0.1, 0.1, 0.6))
    c_price: float = 12.0
    b_seat_price: float = 40.0

    def validate(self) -> Decision:
        """Return self if valid.

        Raises:
            DecisionError: naming the field, the value and the expectation (negative,
                NaN/inf, share outside 0..1, split keys wrong or not summing to 1).
        """
        for name in ("budget", "c_price", "b_seat_price", "privacy_share", "c_share"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise DecisionError(f"decision {name}: value {v!r}: expected a number")
            if not math.isfinite(v) or v < 0:
                raise DecisionError(f"decision {name}: value {v!r}: expected a finite number >= 0")
            if v > MAX_MAGNITUDE:
                raise DecisionError(
                    f"decision {name}: value {v!r}: expected at most {MAX_MAGNITUDE:g} (larger values overflow the simulation)"
                )
        for name in ("privacy_share", "c_share"):
            v = getattr(self, name)
            if v > 1:
                raise DecisionError(f"decision {name}: value {v!r}: expected a fraction in 0..1")
        for name in ("c_split", "b_split"):
            sp = getattr(self, name)
            if not isinstance(sp, dict) or set(sp) != set(SPLIT_KEYS):
                got = sorted(sp) if isinstance(sp, dict) else sp
                raise DecisionError(
                    f"decision {name}: keys {got!r}: expected exactly {', '.join(SPLIT_KEYS)}"
                )
            for k in SPLIT_KEYS:
                v = sp[k]
                if (
                    isinstance(v, bool)
                    or not isinstance(v, int | float)
                    or not math.isfinite(v)
                    or not 0 <= v <= 1
                ):
                    raise DecisionError(
                        f"decision {name}.{k}: value {v!r}: expected a fraction in 0..1"
                    )
            total = math.fsum(sp[k] for k in SPLIT_KEYS)
            if abs(total - 1.0) > SPLIT_TOLERANCE:
                raise DecisionError(
                    f"decision {name}: shares sum to {total:.6g}: expected 1 (within {SPLIT_TOLERANCE:g})"
                )
        return self

    def spend(self) -> dict[str, float]:
        """Spend per line item, currency/month: privacy, c_<item>, b_<item>."""
        rest = self.budget * (1.0 - self.privacy_share)
        out = {"privacy": self.budget * self.privacy_share}
        for k in SPLIT_KEYS:
            out[f"c_{k}"] = rest * self.c_share * self.c_split[k]
            out[f"b_{k}"] = rest * (1.0 - self.c_share) * self.b_split[k]
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["c_split"] = {k: float(self.c_split[k]) for k in SPLIT_KEYS}
        d["b_split"] = {k: float(self.b_split[k]) for k in SPLIT_KEYS}
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "decision") -> Decision:
        """Build and validate from a mapping with exactly :data:`DECISION_KEYS`.

        Raises:
            DecisionError: unknown or missing key, or an invalid value.
        """
        if not isinstance(data, dict):
            raise DecisionError(f"{where}: value {data!r}: expected a table of decision values")
        unknown = sorted(set(data) - set(DECISION_KEYS))
        missing = [k for k in DECISION_KEYS if k not in data]
        if unknown or missing:
            raise DecisionError(
                f"{where}: unknown keys {unknown} / missing keys {missing}: expected {', '.join(DECISION_KEYS)}"
            )
        try:
            return cls(
                **{
                    k: (
                        dict(data[k])
                        if k.endswith("split") and isinstance(data[k], dict)
                        else data[k]
                    )
                    for k in DECISION_KEYS
                }
            ).validate()
        except DecisionError as exc:
            raise DecisionError(f"{where}: {exc}") from None

    def with_changes(self, **changes: Any) -> Decision:
        """A copy with fields replaced (not validated)."""
        return replace(self, **changes)


def decision_from_allocation(allocation: Any) -> Decision:
    """The scenario's ``[allocation]`` table as a validated :class:`Decision`."""
    d = allocation.model_dump()
    return Decision.from_dict(d, "scenario allocation")


_SCALAR_FIELDS = ("budget", "privacy_share", "c_share", "c_price", "b_seat_price")


@dataclass(frozen=True)
class DecisionTensors:
    """A decision as tensors broadcastable to ``[n_paths]``: the form the step computes with.

    Each field is a 0-d tensor (one allocation for every path: the operator's) or a
    ``[n_paths]`` tensor (one allocation per path: candidates of an optimizer or the
    points of a sweep batched as paths of one simulation). ``c_split`` / ``b_split``
    map :data:`SPLIT_KEYS` to such tensors. Units as :class:`Decision`: budget and prices
    in currency/month, shares and splits as fractions 0..1. Tensors may require grad
    (the relaxed step is differentiable in them).

    Build with :meth:`from_decision` or :meth:`from_tensors`; :meth:`validate` checks
    every path.
    """

    budget: torch.Tensor
    privacy_share: torch.Tensor
    c_share: torch.Tensor
    c_split: dict[str, torch.Tensor]
    b_split: dict[str, torch.Tensor]
    c_price: torch.Tensor
    b_seat_price: torch.Tensor

    @classmethod
    def from_decision(
        cls, decision: Decision, dtype: torch.dtype, device: torch.device | str = "cpu"
    ) -> DecisionTensors:
        """The operator's decision as 0-d tensors (the same allocation on every path)."""
        import torch

        def t(v: float) -> torch.Tensor:
            return torch.tensor(float(v), dtype=dtype, device=device)

        return cls(
            **{k: t(getattr(decision, k)) for k in _SCALAR_FIELDS},
            c_split={k: t(decision.c_split[k]) for k in SPLIT_KEYS},
            b_split={k: t(decision.b_split[k]) for k in SPLIT_KEYS},
        )

    @classmethod
    def from_tensors(
        cls,
        *,
        budget: Any,
        privacy_share: Any,
        c_share: Any,
        c_split: dict[str, Any],
        b_split: dict[str, Any],
        c_price: Any,
        b_seat_price: Any,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> DecisionTensors:
        """From numbers, sequences or tensors (each 0-d or ``[n_paths]``); tensors that
        require grad are kept as they are (no copy) when already of ``dtype``."""
        import torch

        def t(v: Any) -> torch.Tensor:
            if isinstance(v, torch.Tensor):
                return (
                    v
                    if (dtype is None or v.dtype == dtype)
                    and (device is None or v.device == torch.device(device))
                    else v.to(dtype=dtype, device=device)
                )
            return torch.as_tensor(v, dtype=dtype or torch.float64, device=device)

        for name, sp in (("c_split", c_split), ("b_split", b_split)):
            if not isinstance(sp, dict) or set(sp) != set(SPLIT_KEYS):
                raise DecisionError(
                    f"decision {name}: keys {sorted(sp) if isinstance(sp, dict) else sp!r}: expected exactly {', '.join(SPLIT_KEYS)}"
                )
        return cls(
            budget=t(budget),
            privacy_share=t(privacy_share),
            c_share=t(c_share),
            c_split={k: t(c_split[k]) for k in SPLIT_KEYS},
            b_split={k: t(b_split[k]) for k in SPLIT_KEYS},
            c_price=t(c_price),
            b_seat_price=t(b_seat_price),
        )

    def items(self) -> list[tuple[str, torch.Tensor]]:
        """``(name, tensor)`` for every value, splits as ``c_split.product`` etc."""
        out = [(k, getattr(self, k)) for k in _SCALAR_FIELDS]
        out += [(f"c_split.{k}", self.c_split[k]) for k in SPLIT_KEYS]
        out += [(f"b_split.{k}", self.b_split[k]) for k in SPLIT_KEYS]
        return out

    def validate(self, n_paths: int | None = None) -> DecisionTensors:
        """Return self if every path's decision is valid (the rules of :meth:`Decision.validate`).

        Raises:
            DecisionError: naming the field, the first bad path, the value and the expectation;
                or a shape that does not broadcast to ``[n_paths]``.
        """
        import torch

        def bad(name: str, mask: torch.Tensor, vals: torch.Tensor, expect: str) -> None:
            if bool(mask.any()):
                idx = int(mask.reshape(-1).nonzero()[0])
                v = float(vals.reshape(-1)[idx]) if vals.dim() else float(vals)
                where = f" path {idx}" if vals.dim() else ""
                raise DecisionError(f"decision {name}:{where} value {v!r}: {expect}")

        for name, v in self.items():
            if v.dim() > 1 or (
                n_paths is not None and v.dim() == 1 and v.shape[0] not in (1, n_paths)
            ):
                raise DecisionError(
                    f"decision {name}: shape {tuple(v.shape)}: expected a number or [{n_paths}] values"
                )
            x = v.detach()
            bad(name, ~torch.isfinite(x) | (x < 0), x, "expected a finite number >= 0")
            limit = 1.0 if name not in ("budget", "c_price", "b_seat_price") else MAX_MAGNITUDE
            bad(
                name,
                x > limit,
                x,
                "expected a fraction in 0..1"
                if limit == 1.0
                else f"expected at most {MAX_MAGNITUDE:g}",
            )
        for name in ("c_split", "b_split"):
            sp = getattr(self, name)
            total = sum(sp[k].detach().to(torch.float64) for k in SPLIT_KEYS)
            bad(
                name,
                (total - 1.0).abs() > SPLIT_TOLERANCE,
                total,
                f"shares sum to this: expected 1 (within {SPLIT_TOLERANCE:g})",
            )
        return self

    def spend(self) -> dict[str, torch.Tensor]:
        """Spend per line item, currency/month, each broadcastable to ``[n_paths]``:
        ``privacy = budget*privacy_share``; ``c_<item> = rest*c_share*c_split[item]`` and
        ``b_<item> = rest*(1 - c_share)*b_split[item]`` with ``rest = budget*(1 - privacy_share)``.

        Computed once per object when no value requires grad (the operator's decision is
        held for many months); recomputed otherwise, so each backward pass has its own graph.
        """
        cached = self.__dict__.get("_spend")
        if cached is not None:
            return cached
        out = self._spend()
        if not any(v.requires_grad for _, v in self.items()):
            object.__setattr__(self, "_spend", out)
        return out

    def _spend(self) -> dict[str, torch.Tensor]:
        rest = self.budget * (1.0 - self.privacy_share)
        c_rest = rest * self.c_share
        b_rest = rest * (1.0 - self.c_share)
        out = {"privacy": self.budget * self.privacy_share}
        for k in SPLIT_KEYS:
            out[f"c_{k}"] = c_rest * self.c_split[k]
            out[f"b_{k}"] = b_rest * self.b_split[k]
        return out
