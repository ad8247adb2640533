"""Preparing a read table for training: skipped rows, derived columns, features, target,
missing and invalid cells, all reported at once (:func:`prepare`; the rules are in
:mod:`stratsim.engine.data`'s docstring).

The stages run in order on one :class:`_Preparer`: rows (skipped, ragged), derived
columns, feature sources and structural checks, values (:mod:`.datafeatures`), then the
decision to drop rows or refuse, and the checks that the data can teach a model.
"""

from __future__ import annotations

import re

import numpy as np

from .data import (
    DEFAULT_MAX_MISSING,
    MAX_ROWS_SHOWN,
    MISSING_TOKENS,
    TOTAL_ROW,
    TrainingData,
    _check_role,
)
from .datafeatures import _Features
from .datareport import (
    _ambiguous_text,
    _join_rows,
    _lower,
    _num,
    _Report,
    _short_list,
    _to_numbers,
)
from .errors import DataError
from .recipe import Recipe
from .tableread import RawTable
from .terms import term

__all__ = ["prepare"]


def prepare(table: RawTable, role: str, recipe: Recipe, sha256: str = "") -> TrainingData:
    """Turn text cells into :class:`TrainingData` by ``recipe`` (module docstring).

    Raises:
        DataError: every problem found, in one message (see :func:`load_training_data`).
    """
    _check_role(role)
    p = _Preparer(table, role, recipe)
    p.skip_rows()
    p.derive_columns()
    p.choose_sources()
    x_cols = p.feature_columns()
    y, y_miss = p.target_values()
    p.note_missing(p.target, y_miss)
    y = p.check_ranges(x_cols, y)
    unusable, warnings = p.decide()
    keep = ~unusable
    x, y = np.stack(x_cols, axis=1)[keep], y[keep]
    p.check_teachable(x, y)
    return p.result(x, y, unusable, warnings, sha256)


