"""Data-preparation recipes: every choice that turns a user's file into training data.

A :class:`Recipe` holds how the file is read (separator, decimal mark, thousands
separator, encoding, rows to skip), which column is the target and which labels are
positive, how each model feature is formed (a column, the mean of several items with a
minimum count, a derived expression, a constant), the scales of the columns, the cells
that mean "missing" and how many unusable rows may be dropped. It is written as a small
TOML file (``stratsim train --save-recipe prep.toml``), read back with ``--recipe``, and
stored in the trained model's metadata (``[data.recipe]``) and in sessions that use the
model, so a model's data preparation can be reviewed and reproduced: the same file, the
same recipe and the same seed give the same weights, bit for bit.

TOML layout (every key optional)::

    recipe_version = 1
    sep = ";"                 # "," ";" "\\t" "|" ...; absent: detected
    decimal = ","             # "." or ","; absent: detected
    thousands = "."           # "," "." " " "'" or "" (none); absent: detected
    encoding = "utf-8-sig"    # absent: detected (UTF-8, UTF-8 with BOM, UTF-16 with BOM)
    skip_rows_matching = ["^Subtotal"]   # regular expressions; a row with a matching cell
    target = "Zufriedenheit"
    positive = ["satisfied"]  # a label target: these labels are the positive class
    label_period = "month"    # privacy: the period an incident label covers (month/year)
    min_items = 2             # constructs: least number of items present (default: all)
    scale = [1, 5]            # scale of the rating columns (rescaled to 0..10)
    missing = ["0"]           # cells meaning "missing" in every column
    max_missing = 0.1         # largest fraction of unusable rows dropped (see data.py)
    [map]                     # feature -> columns (a construct: the mean of the items)
    functionality = ["PERQ2", "PERQ4"]
    [column_scale]            # per-column scales, over `scale`
    CUSA1 = [1, 10]
    [column_missing]          # per-column missing sentinels, besides `missing`
    PERQ1 = ["0"]
    [derive]                  # derived columns, in order (see stratsim.engine.expr)
    records_log10 = "log10(`Individuals Affected`)"
    [set]                     # constant features
    enterprise_share = 0.3
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .errors import DataError
from .terms import term

RECIPE_VERSION = 1
LABEL_PERIODS = ("month", "year")


@dataclass(frozen=True)
class Recipe:
    """Every data-preparation choice (see the module docstring for each key)."""

    sep: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    encoding: str | None = None
    skip_rows_matching: tuple[str, ...] = ()
    target: str | None = None
    positive: tuple[str, ...] = ()
    label_period: str | None = None
    mapping: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min_items: int | None = None
    scale: tuple[float, float] | None = None
    column_scale: dict[str, tuple[float, float]] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    column_missing: dict[str, tuple[str, ...]] = field(default_factory=dict)
    max_missing: float | None = None
    derive: dict[str, str] = field(default_factory=dict)
    constants: dict[str, float] = field(default_factory=dict)
    #: Names in ``derive`` given with ``--derive`` (messages then name the flag; the
    #: others came from a recipe file). Not part of the recipe itself: not written.
    flag_derives: tuple[str, ...] = field(default=(), compare=False)

    def merged(self, **overrides: Any) -> Recipe:
        """A copy with the ``overrides`` that are not None / empty (command-line flags
        given explicitly win over a loaded recipe)."""
        keep = {k: v for k, v in overrides.items() if v is not None and v != () and v != {}}
        return replace(self, **keep)

    def to_dict(self) -> dict[str, Any]:
        """TOML-ready dict (None and empty entries left out)."""
        out: dict[str, Any] = {"recipe_version": RECIPE_VERSION}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None or v == () or v == {} or f.name == "flag_derives":
                continue
            key = "map" if f.name == "mapping" else "set" if f.name == "constants" else f.name
            if isinstance(v, tuple):
                v = [float(x) for x in v] if f.name == "scale" else list(v)
            elif isinstance(v, dict):
                v = {
                    k: ([float(x) for x in x_] if f.name == "column_scale" else list(x_))
                    if isinstance(x_, tuple)
                    else x_
                    for k, x_ in v.items()
                }
            out[key] = v
        return out

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())


# ------------------------------------------------------------------------------ parsing


def parse_scale_text(text: str, where: str) -> tuple[float, float]:
    """``"1:5"`` -> ``(1.0, 5.0)``; DataError naming ``where`` otherwise."""
    lo_s, sep, hi_s = str(text).partition(":")
    try:
        if not sep:
            raise ValueError
        lo, hi = float(lo_s), float(hi_s)
    except ValueError:
        raise DataError(f"{where} {text!r}: expected MIN:MAX, e.g. 1:10") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise DataError(f"{where} {text!r}: MIN must be less than MAX (both finite)")
    return (lo, hi)


def _pairs(items: Sequence[str], flag: str, example: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise DataError(f"{flag} {item!r}: expected {example}")
        out.append((name.strip(), value.strip()))
    return out


def parse_derive(items: Sequence[str], where: str | None = None) -> dict[str, str]:
    """``["records_log10=log10(x)"]`` -> ``{name: expr}`` (expressions checked);
    ``where`` names their origin in messages (None: the ``derive`` setting, see
    :func:`~stratsim.engine.terms.term`; or ``FILE: derive``)."""
    from .expr import parse_expression, subject

    where = where or term("derive")
    out: dict[str, str] = {}
    for name, expr in _pairs(items, where, "NAME=EXPRESSION, e.g. logn=log10(count)"):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise DataError(f"{subject(f'{where} {name}', expr)}: NAME must be a plain identifier")
        if name in out:
            raise DataError(f"{where}: {name!r} is derived twice")
        parse_expression(expr, f"{where} {name}")
        out[name] = expr
    return out


def parse_constants(items: Sequence[str]) -> dict[str, float]:
    """``["enterprise_share=0.3"]`` -> ``{feature: value}``."""
    out: dict[str, float] = {}
    for name, value in _pairs(items, f"{term('set')}", "FEATURE=NUMBER, e.g. enterprise_share=0.3"):
        try:
            v = float(value)
        except ValueError:
            v = math.nan
        if not math.isfinite(v):
            raise DataError(f"{term('set')} {name}={value}: expected a finite number")
        out[name] = v
    return out


def split_scale_items(items: Sequence[str]) -> tuple[tuple[float, float] | None, dict]:
    """``--scale`` items: ``MIN:MAX`` (all rating columns) or ``COL=MIN:MAX``."""
    default = None
    per: dict[str, tuple[float, float]] = {}
    for item in items:
        if "=" in item:
            col, _, text = item.partition("=")
            per[col.strip()] = parse_scale_text(text.strip(), f"{term('scale')} {col.strip()}=")
        else:
            default = parse_scale_text(item, f"{term('scale')}")
    return default, per


def split_missing_items(items: Sequence[str]) -> tuple[tuple[str, ...], dict]:
    """``--missing`` items: ``VALUE`` (every column) or ``COL=VALUE`` (that column)."""
    common: list[str] = []
    per: dict[str, list[str]] = {}
    for item in items:
        if "=" in item:
            col, _, value = item.partition("=")
            per.setdefault(col.strip(), []).append(value.strip())
        else:
            common.append(item.strip())
    return tuple(common), {k: tuple(v) for k, v in per.items()}


def build_recipe(
    base: Recipe,
    role: str,
    *,
    sep: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    encoding: str | None = None,
    skip_rows_matching: Sequence[str] = (),
    target: str | None = None,
    positive: str | None = None,
    label_period: str | None = None,
    mapping: Sequence[str] = (),
    min_items: int | None = None,
    scale: Sequence[str] = (),
    missing: Sequence[str] = (),
    max_missing: float | None = None,
    derive: Sequence[str] = (),
    constants: Sequence[str] = (),
) -> Recipe:
    """``base`` with the options given as the command line (and the TUI's training
    dialog) writes them: ``positive`` ``"A,B"``, ``mapping`` ``["ux=Q1,Q2"]``, ``scale``
    ``["1:5", "Q9=1:10"]``, ``missing`` ``["0", "Q1=-99"]``, ``derive`` ``["n=log10(x)"]``,
    ``constants`` ``["enterprise_share=0.3"]``. Options given win over ``base``;
    tables (map, per-column scales and missing values, derive, set) are merged entry by
    entry.

    Raises:
        DataError: a malformed item, naming its flag.
    """
    from .data import parse_mapping

    if thousands is not None and thousands.lower() in ("none", "''", '""'):
        thousands = ""
    _check_options(label_period, max_missing, skip_rows_matching, encoding)
    default_scale, column_scale = split_scale_items(scale)
    common_missing, column_missing = split_missing_items(missing)
    labels = tuple(x.strip() for x in positive.split(",") if x.strip()) if positive else None
    parsed_map = parse_mapping(list(mapping), role)
    flag_derive = parse_derive(derive)
    return base.merged(
        sep=sep or None,
        decimal=decimal or None,
        thousands=thousands,
        encoding=encoding or None,
        skip_rows_matching=tuple(skip_rows_matching) or None,
        target=target or None,
        positive=labels,
        label_period=label_period,
        mapping={**base.mapping, **parsed_map} if parsed_map else None,
        min_items=min_items,
        scale=default_scale,
        column_scale={**base.column_scale, **column_scale} if column_scale else None,
        missing=common_missing or None,
        column_missing={**base.column_missing, **column_missing} if column_missing else None,
        max_missing=max_missing,
        derive={**base.derive, **flag_derive} if flag_derive else None,
        flag_derives=tuple(flag_derive),
        constants={**base.constants, **parse_constants(constants)} if constants else None,
    )


def _check_options(
    label_period: str | None,
    max_missing: float | None,
    skip_rows_matching: Sequence[str],
    encoding: str | None,
) -> None:
    """Refuse option values that are wrong whatever the file (before any file is read)."""
    if label_period is not None and label_period not in LABEL_PERIODS:
        raise DataError(f"{term('label_period')} {label_period!r}: expected month or year")
    if max_missing is not None and not 0.0 <= max_missing <= 1.0:
        raise DataError(f"{term('max_missing')} {max_missing}: expected a fraction 0..1")
    for pattern in skip_rows_matching:  # flags are checked before any file is read
        try:
            re.compile(pattern)
        except re.error as exc:
            raise DataError(
                f"{term('skip_rows_matching')}: not a regular expression: {exc}"
            ) from None
    if encoding:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataError(
                f"{term('encoding')} {encoding!r} is not a known encoding (e.g. utf-8, utf-16, cp1252, latin-1)"
            ) from None
