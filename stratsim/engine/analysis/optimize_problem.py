"""What an optimization asks: levers, risk measure, constraints and their parsing
(the search itself is :mod:`.optimize`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import StratsimError
from . import parse_finite

if TYPE_CHECKING:
    import torch


LEVERS: tuple[str, ...] = (
    "budget",
    "privacy_share",
    "c_share",
    "c_split",
    "b_split",
    "c_price",
    "b_seat_price",
)
SPLIT_LEVERS = ("c_split", "b_split")
SHARE_LEVERS = ("privacy_share", "c_share")
MONEY_LEVERS = ("budget", "c_price", "b_seat_price")
METHODS = ("gradient", "cmaes", "random")
SCHEDULES = {"stationary": 0, "quarterly": 3}
#: Default box of a money lever, as factors of its current value: budget may go to 0
#: (spending nothing is a valid decision), prices stay within a factor 3 (beyond the
#: range where the price-response calibration holds). Override with ``bounds``.
MONEY_BOX = {"budget": (0.0, 3.0), "c_price": (1 / 3, 3.0), "b_seat_price": (1 / 3, 3.0)}
#: Default evaluations per method (a gradient iteration costs ~3 forward passes).
DEFAULT_BUDGET = {"gradient": 60, "cmaes": 300, "random": 300}
EXACT_EVERY = 5
DEFAULT_LR = 0.3
DEFAULT_ALPHA = 0.10
#: The horizon KPIs compared in the final evaluation.
REPORT_KPIS = (
    "mrr",
    "arr",
    "users_c",
    "paid_c",
    "accounts_b",
    "seats_b",
    "cash",
    "satisfaction_c",
    "satisfaction_b",
    "incident_prob",
)
MAX_BATCH_PATHS = 120_000
_THETA_CLAMP = 8.0
_BOOT_ELEMENTS = 4_000_000


# ------------------------------------------------------------------ specs


@dataclass(frozen=True)
class Risk:
    """``J = (1 - lam)*mean + lam*CVaR_alpha``; ``alpha`` in (0, 1), ``lam`` in [0, 1]."""

    alpha: float = DEFAULT_ALPHA
    lam: float = 0.0

    def __str__(self) -> str:
        return f"cvar:{self.alpha:g}:{self.lam:g}"


def parse_risk(text: str) -> Risk:
    """``"cvar:ALPHA:LAMBDA"`` (e.g. ``cvar:0.1:0.5``) or ``"none"``.

    Raises:
        StratsimError: naming the value and the expected form.
    """
    if text.strip().lower() in ("none", "neutral"):
        return Risk()
    parts = text.split(":")
    try:
        if len(parts) != 3 or parts[0].lower() != "cvar":
            raise ValueError
        alpha, lam = float(parts[1]), float(parts[2])
    except ValueError:
        raise StratsimError(
            f"risk {text!r}: expected cvar:ALPHA:LAMBDA, e.g. cvar:0.1:0.5"
        ) from None
    if not 0 < alpha < 1 or not 0 <= lam <= 1:
        raise StratsimError(
            f"risk {text!r}: expected cvar:ALPHA:LAMBDA with ALPHA in (0, 1) and LAMBDA in [0, 1]"
        )
    return Risk(alpha, lam)


@dataclass(frozen=True)
class Constraint:
    """``metric op limit`` with ``op`` ``<=`` or ``>=`` (see the module doc for metrics)."""

    metric: str
    op: str
    limit: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.limit:g}"

    def violation(self, value: float) -> float:
        """How far ``value`` lies outside the constraint (0 when met)."""
        return max(0.0, value - self.limit) if self.op == "<=" else max(0.0, self.limit - value)

    @property
    def is_probability(self) -> bool:
        return self.metric == CASH_NEGATIVE_EVER

    @property
    def scale(self) -> float:
        """Unit of the violation in the penalty: 1 for a probability, else 5% of the limit
        (a tolerance an operator would notice), 1 for a zero limit."""
        return 1.0 if self.is_probability or not self.limit else 0.05 * abs(self.limit)


#: Constraint and evaluation metric: the share of paths whose cash is below 0 in any month
#: of the horizon (the KPI ``p_cash_negative`` is cash below 0 at the horizon only).
CASH_NEGATIVE_EVER = "p_cash_negative_ever"


def parse_constraint(text: str) -> Constraint:
    """``"p_cash_negative_ever<=0.05"``, ``"incident_prob<=0.02"``, ``"satisfaction_b>=6"``.

    Raises:
        StratsimError: naming the text, the metric and what was expected.
    """
    from ..kpi import KPIS

    for op in ("<=", ">="):
        if op in text:
            metric, _, limit = (s.strip() for s in text.partition(op))
            break
    else:
        raise StratsimError(
            f"constraint {text!r}: expected METRIC<=LIMIT or METRIC>=LIMIT, e.g. {CASH_NEGATIVE_EVER}<=0.05"
        )
    if metric == "p_cash_negative":
        raise StratsimError(
            f"constraint {text!r}: metric 'p_cash_negative' is cash below 0 at the horizon only; "
            f"expected {CASH_NEGATIVE_EVER} (cash below 0 in any month of the horizon)"
        )
    if metric not in KPIS and metric != CASH_NEGATIVE_EVER:
        raise StratsimError(
            f"constraint {text!r}: metric {metric!r}: expected {CASH_NEGATIVE_EVER} or a KPI name ({', '.join(KPIS)})"
        )
    value = parse_finite(limit, f"constraint {text!r}: limit")
    if metric == CASH_NEGATIVE_EVER and not 0 <= value <= 1:
        raise StratsimError(f"constraint {text!r}: limit {value:g}: expected a probability in 0..1")
    return Constraint(metric, op, value)


def parse_levers(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Comma-separated lever names (default: all of :data:`LEVERS`).

    Raises:
        StratsimError: an unknown or repeated name.
    """
    if text is None or text == "all" or text == ["all"]:
        return LEVERS
    names = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    bad = [n for n in names if n not in LEVERS]
    if bad or not names:
        raise StratsimError(
            f"levers {text!r}: unknown {bad}: expected a comma-separated list of {', '.join(LEVERS)}"
        )
    if len(set(names)) != len(names):
        raise StratsimError(f"levers {text!r}: a lever is named twice")
    return tuple(n for n in LEVERS if n in names)