class _Preparer(_Features):
    """The state of one preparation; each stage is a method (see :func:`prepare`)."""

    def __init__(self, table: RawTable, role: str, recipe: Recipe) -> None:
        self.table, self.role, self.recipe = table, role, recipe
        self.src = table.source
        self.names = table.names
        self.fmt = table.format
        # header: duplicates, and names that collide once spaces are stripped
        self.positions: dict[str, list[int]] = {}
        for j, name in enumerate(self.names):
            self.positions.setdefault(name, []).append(j)
        self.ambiguous = {n: p for n, p in self.positions.items() if len(p) > 1}
        self.text_cache: dict[str, np.ndarray] = {}
        self.derived: dict[str, np.ndarray] = {}
        self.derived_miss: dict[str, np.ndarray] = {}
        self.derived_refs: dict[str, list[str]] = {}
        self.derived_invalid: dict[str, np.ndarray] = {}
        self.reported_invalid: set[str] = set()
        self.namespace_cache: dict = {}

    # ---------------------------------------------------------------------------- rows

    def skip_rows(self) -> None:
        """Skip repeated headers, total rows and rows matching ``skip_rows_matching``;
        set aside rows of the wrong width; start the report."""
        try:
            self.patterns = [re.compile(p) for p in self.recipe.skip_rows_matching]
        except re.error as exc:
            raise DataError(
                f"{term('skip_rows_matching')}: not a regular expression: {exc}"
            ) from None
        self.header_cells = [n.lower() for n in self.names]
        self.skipped: list[tuple[int, str]] = []
        self.keep_rows: list[list[str]] = []
        keep_nums: list[int] = []
        for cells, num in zip(self.table.rows, self.table.row_numbers, strict=True):
            reason = self._skip_reason(cells)
            if reason:
                self.skipped.append((num, reason))
            else:
                self.keep_rows.append(cells)
                keep_nums.append(num)
        self.ragged: list[tuple[int, int]] = []
        for num, cells in self.table.ragged:
            reason = self._skip_reason(cells)
            if reason:
                self.skipped.append((num, reason))
            else:
                self.ragged.append((num, len(cells)))
        self.skipped.sort()
        self.row_nums = np.asarray(keep_nums, dtype=np.int64)
        self.rep = _Report(self.src, self.row_nums)
        self.ragged_text = self._ragged_text()
        if self.ragged and self.recipe.max_missing is None:
            self.rep.structural.append(
                self.ragged_text + f" (skip such rows with {term('skip_rows_matching')})"
            )
        self.n_rows = len(self.keep_rows)
        if self.n_rows == 0 and not self.rep.structural:
            raise DataError(
                f"{self.src}: no data rows left after skipping {len(self.skipped)} row(s)"
            )

    def _skip_reason(self, cells: list[str]) -> str:
        h0 = self.header_cells[0] if self.header_cells else ""
        c0 = cells[0].lower() if cells else ""
        if c0 == h0 or not c0:  # cheap test first: a repeated header starts like the header
            non_empty = [(c, h) for c, h in zip(cells, self.header_cells, strict=False) if c]
            if len(non_empty) >= min(2, len(self.names)) and all(
                c.lower() == h for c, h in non_empty
            ):
                return "repeated header"
        if any(c[:1] in "TtSsGgAaMm" and TOTAL_ROW.fullmatch(c) for c in cells[:2]):
            return "total row"
        if self.patterns and any(p.search(c) for p in self.patterns for c in cells):
            return f"matches {term('skip_rows_matching')}"
        return ""

    def _ragged_text(self) -> str:
        ragged = self.ragged
        return "; ".join(
            f"row {num} has {count} cells, the header has {len(self.names)}"
            for num, count in ragged[:MAX_ROWS_SHOWN]
        ) + (
            f" (+{len(ragged) - MAX_ROWS_SHOWN} more such rows)"
            if len(ragged) > MAX_ROWS_SHOWN
            else ""
        )

    # --------------------------------------------------------------------------- cells

    def text(self, col: str) -> np.ndarray:
        """The kept text cells ``[n_rows]`` of the file's column ``col``."""
        if col not in self.text_cache:
            j = self.positions[col][0]
            self.text_cache[col] = np.array([r[j] for r in self.keep_rows], dtype=object)
        return self.text_cache[col]

    def missing_mask(self, col: str, cells: np.ndarray) -> np.ndarray:
        """Cells ``[n]`` meaning missing: the usual tokens and the recipe's sentinels."""
        recipe, fmt = self.recipe, self.fmt
        tokens = set(recipe.missing) | set(recipe.column_missing.get(col, ()))
        low = _lower(cells)
        miss = np.isin(low, list(MISSING_TOKENS)) | np.isin(cells, list(tokens) or [""])
        nums = [_num(t) for t in tokens]
        nums = [v for v in nums if v is not None]
        if nums:
            parsed = _to_numbers(cells, fmt.decimal, fmt.thousands)
            miss |= np.isin(parsed, nums)
        return miss

    def as_column(self, name: str):
        """Column ``name`` for expressions (:class:`stratsim.engine.expr.Column`)."""
        from .expr import Column

        if name in self.derived:
            return Column(self.derived[name], self.derived_miss[name], True)
        if name not in self.namespace_cache:
            cells = self.text(name)
            miss = self.missing_mask(name, cells)
            vals = _to_numbers(cells, self.fmt.decimal, self.fmt.thousands)
            finite = np.isfinite(vals) & ~miss
            if np.all(finite | miss):
                self.namespace_cache[name] = Column(np.where(miss, np.nan, vals), miss, True)
            else:  # labels; mostly numbers: the other cells are invalid where used as numbers
                mostly = 2 * int(finite.sum()) >= int((~miss).sum())
                numbers = np.where(finite, vals, np.nan) if mostly else None
                self.namespace_cache[name] = Column(cells, miss, False, numbers=numbers)
        return self.namespace_cache[name]

    def exists(self, col: str) -> bool:
        return col in self.positions or col in self.derived

    # ------------------------------------------------------------------------- derived

    def derive_columns(self) -> None:
        """Evaluate the recipe's derived columns, in order."""
        for dname, dexpr in self.recipe.derive.items():
            self._derive(dname, dexpr)

    def _derive(self, dname: str, dexpr: str) -> None:
        from .expr import evaluate, parse_expression, subject

        src, rep = self.src, self.rep
        where = (
            f"{term('derive')} {dname}"
            if dname in self.recipe.flag_derives
            else f"recipe derive {dname}"
        )
        if dname in self.positions:
            raise DataError(
                f"{src}: {subject(where, dexpr)}: the file already has a column {dname!r}; "
                f"choose another name (or {term('map')} the feature to it)"
            )
        expr = parse_expression(dexpr, where)
        refs = [n for n in expr.names() if n in self.positions or n in self.derived]
        unknown = [n for n in expr.names() if n not in self.positions and n not in self.derived]
        if unknown:
            raise DataError(
                f"{src}: {subject(where, dexpr)}: no column {unknown[0]!r} (use `backticks` for "
                f"names with spaces); columns: {_short_list(self.names)}"
            )
        for n in refs:
            if n in self.ambiguous:
                raise DataError(
                    f"{src}: {subject(where, dexpr)}: {_ambiguous_text(n, self.ambiguous, self.table)}"
                )
        try:
            col = evaluate(expr, {n: self.as_column(n) for n in refs}, where=where, n=self.n_rows)
        except DataError as exc:
            raise DataError(f"{src}: {exc}") from None
        invalid = np.zeros(self.n_rows, dtype=bool)
        for ref in col.coerced:  # cells that are not numbers in a column used as numbers
            ref_col = self.as_column(ref)
            ref_bad = ~ref_col.missing & ~np.isfinite(ref_col.numbers)  # type: ignore[arg-type]
            invalid |= ref_bad
            if ref not in self.reported_invalid:
                self.reported_invalid.add(ref)
                rep.invalid_cells(
                    ref,
                    ref_bad,
                    f"non-numeric value(s) (used as numbers by {where})",
                    ref_col.values,
                )
        bad = ~col.missing & ~np.isfinite(col.values)
        if bad.any():
            rep.invalid_cells(dname, bad, "derived value is not finite (log of 0? division by 0?)")
        self.derived[dname] = np.where(bad, np.nan, col.values)
        self.derived_miss[dname] = col.missing
        self.derived_invalid[dname] = invalid
        self.derived_refs[dname] = refs

    def note_missing(self, col: str, mask: np.ndarray) -> None:
        """Report missing cells of ``col``; for a derived column, under the file's columns
        whose missing cells made it missing."""
        if col not in self.derived:
            self.rep.missing_cells(col, mask)
            return
        left = mask & ~self.derived_invalid[col]  # reported as invalid cells of the source column
        for ref in self.derived_refs[col]:
            m = mask & (
                self.derived_miss[ref] if ref in self.derived else self.as_column(ref).missing
            )
            if m.any():
                self.note_missing(ref, m)
                left &= ~m
        if left.any():
            self.rep.missing_cells(col, left)

    def base_columns(self, col: str) -> set[str]:
        """The file's columns that ``col`` is made of (itself, or a derived column's)."""
        refs = self.derived_refs
        if col not in refs:
            return {col}
        return set().union(*(self.base_columns(r) for r in refs[col])) if refs[col] else set()

    # -------------------------------------------------------------------------- decide

    def decide(self) -> tuple[np.ndarray, list[str]]:
        """The unusable rows ``[n_rows]`` to drop and the warnings; or refuse with every
        problem (invalid cells not allowed, or more unusable rows than allowed)."""
        rep = self.rep
        invalid = rep.invalid.copy()
        missing_rows = rep.missing & ~invalid
        unusable = invalid | missing_rows
        n_unusable = int(unusable.sum()) + len(self.ragged)
        allowed_frac = self.recipe.max_missing
        if invalid.any() and allowed_frac is None:
            raise rep.fail(
                f"{len(rep.lines())} column(s) with problems",
                rep.lines(),
                f"fix the file, mark such cells missing ({term('missing')}), skip rows "
                f"({term('skip_rows_matching')}), or allow dropping the unusable rows with {term('max_missing')} F",
            )
        limit = DEFAULT_MAX_MISSING if allowed_frac is None else allowed_frac
        frac = n_unusable / max(self.n_rows, 1)
        if n_unusable and frac > limit:
            raise rep.fail(
                f"{n_unusable} of {self.n_rows} rows ({frac:.1%}) are unusable, more than the "
                f"{limit:.1%} allowed",
                rep.lines(),
                f"raise {term('max_missing')} to train on the rest",
            )
        return unusable, self._warnings(n_unusable)

    def _warnings(self, n_unusable: int) -> list[str]:
        src = self.src
        warnings: list[str] = []
        if self.skipped:
            by_reason: dict[str, list[int]] = {}
            for num, reason in self.skipped:
                by_reason.setdefault(reason, []).append(num)
            warnings.append(
                f"{src}: skipped "
                + "; ".join(
                    f"{len(v)} row(s) at row(s) {_join_rows(v)} ({k})" for k, v in by_reason.items()
                )
            )
        warnings += [f"{src}: {note}" for note in self.table.notes]
        if self.ragged:
            warnings.append(
                f"{src}: dropped {len(self.ragged)} row(s) of the wrong width: {self.ragged_text}"
            )
        if n_unusable:
            warnings.append(
                f"{src}: dropped {n_unusable} of {self.n_rows} rows with missing or invalid values; "
                + "; ".join(self.rep.lines())
            )
        return warnings

    def check_teachable(self, x: np.ndarray, y: np.ndarray) -> None:
        """Refuse data that cannot teach: too few rows, a constant feature column, a target
        with one class or one value (``x`` ``[n, k]``, ``y`` ``[n]``, the usable rows)."""
        src, recipe, role = self.src, self.recipe, self.role
        if y.shape[0] < 10:
            raise DataError(f"{src}: only {y.shape[0]} usable rows; at least 10 are needed")
        for j, feat in enumerate(self.features):
            if feat in recipe.constants:
                continue
            if np.ptp(x[:, j]) == 0:
                cols = ", ".join(self.sources[feat])
                raise DataError(
                    f"{src}: column(s) {cols} (feature {feat}): every row is {x[0, j]:g}; a constant "
                    f"column cannot teach the model its effect; drop it with {term('set')} {feat}=VALUE "
                    "if the constant is meant (its effect is then fixed at zero)"
                )
        if self.binary:
            n_pos = int(y.sum() / (10.0 if role == "satisfaction" and recipe.positive else 1.0))
            if n_pos == 0 or n_pos == y.shape[0]:
                label = "positive" if n_pos == 0 else "negative"
                hint = (
                    " (yes/true/1)"
                    if not recipe.positive
                    else f" (labels {', '.join(recipe.positive)})"
                )
                raise DataError(
                    f"{src}: column {self.target!r} has no {label} labels{hint if label == 'positive' else ''}; "
                    "need both classes"
                )
        elif np.ptp(y) == 0:
            raise DataError(
                f"{src}: target column {self.target!r}: every usable row is {y[0]:g}; a constant target "
                "cannot be learned"
            )

    def result(
        self, x: np.ndarray, y: np.ndarray, unusable: np.ndarray, warnings: list[str], sha256: str
    ) -> TrainingData:
        recipe, fmt, features = self.recipe, self.fmt, self.features
        filled = recipe.merged(
            sep=fmt.sep if fmt.kind == "csv" else None,
            decimal=fmt.decimal,
            thousands=fmt.thousands,
            encoding=fmt.encoding,
        )
        return TrainingData(
            role=self.role,
            features=features,
            target=self.target,
            x=np.ascontiguousarray(x, dtype=np.float64),
            y=np.ascontiguousarray(y, dtype=np.float64),
            source=self.src,
            sha256=sha256,
            mapping={f: self.sources[f] for f in features if f in self.sources},
            input_scale=recipe.scale,
            missing_values=tuple(recipe.missing),
            rows_read=len(self.table.rows) + len(self.table.ragged),
            dropped_rows=tuple(int(v) for v in self.row_nums[unusable]),
            warnings=tuple(warnings),
            recipe=filled,
            format=fmt.describe(),
            skipped_rows=tuple(self.skipped),
            constant_features=tuple(f for f in features if f in recipe.constants),
            binary_target=self.binary,
            target_note=self.target_note,
            row_numbers=self.row_nums[~unusable],
        )
