"""Preparing a read table for training: skipped rows, derived columns, features, target,
missing and invalid cells, all reported at once (:func:`prepare`; the rules are in
:mod:`stratsim.engine.data`'s docstring)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .data import (
    _FALSE,
    _TRUE,
    BINARY_FEATURES,
    DEFAULT_MAX_MISSING,
    DEFAULT_TARGETS,
    MAX_ROWS_SHOWN,
    MISSING_TOKENS,
    OPTIONAL_FEATURES,
    REQUIRED_FEATURES,
    SCALED_FEATURES,
    TOTAL_ROW,
    VALUE_RANGES,
    TrainingData,
    _check_role,
)
from .errors import DataError
from .recipe import Recipe
from .tableread import RawTable
from .terms import term


class _Report:
    """Problems found while preparing, grouped by column, with spreadsheet rows."""

    def __init__(self, src: str, row_numbers: np.ndarray) -> None:
        self.src = src
        self.rows = row_numbers
        self.structural: list[str] = []
        self.by_column: dict[str, list[str]] = {}
        self.missing = np.zeros(len(row_numbers), dtype=bool)
        self.invalid = np.zeros(len(row_numbers), dtype=bool)
        self.missing_by_column: dict[str, np.ndarray] = {}

    def rows_text(self, mask: np.ndarray) -> str:
        idx = np.flatnonzero(mask)
        shown = ", ".join(str(int(self.rows[i])) for i in idx[:MAX_ROWS_SHOWN])
        extra = len(idx) - MAX_ROWS_SHOWN
        return shown + (f" (+{extra} more)" if extra > 0 else "")

    def add(self, column: str, text: str) -> None:
        self.by_column.setdefault(column, []).append(text)

    def invalid_cells(self, column: str, mask: np.ndarray, what: str, examples=None) -> None:
        if not mask.any():
            return
        self.invalid |= mask
        ex = ""
        if examples is not None:
            vals = list(dict.fromkeys(str(v) for v in np.asarray(examples, dtype=object)[mask]))
            ex = ": " + ", ".join(repr(_cap(v)) for v in vals[:3]) + (" ..." if len(vals) > 3 else "")
        self.add(column, f"{what} at row(s) {self.rows_text(mask)}{ex}")

    def missing_cells(self, column: str, mask: np.ndarray) -> None:
        if mask.any():
            self.missing |= mask
            prev = self.missing_by_column.get(column)
            self.missing_by_column[column] = mask if prev is None else prev | mask

    def lines(self, with_missing: bool = True) -> list[str]:
        out = list(self.structural)
        cols = list(self.by_column)
        if with_missing:
            cols += [c for c in self.missing_by_column if c not in self.by_column]
        for c in cols:
            parts = list(self.by_column.get(c, []))
            m = self.missing_by_column.get(c) if with_missing else None
            if m is not None:
                parts.append(f"{int(m.sum())} missing at row(s) {self.rows_text(m)}")
            out.append(f"column {c!r}: " + "; ".join(parts))
        return out

    def fail(self, lead: str, lines: list[str], hint: str = "") -> DataError:
        text = f"{self.src}: {lead}: " + "; ".join(lines) + (f"; {hint}" if hint else "")
        err = DataError(text)
        err.problems = lines  # type: ignore[attr-defined]
        return err


def prepare(table: RawTable, role: str, recipe: Recipe, sha256: str = "") -> TrainingData:
    """Turn text cells into :class:`TrainingData` by ``recipe`` (module docstring).

    Raises:
        DataError: every problem found, in one message (see :func:`load_training_data`).
    """
    from .expr import Column, evaluate, parse_expression, subject

    _check_role(role)
    src = table.source
    names = table.names
    rows_read = len(table.rows) + len(table.ragged)

    # -- header: duplicates, and names that collide once spaces are stripped
    positions: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        positions.setdefault(name, []).append(j)
    ambiguous = {n: p for n, p in positions.items() if len(p) > 1}

    # -- rows skipped before parsing
    try:
        patterns = [re.compile(p) for p in recipe.skip_rows_matching]
    except re.error as exc:
        raise DataError(f"{term('skip_rows_matching')}: not a regular expression: {exc}") from None
    skipped: list[tuple[int, str]] = []
    keep_rows: list[list[str]] = []
    keep_nums: list[int] = []
    header_cells = [n.lower() for n in names]
    h0 = header_cells[0] if header_cells else ""

    def skip_reason(cells: list[str]) -> str:
        c0 = cells[0].lower() if cells else ""
        if c0 == h0 or not c0:  # cheap test first: a repeated header starts like the header
            non_empty = [(c, h) for c, h in zip(cells, header_cells, strict=False) if c]
            if len(non_empty) >= min(2, len(names)) and all(c.lower() == h for c, h in non_empty):
                return "repeated header"
        if any(c[:1] in "TtSsGgAaMm" and TOTAL_ROW.fullmatch(c) for c in cells[:2]):
            return "total row"
        if patterns and any(p.search(c) for p in patterns for c in cells):
            return f"matches {term('skip_rows_matching')}"
        return ""

    for cells, num in zip(table.rows, table.row_numbers, strict=True):
        reason = skip_reason(cells)
        if reason:
            skipped.append((num, reason))
        else:
            keep_rows.append(cells)
            keep_nums.append(num)
    ragged: list[tuple[int, int]] = []
    for num, cells in table.ragged:
        reason = skip_reason(cells)
        if reason:
            skipped.append((num, reason))
        else:
            ragged.append((num, len(cells)))
    skipped.sort()
    row_nums = np.asarray(keep_nums, dtype=np.int64)
    rep = _Report(src, row_nums)
    ragged_text = "; ".join(
        f"row {num} has {count} cells, the header has {len(names)}"
        for num, count in ragged[:MAX_ROWS_SHOWN]
    ) + (f" (+{len(ragged) - MAX_ROWS_SHOWN} more such rows)" if len(ragged) > MAX_ROWS_SHOWN else "")
    if ragged and recipe.max_missing is None:
        rep.structural.append(ragged_text + f" (skip such rows with {term('skip_rows_matching')})")
    n_rows = len(keep_rows)
    if n_rows == 0 and not rep.structural:
        raise DataError(f"{src}: no data rows left after skipping {len(skipped)} row(s)")

    text_cache: dict[str, np.ndarray] = {}

    def text(col: str) -> np.ndarray:
        if col not in text_cache:
            j = positions[col][0]
            text_cache[col] = np.array([r[j] for r in keep_rows], dtype=object)
        return text_cache[col]

    fmt = table.format

    def missing_mask(col: str, cells: np.ndarray) -> np.ndarray:
        tokens = set(recipe.missing) | set(recipe.column_missing.get(col, ()))
        low = _lower(cells)
        miss = np.isin(low, list(MISSING_TOKENS)) | np.isin(cells, list(tokens) or [""])
        nums = [_num(t) for t in tokens]
        nums = [v for v in nums if v is not None]
        if nums:
            parsed = _to_numbers(cells, fmt.decimal, fmt.thousands)
            miss |= np.isin(parsed, nums)
        return miss

    # -- derived columns, in order
    derived: dict[str, np.ndarray] = {}
    derived_miss: dict[str, np.ndarray] = {}
    derived_refs: dict[str, list[str]] = {}
    namespace_cache: dict[str, Column] = {}

    def as_column(name: str) -> Column:
        if name in derived:
            return Column(derived[name], derived_miss[name], True)
        if name not in namespace_cache:
            cells = text(name)
            miss = missing_mask(name, cells)
            vals = _to_numbers(cells, fmt.decimal, fmt.thousands)
            finite = np.isfinite(vals) & ~miss
            if np.all(finite | miss):
                namespace_cache[name] = Column(np.where(miss, np.nan, vals), miss, True)
            else:  # labels; mostly numbers: the other cells are invalid where used as numbers
                mostly = 2 * int(finite.sum()) >= int((~miss).sum())
                numbers = np.where(finite, vals, np.nan) if mostly else None
                namespace_cache[name] = Column(cells, miss, False, numbers=numbers)
        return namespace_cache[name]

    derived_invalid: dict[str, np.ndarray] = {}
    reported_invalid: set[str] = set()
    for dname, dexpr in recipe.derive.items():
        where = f"{term('derive')} {dname}" if dname in recipe.flag_derives else f"recipe derive {dname}"
        if dname in positions:
            raise DataError(
                f"{src}: {subject(where, dexpr)}: the file already has a column {dname!r}; "
                f"choose another name (or {term('map')} the feature to it)"
            )
        expr = parse_expression(dexpr, where)
        refs = [n for n in expr.names() if n in positions or n in derived]
        unknown = [n for n in expr.names() if n not in positions and n not in derived]
        if unknown:
            raise DataError(
                f"{src}: {subject(where, dexpr)}: no column {unknown[0]!r} (use `backticks` for "
                f"names with spaces); columns: {_short_list(names)}"
            )
        for n in refs:
            if n in ambiguous:
                raise DataError(f"{src}: {subject(where, dexpr)}: {_ambiguous_text(n, ambiguous, table)}")
        try:
            col = evaluate(expr, {n: as_column(n) for n in refs}, where=where, n=n_rows)
        except DataError as exc:
            raise DataError(f"{src}: {exc}") from None
        invalid = np.zeros(n_rows, dtype=bool)
        for ref in col.coerced:  # cells that are not numbers in a column used as numbers
            ref_col = as_column(ref)
            ref_bad = ~ref_col.missing & ~np.isfinite(ref_col.numbers)  # type: ignore[arg-type]
            invalid |= ref_bad
            if ref not in reported_invalid:
                reported_invalid.add(ref)
                rep.invalid_cells(ref, ref_bad, f"non-numeric value(s) (used as numbers by {where})", ref_col.values)
        bad = ~col.missing & ~np.isfinite(col.values)
        if bad.any():
            rep.invalid_cells(dname, bad, "derived value is not finite (log of 0? division by 0?)")
        derived[dname] = np.where(bad, np.nan, col.values)
        derived_miss[dname] = col.missing
        derived_invalid[dname] = invalid
        derived_refs[dname] = refs

    def note_missing(col: str, mask: np.ndarray) -> None:
        """Report missing cells of ``col``; for a derived column, under the file's columns
        whose missing cells made it missing."""
        if col not in derived:
            rep.missing_cells(col, mask)
            return
        left = mask & ~derived_invalid[col]  # reported as invalid cells of the source column
        for ref in derived_refs[col]:
            m = mask & (derived_miss[ref] if ref in derived else as_column(ref).missing)
            if m.any():
                note_missing(ref, m)
                left &= ~m
        if left.any():
            rep.missing_cells(col, left)

    def exists(col: str) -> bool:
        return col in positions or col in derived

    # -- which columns make each feature
    allowed = REQUIRED_FEATURES[role] + OPTIONAL_FEATURES[role]
    for feat in list(recipe.mapping) + list(recipe.constants):
        if feat not in allowed:
            raise DataError(
                f"{src}: unknown feature {feat!r} for the {role} model; "
                f"expected one of {', '.join(allowed)}"
            )
    both = set(recipe.mapping) & set(recipe.constants)
    if both:
        raise DataError(f"{src}: feature {sorted(both)[0]!r} is both mapped ({term('map')}) and set ({term('set')})")
    optional = [
        f for f in OPTIONAL_FEATURES[role] if f in recipe.mapping or f in recipe.constants
    ]
    features = REQUIRED_FEATURES[role] + tuple(optional)
    target = recipe.target or DEFAULT_TARGETS[role]
    sources: dict[str, tuple[str, ...]] = {}
    no_column = False
    for feat in features:
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
                if not exists(col):
                    rep.structural.append(
                        f"no column {col!r} for feature {feat} (mapped with {term('map')} "
                        f"{feat}={','.join(cols)})"
                    )
                    no_column = True
            sources[feat] = cols
        elif exists(feat):
            sources[feat] = (feat,)
        else:
            example = "log10(`COUNT COLUMN`)" if feat == "records_log10" else "EXPR"
            rep.structural.append(
                f"no column {feat!r} for feature {feat}; supply it with {term('map')} {feat}=COLUMN[,COLUMN...], "
                f"{term('derive')} {feat}={example} or {term('set')} {feat}=VALUE"
            )
            no_column = True
    if not exists(target):
        rep.structural.append(f"no target column {target!r} (choose one with {term('target')} COLUMN)")
        no_column = True
    if no_column:
        hint = ""
        if len(names) == 1 and table.format.kind == "csv":
            seps = [c for c in (";", ",", "\t", "|") if c in names[0] and c != table.format.sep]
            if seps:
                hint = (
                    f" (one column: its name holds {seps[0]!r}; is the separator "
                    f"{seps[0]!r}? read with {term('sep')} {'tab' if seps[0] == chr(9) else seps[0]})"
                )
        rep.structural.append(f"columns in the file: {_short_list(names)}{hint}")
    used = {c for cols in sources.values() for c in cols} | {target}
    for col in sorted(used):
        if col in ambiguous:
            rep.structural.append(_ambiguous_text(col, ambiguous, table))
    def base_columns(col: str) -> set[str]:
        """The file's columns that ``col`` is made of (itself, or a derived column's)."""
        if col not in derived_refs:
            return {col}
        return set().union(*(base_columns(r) for r in derived_refs[col])) if derived_refs[col] else set()

    target_base = base_columns(target) if exists(target) else set()
    for feat, cols in sources.items():
        if target in cols:
            rep.structural.append(
                f"column {target!r} is both the target and feature {feat}'s column; "
                "a model would only learn to copy it: map the feature to another column"
            )
            continue
        shared = sorted(target_base & set().union(*(base_columns(c) for c in cols if exists(c))))
        if shared:
            rep.structural.append(
                f"feature {feat} ({', '.join(cols)}) and the target {target!r} are both made "
                f"from column {shared[0]!r}; a model would only learn to copy it"
            )
    if rep.structural:
        raise rep.fail(f"{len(rep.structural)} problem(s)", rep.structural)

    # -- features
    def numbers(col: str) -> tuple[np.ndarray, np.ndarray]:
        """Values ``[n]`` (NaN where missing or invalid) and the missing mask ``[n]``."""
        if col in derived:
            return derived[col].copy(), derived_miss[col].copy()
        cells = text(col)
        miss = missing_mask(col, cells)
        vals = _to_numbers(cells, fmt.decimal, fmt.thousands)
        bad = ~miss & ~np.isfinite(vals)
        what = "non-numeric value(s)" + (
            f" (reading decimal {fmt.decimal!r}, thousands {fmt.thousands!r}; "
            f"see {term('decimal')}/{term('thousands')})"
            if any(("," in c or "." in c) for c in cells[bad][:20])
            else ""
        )
        if col not in reported_invalid:  # else already reported by a derived column
            rep.invalid_cells(col, bad, what, cells)
        vals[miss | bad] = np.nan
        return vals, miss

    def labels(col: str, positive: tuple[str, ...], what: str) -> tuple[np.ndarray, np.ndarray]:
        """0/1 values ``[n]`` (NaN where missing/invalid) and the missing mask ``[n]``."""
        if col in derived:
            vals = derived[col].copy()
            miss = derived_miss[col].copy()
            cells = np.array(["" if m else f"{v:g}" for v, m in zip(vals, miss, strict=True)], dtype=object)
        else:
            cells = text(col)
            miss = missing_mask(col, cells)
        low = _lower(cells)
        if positive:
            pos = np.isin(cells, list(positive)) & ~miss
            found = set(cells[~miss].tolist())
            absent = [p for p in positive if p not in found]
            if absent:
                shown = ", ".join(repr(lbl) for lbl, _ in _label_counts(cells[~miss])[:8])
                raise DataError(
                    f"{src}: column {col!r}: positive label(s) {', '.join(map(repr, absent))} "
                    f"not found; labels: {shown}"
                )
            out = np.where(pos, 1.0, 0.0)
        else:
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
                rep.invalid_cells(
                    col, bad, "expected a binary label (yes/no, true/false, 1/0)" + hint, cells
                )
            out = np.where(is_true, 1.0, 0.0)
            out[bad] = np.nan
        out[miss] = np.nan
        return out, miss

    def declared_scale(col: str, feat: str | None) -> tuple[float, float] | None:
        if col in recipe.column_scale:
            return recipe.column_scale[col]
        if recipe.scale is not None and (
            (feat is not None and feat in SCALED_FEATURES[role])
            or (feat is None and role == "satisfaction" and not recipe.positive)
        ):
            return recipe.scale
        return None

    def rescaled(col: str, feat: str | None, vals: np.ndarray) -> np.ndarray:
        sc = declared_scale(col, feat)
        if sc is None:
            return vals
        lo, hi = sc
        tol = 1e-9 * (hi - lo)
        bad = np.isfinite(vals) & ((vals < lo - tol) | (vals > hi + tol))
        rep.invalid_cells(
            col, bad, f"value(s) outside the declared scale {lo:g}:{hi:g}", _fmt_vals(vals)
        )
        vals = np.where(bad, np.nan, vals)
        return (vals - lo) / (hi - lo) * 10.0

    min_items = recipe.min_items
    x_cols: list[np.ndarray] = []
    for feat in features:
        if feat in recipe.constants:
            x_cols.append(np.full(n_rows, recipe.constants[feat]))
            continue
        cols = sources[feat]
        parts, present = [], []
        for col in cols:
            if feat in BINARY_FEATURES:
                vals, miss = labels(col, (), "feature")
            else:
                vals, miss = numbers(col)
                vals = rescaled(col, feat, vals)
            parts.append(vals)
            present.append(~miss)
        stack = np.stack(parts, axis=1)
        n_present = np.stack(present, axis=1).sum(axis=1)
        need = len(cols) if min_items is None else min(min_items, len(cols))
        too_few = n_present < need
        for col, pres in zip(cols, present, strict=True):
            note_missing(col, too_few & ~pres)
        finite = np.isfinite(stack)
        with np.errstate(all="ignore"):
            value = np.where(finite, stack, 0.0).sum(axis=1) / finite.sum(axis=1)
        value = np.where(too_few | (finite.sum(axis=1) == 0), np.nan, value)
        x_cols.append(value)

    # -- target
    target_note = ""
    binary = role == "privacy" or bool(recipe.positive)
    if binary:
        y, y_miss = labels(target, recipe.positive, "target")
        if recipe.positive:
            label_set = "{" + ", ".join(repr(p) for p in recipe.positive) + "}"
            target_note = (
                f"10 x P({target} in {label_set})" if role == "satisfaction"
                else f"{target} in {label_set}"
            )
            if role == "satisfaction":
                y = y * 10.0
    else:
        cells = text(target) if target not in derived else None
        if cells is not None and not np.isfinite(_to_numbers(cells, fmt.decimal, fmt.thousands)).any():
            found = _label_counts(cells[~missing_mask(target, cells)])[:6]
            rep.add(
                target,
                "holds labels, not numbers ("
                + ", ".join(repr(lbl) for lbl, _ in found)
                + f"); model P(label) x 10 with {term('positive')} LABEL",
            )
            y, y_miss = np.full(n_rows, np.nan), np.zeros(n_rows, dtype=bool)
            rep.invalid |= True
        else:
            y, y_miss = numbers(target)
            y = rescaled(target, None, y)
    note_missing(target, y_miss)

    # -- ranges (model units)
    for j, feat in enumerate(features):
        if feat in recipe.constants:
            lo, hi = VALUE_RANGES[feat]
            v = recipe.constants[feat]
            if not lo <= v <= hi:
                raise DataError(f"{src}: {term('set')} {feat}={v:g}: outside {lo:g}..{hi:g} (range of the feature)")
            continue
        lo, hi = VALUE_RANGES[feat]
        v = x_cols[j]
        tol = 1e-9 * max(1.0, hi - lo)
        bad = np.isfinite(v) & ((v < lo - tol) | (v > hi + tol))
        if bad.any():
            hint = "range of the feature"
            if feat in SCALED_FEATURES[role] and declared_scale(sources[feat][0], feat) is None:
                hint += f"; declare the file's scale with {term('scale')} MIN:MAX"
            if feat == "records_log10" and np.nanmax(v) > hi:
                hint += f"; raw counts? derive the log: {term('derive')} records_log10=log10({sources[feat][0]})"
            column = ", ".join(sources[feat]) + (" (mean)" if len(sources[feat]) > 1 else "")
            rep.invalid_cells(
                column, bad, f"value(s) outside {lo:g}..{hi:g} (feature {feat}; {hint})", _fmt_vals(v)
            )
            x_cols[j] = np.where(bad, np.nan, v)
    if role == "satisfaction" and not binary:
        bad = np.isfinite(y) & ((y < -1e-9) | (y > 10 + 1e-9))
        hint = "satisfaction range" + (f"; declare {term('scale')} MIN:MAX" if declared_scale(target, None) is None else "")
        rep.invalid_cells(target, bad, f"value(s) outside 0..10 ({hint})", _fmt_vals(y))
        y = np.where(bad, np.nan, y)

    # -- decide: drop unusable rows, or refuse with every problem
    invalid = rep.invalid.copy()
    missing_rows = rep.missing & ~invalid
    unusable = invalid | missing_rows
    n_unusable = int(unusable.sum()) + len(ragged)
    allowed_frac = recipe.max_missing
    if invalid.any() and allowed_frac is None:
        raise rep.fail(
            f"{len(rep.lines())} column(s) with problems",
            rep.lines(),
            f"fix the file, mark such cells missing ({term('missing')}), skip rows "
            f"({term('skip_rows_matching')}), or allow dropping the unusable rows with {term('max_missing')} F",
        )
    limit = DEFAULT_MAX_MISSING if allowed_frac is None else allowed_frac
    frac = n_unusable / max(n_rows, 1)
    if n_unusable and frac > limit:
        raise rep.fail(
            f"{n_unusable} of {n_rows} rows ({frac:.1%}) are unusable, more than the "
            f"{limit:.1%} allowed",
            rep.lines(),
            f"raise {term('max_missing')} to train on the rest",
        )
    warnings: list[str] = []
    if skipped:
        by_reason: dict[str, list[int]] = {}
        for num, reason in skipped:
            by_reason.setdefault(reason, []).append(num)
        warnings.append(
            f"{src}: skipped "
            + "; ".join(
                f"{len(v)} row(s) at row(s) {_join_rows(v)} ({k})" for k, v in by_reason.items()
            )
        )
    warnings += [f"{src}: {note}" for note in table.notes]
    if ragged:
        warnings.append(f"{src}: dropped {len(ragged)} row(s) of the wrong width: {ragged_text}")
    if n_unusable:
        warnings.append(
            f"{src}: dropped {n_unusable} of {n_rows} rows with missing or invalid values; "
            + "; ".join(rep.lines())
        )
    keep = ~unusable
    x = np.stack(x_cols, axis=1)[keep]
    y = y[keep]
    kept_nums = row_nums[keep]

    # -- data that cannot teach
    if y.shape[0] < 10:
        raise DataError(f"{src}: only {y.shape[0]} usable rows; at least 10 are needed")
    for j, feat in enumerate(features):
        if feat in recipe.constants:
            continue
        if np.ptp(x[:, j]) == 0:
            cols = ", ".join(sources[feat])
            raise DataError(
                f"{src}: column(s) {cols} (feature {feat}): every row is {x[0, j]:g}; a constant "
                f"column cannot teach the model its effect; drop it with {term('set')} {feat}=VALUE "
                "if the constant is meant (its effect is then fixed at zero)"
            )
    if binary:
        n_pos = int(y.sum() / (10.0 if role == "satisfaction" and recipe.positive else 1.0))
        if n_pos == 0 or n_pos == y.shape[0]:
            label = "positive" if n_pos == 0 else "negative"
            hint = " (yes/true/1)" if not recipe.positive else f" (labels {', '.join(recipe.positive)})"
            raise DataError(
                f"{src}: column {target!r} has no {label} labels{hint if label == 'positive' else ''}; "
                "need both classes"
            )
    elif np.ptp(y) == 0:
        raise DataError(
            f"{src}: target column {target!r}: every usable row is {y[0]:g}; a constant target "
            "cannot be learned"
        )
    filled = recipe.merged(
        sep=fmt.sep if fmt.kind == "csv" else None,
        decimal=fmt.decimal,
        thousands=fmt.thousands,
        encoding=fmt.encoding,
    )
    scale_of_features = recipe.scale
    return TrainingData(
        role=role,
        features=features,
        target=target,
        x=np.ascontiguousarray(x, dtype=np.float64),
        y=np.ascontiguousarray(y, dtype=np.float64),
        source=src,
        sha256=sha256,
        mapping={f: sources[f] for f in features if f in sources},
        input_scale=scale_of_features,
        missing_values=tuple(recipe.missing),
        rows_read=rows_read,
        dropped_rows=tuple(int(v) for v in row_nums[unusable]),
        warnings=tuple(warnings),
        recipe=filled,
        format=fmt.describe(),
        skipped_rows=tuple(skipped),
        constant_features=tuple(f for f in features if f in recipe.constants),
        binary_target=binary,
        target_note=target_note,
        row_numbers=kept_nums,
    )


# --------------------------------------------------------------------------- helpers


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _short_list(items: Sequence[str], limit: int = 40) -> str:
    """``a, b, ... (N more)``; control characters in names shown escaped (one line)."""
    shown = ", ".join(_CONTROL.sub(lambda m: repr(m.group())[1:-1], _cap(str(i))) for i in items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def _join_rows(nums: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in nums[:MAX_ROWS_SHOWN])
    extra = len(nums) - MAX_ROWS_SHOWN
    return shown + (f" (+{extra} more)" if extra > 0 else "")


def _ambiguous_text(name: str, ambiguous: dict[str, list[int]], table: RawTable) -> str:
    pos = ambiguous[name]
    raws = [table.raw_names[j] for j in pos]
    cols = " and ".join(str(j + 1) for j in pos)
    if len(set(raws)) == 1:
        return f"columns {cols} are both named {name!r}; rename one in the file"
    return (
        f"columns {cols} are named {', '.join(repr(r) for r in raws)}, the same name "
        f"{name!r} once spaces are stripped; rename one in the file"
    )


def _lower(cells: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.Series(cells, dtype=object).str.lower().to_numpy(dtype=object)


def _label_counts(cells: np.ndarray) -> list[tuple[str, int]]:
    """Labels and their counts, most common first; each label cut to :data:`MAX_CELL_SHOWN`
    characters (for messages)."""
    from collections import Counter

    return [(_cap(lbl), k) for lbl, k in Counter(str(c) for c in cells).most_common()]


#: Longest cell or name quoted in a message (characters); longer ones are cut with "...".
MAX_CELL_SHOWN = 60


def _cap(text: str) -> str:
    return text if len(text) <= MAX_CELL_SHOWN else text[: MAX_CELL_SHOWN - 3] + "..."


def _fmt_vals(vals: np.ndarray) -> np.ndarray:
    return np.array([f"{v:g}" for v in vals], dtype=object)


def _num(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def _to_numbers(cells: np.ndarray, decimal: str, thousands: str) -> np.ndarray:
    """Parse text cells ``[n]`` as numbers in the given format: float64 ``[n]``, NaN
    where a cell is not a number in that format (digit groups must be of three)."""
    import pandas as pd

    s = pd.Series(cells, dtype="string")
    if thousands:
        t, d = re.escape(thousands), re.escape(decimal)
        grouped = s.str.fullmatch(rf"[+-]?\d{{1,3}}({t}\d{{3}})+({d}\d*)?").fillna(False)
        s = s.where(~grouped, s.str.replace(thousands, "", regex=False))
    if decimal == ",":
        s = s.where(~s.str.contains(".", regex=False).fillna(False), "x")
        s = s.str.replace(",", ".", regex=False)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
