"""The feature and target stages of a data preparation (a mixin of
:class:`stratsim.engine.dataprep._Preparer`): which columns make each feature, their values
as numbers or labels on the model's scale, the target, and the range checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .data import (
    _FALSE,
    _TRUE,
    BINARY_FEATURES,
    DEFAULT_TARGETS,
    OPTIONAL_FEATURES,
    REQUIRED_FEATURES,
    SCALED_FEATURES,
    VALUE_RANGES,
)
from .datareport import (
    _ambiguous_text,
    _fmt_vals,
    _label_counts,
    _lower,
    _short_list,
    _to_numbers,
)
from .errors import DataError
from .terms import term

if TYPE_CHECKING:
    from .datareport import _Report
    from .recipe import Recipe
    from .tableread import RawTable


class _Features:
    """Feature and target stages; the state and the cell access are the preparer's."""

    table: RawTable
    role: str
    recipe: Recipe
    src: str
    names: list[str]
    rep: _Report
    n_rows: int
    derived: dict[str, np.ndarray]
    derived_miss: dict[str, np.ndarray]
    derived_refs: dict[str, list[str]]
    reported_invalid: set[str]
    ambiguous: dict[str, list[int]]
    fmt: Any

    # ------------------------------------------------------------------------ sources

    def choose_sources(self) -> None:
        """Decide the features, the target and the column(s) of each feature; refuse with
        every structural problem (unknown features, columns not found, target leaks)."""
        recipe, role, src = self.recipe, self.role, self.src
        allowed = REQUIRED_FEATURES[role] + OPTIONAL_FEATURES[role]
        for feat in list(recipe.mapping) + list(recipe.constants):
            if feat not in allowed:
                raise DataError(
                    f"{src}: unknown feature {feat!r} for the {role} model; "
                    f"expected one of {', '.join(allowed)}"
                )
        both = set(recipe.mapping) & set(recipe.constants)
        if both:
            raise DataError(
                f"{src}: feature {sorted(both)[0]!r} is both mapped ({term('map')}) and set ({term('set')})"
            )
        optional = [
            f for f in OPTIONAL_FEATURES[role] if f in recipe.mapping or f in recipe.constants
        ]
        self.features: tuple[str, ...] = REQUIRED_FEATURES[role] + tuple(optional)
        self.target: str = recipe.target or DEFAULT_TARGETS[role]
        self.sources: dict[str, tuple[str, ...]] = {}
        no_column = self._find_sources()
        if not self.exists(self.target):
            self.rep.structural.append(
                f"no target column {self.target!r} (choose one with {term('target')} COLUMN)"
            )
            no_column = True
        if no_column:
            self.rep.structural.append(
                f"columns in the file: {_short_list(self.names)}{self._separator_hint()}"
            )
        used = {c for cols in self.sources.values() for c in cols} | {self.target}
        for col in sorted(used):
            if col in self.ambiguous:
                self.rep.structural.append(_ambiguous_text(col, self.ambiguous, self.table))
        self._check_target_leaks()
        if self.rep.structural:
            raise self.rep.fail(f"{len(self.rep.structural)} problem(s)", self.rep.structural)

    def _find_sources(self) -> bool:
        """Fill ``self.sources``; report each feature without a column (True if any)."""
        recipe, rep = self.recipe, self.rep
        no_column = False
        for feat in self.features:
            if feat in recipe.constants:
                continue
            if feat in recipe.mapping:
                cols = recipe.mapping[feat]
                if len(cols) > 1 and recipe.min_items is not None and recipe.min_items > len(cols):
                    rep.structural.append(
                        f"{term('min_items')} {recipe.min_items}: the construct {feat} "
                        f"({','.join(cols)}) has only {len(cols)} items; expected at most {len(cols)}"
                    )
                for col in cols:
                    if not self.exists(col):
                        rep.structural.append(
                            f"no column {col!r} for feature {feat} (mapped with {term('map')} "
                            f"{feat}={','.join(cols)})"
                        )
                        no_column = True
                self.sources[feat] = cols
            elif self.exists(feat):
                self.sources[feat] = (feat,)
            else:
                example = "log10(`COUNT COLUMN`)" if feat == "records_log10" else "EXPR"
                rep.structural.append(
                    f"no column {feat!r} for feature {feat}; supply it with {term('map')} {feat}=COLUMN[,COLUMN...], "
                    f"{term('derive')} {feat}={example} or {term('set')} {feat}=VALUE"
                )
                no_column = True
        return no_column

    def _separator_hint(self) -> str:
        """A hint when a CSV read as one column holds another separator in its name."""
        names, table = self.names, self.table
        if len(names) == 1 and table.format.kind == "csv":
            seps = [c for c in (";", ",", "\t", "|") if c in names[0] and c != table.format.sep]
            if seps:
                return (
                    f" (one column: its name holds {seps[0]!r}; is the separator "
                    f"{seps[0]!r}? read with {term('sep')} {'tab' if seps[0] == chr(9) else seps[0]})"
                )
        return ""

    def _check_target_leaks(self) -> None:
        """A feature made of the target's column(s) would only teach the model to copy it."""
        target = self.target
        target_base = self.base_columns(target) if self.exists(target) else set()
        for feat, cols in self.sources.items():
            if target in cols:
                self.rep.structural.append(
                    f"column {target!r} is both the target and feature {feat}'s column; "
                    "a model would only learn to copy it: map the feature to another column"
                )
                continue
            shared = sorted(
                target_base & set().union(*(self.base_columns(c) for c in cols if self.exists(c)))
            )
            if shared:
                self.rep.structural.append(
                    f"feature {feat} ({', '.join(cols)}) and the target {target!r} are both made "
                    f"from column {shared[0]!r}; a model would only learn to copy it"
                )

    # ------------------------------------------------------------------------- values

    def numbers(self, col: str) -> tuple[np.ndarray, np.ndarray]:
        """Values ``[n]`` (NaN where missing or invalid) and the missing mask ``[n]``."""
        if col in self.derived:
            return self.derived[col].copy(), self.derived_miss[col].copy()
        fmt = self.fmt
        cells = self.text(col)
        miss = self.missing_mask(col, cells)
        vals = _to_numbers(cells, fmt.decimal, fmt.thousands)
        bad = ~miss & ~np.isfinite(vals)
        what = "non-numeric value(s)" + (
            f" (reading decimal {fmt.decimal!r}, thousands {fmt.thousands!r}; "
            f"see {term('decimal')}/{term('thousands')})"
            if any(("," in c or "." in c) for c in cells[bad][:20])
            else ""
        )
        if col not in self.reported_invalid:  # else already reported by a derived column
            self.rep.invalid_cells(col, bad, what, cells)
        vals[miss | bad] = np.nan
        return vals, miss

    def labels(
        self, col: str, positive: tuple[str, ...], what: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """0/1 values ``[n]`` (NaN where missing/invalid) and the missing mask ``[n]``."""
        if col in self.derived:
            vals = self.derived[col].copy()
            miss = self.derived_miss[col].copy()
            cells = np.array(
                ["" if m else f"{v:g}" for v, m in zip(vals, miss, strict=True)], dtype=object
            )
        else:
            cells = self.text(col)
            miss = self.missing_mask(col, cells)
        if positive:
            out = self._positive_labels(col, cells, miss, positive)
        else:
            low = _lower(cells)
            is_true = np.isin(low, list(_TRUE)) & ~miss
            is_false = np.isin(low, list(_FALSE)) & ~miss
            bad = ~(miss | is_true | is_false)
            if bad.any():
                hint = (
                    f"; choose the positive class with {term('positive')} LABEL (labels: "
                    f"{', '.join(repr(lbl) for lbl, _ in _label_counts(cells[~miss])[:6])})"
                    if what == "target"
                    else ""
                )
                self.rep.invalid_cells(
                    col, bad, "expected a binary label (yes/no, true/false, 1/0)" + hint, cells
                )
            out = np.where(is_true, 1.0, 0.0)
            out[bad] = np.nan
        out[miss] = np.nan
        return out, miss

    def _positive_labels(
        self, col: str, cells: np.ndarray, miss: np.ndarray, positive: tuple[str, ...]
    ) -> np.ndarray:
        pos = np.isin(cells, list(positive)) & ~miss
        found = set(cells[~miss].tolist())
        absent = [p for p in positive if p not in found]
        if absent:
            shown = ", ".join(repr(lbl) for lbl, _ in _label_counts(cells[~miss])[:8])
            raise DataError(
                f"{self.src}: column {col!r}: positive label(s) {', '.join(map(repr, absent))} "
                f"not found; labels: {shown}"
            )
        return np.where(pos, 1.0, 0.0)

    def declared_scale(self, col: str, feat: str | None) -> tuple[float, float] | None:
        recipe = self.recipe
        if col in recipe.column_scale:
            return recipe.column_scale[col]
        if recipe.scale is not None and (
            (feat is not None and feat in SCALED_FEATURES[self.role])
            or (feat is None and self.role == "satisfaction" and not recipe.positive)
        ):
            return recipe.scale
        return None

    def rescaled(self, col: str, feat: str | None, vals: np.ndarray) -> np.ndarray:
        sc = self.declared_scale(col, feat)
        if sc is None:
            return vals
        lo, hi = sc
        tol = 1e-9 * (hi - lo)
        bad = np.isfinite(vals) & ((vals < lo - tol) | (vals > hi + tol))
        self.rep.invalid_cells(
            col, bad, f"value(s) outside the declared scale {lo:g}:{hi:g}", _fmt_vals(vals)
        )
        vals = np.where(bad, np.nan, vals)
        return (vals - lo) / (hi - lo) * 10.0

    def feature_columns(self) -> list[np.ndarray]:
        """One ``[n_rows]`` column per feature: a constant, or the mean of its items
        (NaN where fewer than ``min_items`` items are present)."""
        recipe = self.recipe
        min_items = recipe.min_items
        x_cols: list[np.ndarray] = []
        for feat in self.features:
            if feat in recipe.constants:
                x_cols.append(np.full(self.n_rows, recipe.constants[feat]))
                continue
            cols = self.sources[feat]
            parts, present = [], []
            for col in cols:
                if feat in BINARY_FEATURES:
                    vals, miss = self.labels(col, (), "feature")
                else:
                    vals, miss = self.numbers(col)
                    vals = self.rescaled(col, feat, vals)
                parts.append(vals)
                present.append(~miss)
            stack = np.stack(parts, axis=1)
            n_present = np.stack(present, axis=1).sum(axis=1)
            need = len(cols) if min_items is None else min(min_items, len(cols))
            too_few = n_present < need
            for col, pres in zip(cols, present, strict=True):
                self.note_missing(col, too_few & ~pres)
            finite = np.isfinite(stack)
            with np.errstate(all="ignore"):
                value = np.where(finite, stack, 0.0).sum(axis=1) / finite.sum(axis=1)
            value = np.where(too_few | (finite.sum(axis=1) == 0), np.nan, value)
            x_cols.append(value)
        return x_cols

    def target_values(self) -> tuple[np.ndarray, np.ndarray]:
        """The target ``[n_rows]`` in model units and its missing mask; sets ``binary`` and
        ``target_note``."""
        recipe, role, target, fmt = self.recipe, self.role, self.target, self.fmt
        self.target_note = ""
        self.binary = role == "privacy" or bool(recipe.positive)
        if self.binary:
            y, y_miss = self.labels(target, recipe.positive, "target")
            if recipe.positive:
                label_set = "{" + ", ".join(repr(p) for p in recipe.positive) + "}"
                self.target_note = (
                    f"10 x P({target} in {label_set})"
                    if role == "satisfaction"
                    else f"{target} in {label_set}"
                )
                if role == "satisfaction":
                    y = y * 10.0
            return y, y_miss
        cells = self.text(target) if target not in self.derived else None
        if (
            cells is not None
            and not np.isfinite(_to_numbers(cells, fmt.decimal, fmt.thousands)).any()
        ):
            found = _label_counts(cells[~self.missing_mask(target, cells)])[:6]
            self.rep.add(
                target,
                "holds labels, not numbers ("
                + ", ".join(repr(lbl) for lbl, _ in found)
                + f"); model P(label) x 10 with {term('positive')} LABEL",
            )
            self.rep.invalid |= True
            return np.full(self.n_rows, np.nan), np.zeros(self.n_rows, dtype=bool)
        y, y_miss = self.numbers(target)
        return self.rescaled(target, None, y), y_miss

    def check_ranges(self, x_cols: list[np.ndarray], y: np.ndarray) -> np.ndarray:
        """Report values outside each feature's range (model units; ``x_cols`` updated in
        place, NaN there) and a satisfaction target outside 0..10; returns ``y``."""
        recipe, role, src = self.recipe, self.role, self.src
        for j, feat in enumerate(self.features):
            lo, hi = VALUE_RANGES[feat]
            if feat in recipe.constants:
                v = recipe.constants[feat]
                if not lo <= v <= hi:
                    raise DataError(
                        f"{src}: {term('set')} {feat}={v:g}: outside {lo:g}..{hi:g} (range of the feature)"
                    )
                continue
            v = x_cols[j]
            tol = 1e-9 * max(1.0, hi - lo)
            bad = np.isfinite(v) & ((v < lo - tol) | (v > hi + tol))
            if bad.any():
                x_cols[j] = self._out_of_range(feat, v, bad, lo, hi)
        if role == "satisfaction" and not self.binary:
            bad = np.isfinite(y) & ((y < -1e-9) | (y > 10 + 1e-9))
            hint = "satisfaction range" + (
                f"; declare {term('scale')} MIN:MAX"
                if self.declared_scale(self.target, None) is None
                else ""
            )
            self.rep.invalid_cells(
                self.target, bad, f"value(s) outside 0..10 ({hint})", _fmt_vals(y)
            )
            y = np.where(bad, np.nan, y)
        return y

    def _out_of_range(
        self, feat: str, v: np.ndarray, bad: np.ndarray, lo: float, hi: float
    ) -> np.ndarray:
        sources = self.sources[feat]
        hint = "range of the feature"
        if feat in SCALED_FEATURES[self.role] and self.declared_scale(sources[0], feat) is None:
            hint += f"; declare the file's scale with {term('scale')} MIN:MAX"
        if feat == "records_log10" and np.nanmax(v) > hi:
            hint += (
                f"; raw counts? derive the log: {term('derive')} records_log10=log10({sources[0]})"
            )
        column = ", ".join(sources) + (" (mean)" if len(sources) > 1 else "")
        self.rep.invalid_cells(
            column, bad, f"value(s) outside {lo:g}..{hi:g} (feature {feat}; {hint})", _fmt_vals(v)
        )
        return np.where(bad, np.nan, v)
