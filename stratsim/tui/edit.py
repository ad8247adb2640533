"""Editing a decision from the keyboard: the editable fields, their steps and bounds,
parsing typed text, and keeping the two splits summing to 1.

This is input handling only (what a keystroke does to the operator's draft); whether a
decision is valid is decided by :meth:`stratsim.engine.decisions.Decision.validate`,
which the panel calls before anything is previewed or applied. No torch import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..engine.decisions import SPLIT_KEYS, Decision
from ..engine.errors import DecisionError


@dataclass(frozen=True)
class Field:
    """One editable value of a :class:`Decision`.

    Attributes:
        key: ``budget``, ``c_share``... or ``c_split.product`` for a split share.
        label: short label shown in the allocation panel (fits 14 columns).
        step: change per arrow/``+``/``-`` press, in the field's unit.
        minimum, maximum: accepted range (``maximum`` None: unbounded).
        unit: shown in the help line (``per month``, ``fraction``...).
    """

    key: str
    label: str
    step: float
    minimum: float
    maximum: float | None
    unit: str

    @property
    def is_split(self) -> bool:
        return "." in self.key

    def describe(self) -> str:
        hi = "no maximum" if self.maximum is None else f"at most {self.maximum:g}"
        return f"{self.label}: {self.unit}, at least {self.minimum:g}, {hi}"


_SEG_LABEL = {"product": "product", "ux": "ux", "service": "service"}

#: Largest monthly budget a field accepts (a trillion currency units per month): far above
#: any real allocation, far below what float32 (max ~3.4e38) and the cash/NPV sums over a
#: horizon can hold, so a typo such as 1e39 is refused at the input, never simulated.
MAX_MONEY = 1e12
#: Largest price per user or seat per month a field accepts (a billion currency units).
MAX_PRICE = 1e9

#: Every editable value, in display order. Steps: 10k per month of budget (3% of the
#: default 300k), one point (0.01) of a share, 1 currency unit of a price.
FIELDS: tuple[Field, ...] = (
    Field("budget", "Budget", 10_000.0, 0.0, MAX_MONEY, "money per month"),
    Field("privacy_share", "Privacy share", 0.01, 0.0, 1.0, "fraction of budget"),
    Field("c_share", "C share", 0.01, 0.0, 1.0, "fraction of the rest to To C"),
    *(
        Field(
            f"c_split.{k}",
            f"C {_SEG_LABEL.get(k, 'marketing')}",
            0.01,
            0.0,
            1.0,
            "fraction of To C spend",
        )
        for k in SPLIT_KEYS
    ),
    *(
        Field(
            f"b_split.{k}",
            f"B {_SEG_LABEL.get(k, 'sales')}",
            0.01,
            0.0,
            1.0,
            "fraction of To B spend",
        )
        for k in SPLIT_KEYS
    ),
    Field("c_price", "C price", 1.0, 0.0, MAX_PRICE, "money per paid user per month"),
    Field("b_seat_price", "B seat price", 1.0, 0.0, MAX_PRICE, "money per seat per month"),
)
FIELD_BY_KEY = {f.key: f for f in FIELDS}


def get_value(decision: Decision, key: str) -> float:
    """The value of ``key`` (``budget`` or ``c_split.ux``) in ``decision``."""
    if "." in key:
        split, item = key.split(".")
        return float(getattr(decision, split)[item])
    return float(getattr(decision, key))


def format_value(key: str, value: float) -> str:
    """Text shown in the field's input: shares with 3 decimals, money with 0 or 2."""
    if FIELD_BY_KEY[key].maximum == 1.0:
        return f"{value:.3f}"
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}"


def parse_value(key: str, text: str) -> float:
    """Parse typed text for ``key``.

    A decimal comma is read as a decimal point (``12,5`` is 12.5), never as a thousands
    separator; a comma that could be either (followed by exactly three digits, ``12,500``)
    or several commas or a comma next to a point are refused. ``_`` groups digits.

    Raises:
        DecisionError: not a number, an ambiguous comma, not finite, or outside the
            field's range; the message names the field, the text and the expectation.
    """
    f = FIELD_BY_KEY[key]
    cleaned = text.strip().replace("_", "")
    if "," in cleaned:
        whole, _, frac = cleaned.partition(",")
        if "," in frac or "." in cleaned or len(frac) == 3 or not frac.isdigit():
            raise DecisionError(
                f"{f.label} {text!r}: ambiguous comma; write the number with a decimal point "
                f"and no thousands separator (e.g. 12.5 or 12500)"
            )
        cleaned = f"{whole}.{frac}"
    try:
        value = float(cleaned)
    except ValueError:
        raise DecisionError(f"{f.label} {text!r}: expected a number ({f.describe()})") from None
    if (
        not math.isfinite(value)
        or value < f.minimum
        or (f.maximum is not None and value > f.maximum)
    ):
        raise DecisionError(f"{f.label} {text!r}: out of range ({f.describe()})")
    return value


def rebalance(split: dict[str, float], item: str, value: float) -> dict[str, float]:
    """Set ``split[item] = value`` and scale the other shares so the split sums to 1.

    The others keep their proportions (``other_i * (1 - value) / sum(others)``); when
    they are all 0, the remainder is shared equally. ``value`` must be in 0..1.
    """
    others = [k for k in SPLIT_KEYS if k != item]
    rest = 1.0 - value
    total = math.fsum(split[k] for k in others)
    out = {item: value}
    for k in others:
        out[k] = split[k] * rest / total if total > 0 else rest / len(others)
    # put the rounding residue on the largest other share so fsum is exactly 1 +- 1 ulp
    big = max(others, key=lambda k: out[k])
    out[big] = max(0.0, 1.0 - math.fsum(out[k] for k in SPLIT_KEYS if k != big))
    return {k: out[k] for k in SPLIT_KEYS}


def with_value(decision: Decision, key: str, value: float) -> Decision:
    """A copy of ``decision`` with ``key`` set (split shares rebalanced); not validated."""
    if "." in key:
        split, item = key.split(".")
        return decision.with_changes(**{split: rebalance(getattr(decision, split), item, value)})
    return decision.with_changes(**{key: value})


def stepped(decision: Decision, key: str, direction: int) -> Decision:
    """``decision`` with ``key`` moved one step up (+1) or down (-1), clamped to range."""
    f = FIELD_BY_KEY[key]
    value = get_value(decision, key) + direction * f.step
    value = max(f.minimum, value if f.maximum is None else min(f.maximum, value))
    value = round(value, 6)
    return with_value(decision, key, value)
