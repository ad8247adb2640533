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
from typing import Any

from .errors import DecisionError

SPLIT_KEYS = ("product", "ux", "service", "acquisition")
SPLIT_TOLERANCE = 1e-6
DECISION_KEYS = ("budget", "privacy_share", "c_share", "c_split", "b_split", "c_price", "b_seat_price")


def _split(product: float, ux: float, service: float, acquisition: float) -> dict[str, float]:
    return {"product": product, "ux": ux, "service": service, "acquisition": acquisition}


@dataclass(frozen=True)
class Decision:
    """One period's allocation. Construct, then :meth:`validate` (``Simulation`` does)."""

    budget: float = 300_000.0
    privacy_share: float = 0.10
    c_share: float = 0.5
    c_split: dict[str, float] = field(default_factory=lambda: _split(0.3, 0.3, 0.1, 0.3))
    b_split: dict[str, float] = field(default_factory=lambda: _split(0.3, 0.1, 0.2, 0.4))
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
        for name in ("privacy_share", "c_share"):
            v = getattr(self, name)
            if v > 1:
                raise DecisionError(f"decision {name}: value {v!r}: expected a fraction in 0..1")
        for name in ("c_split", "b_split"):
            sp = getattr(self, name)
            if not isinstance(sp, dict) or set(sp) != set(SPLIT_KEYS):
                got = sorted(sp) if isinstance(sp, dict) else sp
                raise DecisionError(f"decision {name}: keys {got!r}: expected exactly {', '.join(SPLIT_KEYS)}")
            for k in SPLIT_KEYS:
                v = sp[k]
                if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not 0 <= v <= 1:
                    raise DecisionError(f"decision {name}.{k}: value {v!r}: expected a fraction in 0..1")
            total = math.fsum(sp[k] for k in SPLIT_KEYS)
            if abs(total - 1.0) > SPLIT_TOLERANCE:
                raise DecisionError(f"decision {name}: shares sum to {total:.6g}: expected 1 (within {SPLIT_TOLERANCE:g})")
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
            raise DecisionError(f"{where}: unknown keys {unknown} / missing keys {missing}: expected {', '.join(DECISION_KEYS)}")
        try:
            return cls(**{k: (dict(data[k]) if k.endswith("split") and isinstance(data[k], dict) else data[k]) for k in DECISION_KEYS}).validate()
        except DecisionError as exc:
            raise DecisionError(f"{where}: {exc}") from None

    def with_changes(self, **changes: Any) -> Decision:
        """A copy with fields replaced (not validated)."""
        return replace(self, **changes)


def decision_from_allocation(allocation: Any) -> Decision:
    """The scenario's ``[allocation]`` table as a validated :class:`Decision`."""
    d = allocation.model_dump()
    return Decision.from_dict(d, "scenario allocation")
