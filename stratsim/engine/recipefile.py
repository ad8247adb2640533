"""Recipe files: the TOML form of a :class:`~stratsim.engine.recipe.Recipe`, written through
the safe output writer and read back with every key checked."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from .errors import DataError
from .outputs import toml_kind, write_bytes
from .recipe import (
    LABEL_PERIODS,
    RECIPE_VERSION,
    Recipe,
    parse_derive,
)

# ------------------------------------------------------------------------------- TOML


_RECIPE_KEYS = {f.name for f in fields(Recipe)} - {"mapping", "constants", "flag_derives"} | {
    "map", "set", "recipe_version",
}  # fmt: skip

#: Output kind of recipe files: an existing file is replaced without confirmation only
#: when it is a recipe (an integer ``recipe_version`` and only recipe keys, as
#: :meth:`Recipe.to_toml` writes it).
RECIPE_FILE = toml_kind(
    "recipe file",
    lambda doc: isinstance(doc.get("recipe_version"), int) and set(doc) <= _RECIPE_KEYS,
    re.compile(r"\Arecipe_version = \d+\n"),
)


def save_recipe(recipe: Recipe, path: str | Path, *, force: bool = False) -> Path:
    """Write ``recipe`` as TOML to ``path`` through the safe output writer
    (:func:`stratsim.engine.outputs.write_bytes`): never through a symbolic link, and an
    existing file that is not a recipe is not replaced unless ``force``.

    Raises:
        OutputError: a link or a file that is not a recipe is in the way (not ``force``).
        OSError: the write failed (the old file is unchanged).
    """
    return write_bytes(path, recipe.to_toml().encode("utf-8"), RECIPE_FILE, force=force)


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe TOML file.

    Raises:
        DataError: unreadable, not TOML, or a key of the wrong type (naming the key).
    """
    from .fileio import printable, read_toml

    doc = read_toml(path, DataError, "recipe file")
    src = printable(Path(path))
    return recipe_from_dict(doc, src)


def recipe_from_dict(doc: Mapping[str, Any], src: str = "recipe") -> Recipe:
    """Validate a recipe dict (as read from TOML) into a :class:`Recipe`."""
    known = _RECIPE_KEYS
    for k in doc:
        if k not in known:
            raise DataError(f"{src}: unknown key {k!r}; expected one of {', '.join(sorted(known))}")
    r = _RecipeReader(doc, src)
    ver = doc.get("recipe_version", RECIPE_VERSION)
    if not isinstance(ver, int) or ver > RECIPE_VERSION:
        raise r.bad("recipe_version", ver, f"an integer <= {RECIPE_VERSION}")
    min_items, max_missing, period = r.limits()
    derive, constants = r.derive(), r.constants()
    return Recipe(
        sep=r.text("sep"),
        decimal=r.text("decimal"),
        thousands=r.text("thousands"),
        encoding=r.text("encoding"),
        skip_rows_matching=r.texts(doc.get("skip_rows_matching", []), "skip_rows_matching"),
        target=r.text("target"),
        positive=r.texts(doc.get("positive", []), "positive"),
        label_period=period,
        mapping={k: r.texts(v, f"map.{k}") for k, v in r.table("map").items()},
        min_items=min_items,
        scale=r.scale(doc["scale"], "scale") if "scale" in doc else None,
        column_scale={
            k: r.scale(v, f"column_scale.{k}") for k, v in r.table("column_scale").items()
        },
        missing=r.texts(doc.get("missing", []), "missing"),
        column_missing={
            k: r.texts(v, f"column_missing.{k}") for k, v in r.table("column_missing").items()
        },
        max_missing=float(max_missing) if max_missing is not None else None,
        derive=derive,
        constants=constants,
    )


class _RecipeReader:
    """Typed access to the keys of one recipe document; errors name the key and value."""

    def __init__(self, doc: Mapping[str, Any], src: str) -> None:
        self.doc, self.src = doc, src

    def bad(self, key: str, value: Any, expected: str) -> DataError:
        return DataError(f"{self.src}: key {key!r}: value {value!r}: expected {expected}")

    def text(self, key: str) -> str | None:
        v = self.doc.get(key)
        if v is not None and not isinstance(v, str):
            raise self.bad(key, v, "a string")
        return v

    def texts(self, value: Any, key: str) -> tuple[str, ...]:
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(x, (str, int, float)) for x in value):
            raise self.bad(key, value, "a list of strings")
        return tuple(str(x) for x in value)

    def scale(self, value: Any, key: str) -> tuple[float, float]:
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
            or not value[0] < value[1]
        ):
            raise self.bad(key, value, "[MIN, MAX] with MIN < MAX")
        return (float(value[0]), float(value[1]))

    def table(self, key: str) -> dict[str, Any]:
        v = self.doc.get(key, {})
        if not isinstance(v, dict):
            raise self.bad(key, v, "a table")
        return v

    def limits(self) -> tuple[int | None, float | None, str | None]:
        """``min_items``, ``max_missing`` and ``label_period``, checked."""
        min_items = self.doc.get("min_items")
        if min_items is not None and (not isinstance(min_items, int) or min_items < 1):
            raise self.bad("min_items", min_items, "an integer >= 1")
        max_missing = self.doc.get("max_missing")
        if max_missing is not None and (
            not isinstance(max_missing, (int, float)) or not 0 <= max_missing <= 1
        ):
            raise self.bad("max_missing", max_missing, "a fraction 0..1")
        period = self.text("label_period")
        if period is not None and period not in LABEL_PERIODS:
            raise self.bad("label_period", period, "month or year")
        return min_items, max_missing, period

    def derive(self) -> dict[str, str]:
        derive = {}
        for k, v in self.table("derive").items():
            if not isinstance(v, str):
                raise self.bad(f"derive.{k}", v, "an expression string")
            derive[k] = v
        parse_derive([f"{k}={v}" for k, v in derive.items()], f"{self.src}: derive")
        return derive

    def constants(self) -> dict[str, float]:
        constants = {}
        for k, v in self.table("set").items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise self.bad(f"set.{k}", v, "a finite number")
            constants[k] = float(v)
        return constants