def parse_bound(text: str) -> tuple[str, tuple[float, float]]:
    """``"LEVER=LO:HI"`` for a share or money lever.

    Raises:
        StratsimError: unknown lever, bad numbers, ``LO >= HI`` or outside the decision
            validation's range (shares 0..1, money >= 0).
    """
    from ..scenario import MAX_MAGNITUDE

    name, _, rng = text.partition("=")
    name = name.strip()
    lo_s, _, hi_s = rng.partition(":")
    if name not in SHARE_LEVERS + MONEY_LEVERS:
        raise StratsimError(
            f"bound {text!r}: lever {name!r}: expected one of {', '.join(SHARE_LEVERS + MONEY_LEVERS)} (splits are on the simplex)"
        )
    try:
        lo, hi = float(lo_s), float(hi_s)
    except ValueError:
        raise StratsimError(f"bound {text!r}: expected LEVER=LO:HI with two numbers") from None
    top = 1.0 if name in SHARE_LEVERS else MAX_MAGNITUDE
    if not (0 <= lo < hi <= top) or not math.isfinite(hi):
        raise StratsimError(f"bound {text!r}: expected 0 <= LO < HI <= {top:g}")
    return name, (lo, hi)


# ------------------------------------------------------------- the space


def cvar(v: torch.Tensor, alpha: float) -> torch.Tensor:
    """Mean of the worst ``ceil(alpha*n)`` values along the last dimension (lower tail)."""
    import torch

    k = max(1, math.ceil(alpha * v.shape[-1]))
    return torch.topk(v, k, dim=-1, largest=False).values.mean(-1)
