"""Training-data import: CSV/Parquet files, column mapping, validation.

A user's file rarely has the model's feature names, scale or labels. This module reads
a table with pandas, maps the user's columns to the model's features (a feature may be
the mean of several columns: a survey construct measured by several items), rescales a
declared input scale to the model's 0..10 scale, treats sentinel values as missing and
parses binary labels. Every problem is raised as :class:`~stratsim.engine.errors.DataError`
whose message names the file, the column and the first few row numbers.

Row numbers are **1-based data rows**: row 1 is the first row after the header (for a
CSV with one header line, row ``k`` is on line ``k + 1`` unless a quoted cell spans
lines).

Rules (documented for the CLI as well):

* CSV is read as UTF-8 with an optional byte-order mark (``utf-8-sig``); CRLF and LF
  line endings are both accepted. ``.parquet``/``.pq`` files are read with pyarrow.
* Missing cells: empty or whitespace-only cells, ``NA``, ``N/A``, ``NaN``, ``null``,
  ``None`` (case-insensitive), and any user sentinel given in ``missing`` (e.g. ``0`` or
  ``-99``; compared as text and, when numeric, as a number). Rows with a missing value
  in any used column are dropped with a warning when they are at most
  ``max_missing_fraction`` of the rows (default 5%); above that the import fails.
* Non-numeric (or infinite) cells in a used column fail the import.
* Binary labels (the privacy target, ``third_party_access``): ``yes``/``no``,
  ``true``/``false``, ``1``/``0`` (case-insensitive; ``1.0``/``0.0`` too).
* ``scale=(lo, hi)`` maps ``lo..hi`` linearly to ``0..10``. For the satisfaction role it
  applies to the three features and the target (all survey ratings); for the privacy
  role to ``security_posture`` only. Values outside the declared scale fail the import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError
from .fileio import file_sha256
from .models import INCIDENT_FEATURES

#: Roles a model can play in the simulation.
ROLES = ("satisfaction", "privacy")

#: Features every model of a role needs (the ones the data must supply).
REQUIRED_FEATURES: dict[str, tuple[str, ...]] = {
    "satisfaction": ("functionality", "ux", "service_response"),
    "privacy": INCIDENT_FEATURES,
}
#: Features a role may use when the user maps them explicitly (``--map segment=COL``).
OPTIONAL_FEATURES: dict[str, tuple[str, ...]] = {"satisfaction": ("segment",), "privacy": ()}
#: Target column looked up when none is given.
DEFAULT_TARGETS: dict[str, str] = {"satisfaction": "satisfaction", "privacy": "incident"}
#: Features on the 0..10 scale that ``scale`` rescales, per role.
SCALED_FEATURES: dict[str, tuple[str, ...]] = {
    "satisfaction": ("functionality", "ux", "service_response"),
    "privacy": ("security_posture",),
}
#: Features that are binary labels (parsed like the privacy target).
BINARY_FEATURES = ("third_party_access", "segment")

#: Valid range of each feature (and target) after rescaling, inclusive.
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "functionality": (0.0, 10.0),
    "ux": (0.0, 10.0),
    "service_response": (0.0, 10.0),
    "segment": (0.0, 1.0),
    "records_log10": (0.0, 20.0),
    "security_posture": (0.0, 10.0),
    "enterprise_share": (0.0, 1.0),
    "third_party_access": (0.0, 1.0),
}

#: Cell texts always read as missing (compared after strip, case-insensitive).
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})
_TRUE = frozenset({"yes", "true", "1", "1.0"})
_FALSE = frozenset({"no", "false", "0", "0.0"})

#: Row numbers quoted in an error message before "(+N more)".
MAX_ROWS_SHOWN = 5

SAMPLE_DATA_DIR = Path(__file__).resolve().parents[1] / "sample_data"
SAMPLE_FILES = {
    "satisfaction": SAMPLE_DATA_DIR / "satisfaction_survey.csv",
    "privacy": SAMPLE_DATA_DIR / "incidents.csv",
}


def sample_data_path(role: str) -> Path:
    """Path of the shipped sample file for ``role`` (see ``sample_data/README.md``)."""
    _check_role(role)
    return SAMPLE_FILES[role]


@dataclass(frozen=True)
class TrainingData:
    """Validated training data in model units.

    Attributes:
        role: ``"satisfaction"`` or ``"privacy"``.
        features: feature names, in column order of ``x``.
        target: target name (the user's column name).
        x: ``[n, k]`` float64 features (0..10 ratings, records_log10, shares 0..1, 0/1).
        y: ``[n]`` float64 target (satisfaction 0..10, or 0/1 labels).
        source: the file path as given (``"<memory>"`` for :func:`from_arrays`).
        sha256: hex sha256 of the file's bytes.
        mapping: feature -> source column(s) (a feature is the mean of its columns).
        input_scale: the declared ``(lo, hi)`` scale, or None for 0..10 as is.
        missing_values: the user's sentinel values.
        rows_read: data rows in the file.
        dropped_rows: 1-based data rows dropped for missing values.
        warnings: human-readable warnings (e.g. rows dropped).
    """

    role: str
    features: tuple[str, ...]
    target: str
    x: np.ndarray
    y: np.ndarray
    source: str = "<memory>"
    sha256: str = ""
    mapping: dict[str, tuple[str, ...]] = field(default_factory=dict)
    input_scale: tuple[float, float] | None = None
    missing_values: tuple[str, ...] = ()
    rows_read: int = 0
    dropped_rows: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        """Number of usable rows."""
        return int(self.y.shape[0])

    def subset(self, rows: np.ndarray | slice) -> TrainingData:
        """A copy restricted to ``rows`` (indices into ``x``/``y``), same provenance."""
        from dataclasses import replace

        return replace(self, x=self.x[rows], y=self.y[rows])


def from_arrays(
    role: str,
    x: np.ndarray,
    y: np.ndarray,
    features: Sequence[str] | None = None,
    target: str | None = None,
) -> TrainingData:
    """Wrap in-memory arrays (``x`` ``[n, k]``, ``y`` ``[n]``) as :class:`TrainingData`.

    Used by tests and benchmarks. Raises DataError on shape mismatch.
    """
    _check_role(role)
    feats = tuple(features) if features is not None else REQUIRED_FEATURES[role]
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(feats) or y.shape != (x.shape[0],):
        raise DataError(
            f"<memory>: expected x [n, {len(feats)}] and y [n], got {x.shape} and {y.shape}"
        )
    return TrainingData(
        role=role,
        features=feats,
        target=target or DEFAULT_TARGETS[role],
        x=x,
        y=y,
        mapping={f: (f,) for f in feats},
        rows_read=int(x.shape[0]),
    )


def parse_mapping(items: Sequence[str] | None, role: str) -> dict[str, tuple[str, ...]]:
    """Parse ``["functionality=PERQ2,PERQ4", "ux=PERQ7"]`` into feature -> columns.

    Raises:
        DataError: malformed item, unknown feature for the role, empty column list, or a
            feature mapped twice.
    """
    _check_role(role)
    allowed = REQUIRED_FEATURES[role] + OPTIONAL_FEATURES[role]
    out: dict[str, tuple[str, ...]] = {}
    for item in items or ():
        feature, sep, cols = item.partition("=")
        feature = feature.strip()
        columns = tuple(c.strip() for c in cols.split(",") if c.strip())
        if not sep or not feature or not columns:
            raise DataError(f"--map {item!r}: expected FEATURE=COLUMN[,COLUMN...]")
        if feature not in allowed:
            raise DataError(
                f"--map {item!r}: unknown feature {feature!r} for the {role} model; "
                f"expected one of {', '.join(allowed)}"
            )
        if feature in out:
            raise DataError(f"--map: feature {feature!r} is mapped twice")
        out[feature] = columns
    return out


def parse_scale(text: str | None) -> tuple[float, float] | None:
    """Parse ``"1:10"`` into ``(1.0, 10.0)``; None stays None.

    Raises:
        DataError: not two numbers separated by ``:``, or min >= max.
    """
    if text is None:
        return None
    lo_s, sep, hi_s = str(text).partition(":")
    try:
        if not sep:
            raise ValueError
        lo, hi = float(lo_s), float(hi_s)
    except ValueError:
        raise DataError(f"--scale {text!r}: expected MIN:MAX, e.g. 1:10") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise DataError(f"--scale {text!r}: MIN must be less than MAX (both finite)")
    return (lo, hi)


def read_table(path: str | Path):
    """Read a CSV (as text cells) or Parquet file into a pandas DataFrame.

    CSV cells stay strings (``dtype=str``, no automatic NA parsing) so that this module
    decides what is missing or non-numeric and can name the rows.

    Raises:
        DataError: file missing / unreadable, empty, not UTF-8, malformed CSV, no data rows.
    """
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found")
    if not p.is_file():
        raise DataError(f"{p}: not a file")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            df = pd.read_csv(
                p, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True
            )
    except pd.errors.EmptyDataError:
        raise DataError(f"{p}: file is empty (no header, no rows)") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{p}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8 CSV"
        ) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{p}: malformed CSV: {exc}".strip()) from None
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(f"{p}: cannot read: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        raise DataError(f"{p}: no data rows (header only)")
    return df


def load_training_data(
    path: str | Path,
    role: str,
    *,
    mapping: Mapping[str, Sequence[str]] | None = None,
    target: str | None = None,
    scale: tuple[float, float] | None = None,
    missing: Sequence[str] = (),
    max_missing_fraction: float = 0.05,
) -> TrainingData:
    """Read, map and validate a training file for ``role``.

    Args:
        path: CSV or Parquet file.
        role: ``"satisfaction"`` or ``"privacy"``.
        mapping: feature -> column(s); features not given map to the column of the same
            name. Optional features (``segment``) are used only when mapped.
        target: target column (default ``satisfaction`` / ``incident``).
        scale: declared input scale ``(lo, hi)`` rescaled to 0..10 (see module docs).
        missing: sentinel cell values treated as missing (e.g. ``["0", "-99"]``).
        max_missing_fraction: largest fraction of rows with missing values that is
            dropped with a warning instead of failing (0..1).

    Returns:
        :class:`TrainingData` with ``x`` ``[n, k]`` and ``y`` ``[n]`` in model units.

    Raises:
        DataError: naming file, column and rows, for every problem listed in the module
            docstring.
    """
    _check_role(role)
    if not 0.0 <= max_missing_fraction <= 1.0:
        raise DataError(f"max missing fraction {max_missing_fraction} is not within 0..1")
    df = read_table(path)
    src = str(path)
    columns = list(df.columns)
    user_map = {k: tuple(v) for k, v in (mapping or {}).items()}
    allowed = REQUIRED_FEATURES[role] + OPTIONAL_FEATURES[role]
    for feat in user_map:
        if feat not in allowed:
            raise DataError(
                f"{src}: unknown feature {feat!r} for the {role} model; "
                f"expected one of {', '.join(allowed)}"
            )
    features = REQUIRED_FEATURES[role] + tuple(f for f in OPTIONAL_FEATURES[role] if f in user_map)
    full_map = {f: user_map.get(f, (f,)) for f in features}
    target = target or DEFAULT_TARGETS[role]

    for feat, cols in full_map.items():
        for col in cols:
            if col not in columns:
                how = (
                    f"mapped with --map {feat}={','.join(cols)}"
                    if feat in user_map
                    else f"map one with --map {feat}=COLUMN"
                )
                raise DataError(
                    f"{src}: no column {col!r} for feature {feat} ({how}); "
                    f"columns: {_short_list(columns)}"
                )
    if target not in columns:
        raise DataError(
            f"{src}: no target column {target!r} (choose one with --target COLUMN); "
            f"columns: {_short_list(columns)}"
        )

    tokens = tuple(str(m).strip() for m in missing)
    n_rows = len(df)
    missing_mask = np.zeros(n_rows, dtype=bool)
    missing_by_col: dict[str, np.ndarray] = {}
    x_cols: list[np.ndarray] = []
    for feat in features:
        parts = []
        for col in full_map[feat]:
            if feat in BINARY_FEATURES:
                vals, miss = _parse_binary(df[col], src, col, tokens)
            else:
                vals, miss = _parse_numeric(df[col], src, col, tokens)
            if miss.any():
                missing_by_col[col] = miss
            missing_mask |= miss
            if scale is not None and feat in SCALED_FEATURES[role]:
                _check_scale(vals, miss, scale, src, col)
            parts.append(vals)
        x_cols.append(np.mean(np.stack(parts, axis=1), axis=1))
    if role == "privacy":
        y, y_miss = _parse_binary(df[target], src, target, tokens)
    else:
        y, y_miss = _parse_numeric(df[target], src, target, tokens)
    if y_miss.any():
        missing_by_col[target] = y_miss
    if scale is not None and role == "satisfaction":
        _check_scale(y, y_miss, scale, src, target)
    missing_mask |= y_miss

    n_missing = int(missing_mask.sum())
    warnings: list[str] = []
    dropped: tuple[int, ...] = ()
    if n_missing:
        detail = "; ".join(
            f"column {c!r}: {int(m.sum())} at row(s) {_rows(np.flatnonzero(m))}"
            for c, m in missing_by_col.items()
        )
        frac = n_missing / n_rows
        if frac > max_missing_fraction:
            raise DataError(
                f"{src}: {n_missing} of {n_rows} rows ({frac:.1%}) have missing values, "
                f"more than the {max_missing_fraction:.1%} allowed; {detail}"
            )
        dropped = tuple(int(i) + 1 for i in np.flatnonzero(missing_mask))
        warnings.append(
            f"{src}: dropped {n_missing} of {n_rows} rows with missing values; {detail}"
        )
    keep = ~missing_mask
    x = np.stack(x_cols, axis=1)[keep]
    y = y[keep]
    kept_rows = np.flatnonzero(keep)  # 0-based original rows of the kept data

    if scale is not None:
        lo, hi = scale
        scaled = SCALED_FEATURES[role]
        for j, feat in enumerate(features):
            if feat in scaled:
                x[:, j] = (x[:, j] - lo) / (hi - lo) * 10.0
        if role == "satisfaction":
            y = (y - lo) / (hi - lo) * 10.0
    for j, feat in enumerate(features):
        lo, hi = VALUE_RANGES[feat]
        hint = "range of the feature" + (
            "; declare the file's scale with --scale MIN:MAX"
            if feat in SCALED_FEATURES[role] and scale is None
            else ""
        )
        _check_range(x[:, j], lo, hi, src, full_map[feat], kept_rows, hint, feature=feat)
    if role == "satisfaction":
        hint = "satisfaction range" + ("; declare --scale MIN:MAX" if scale is None else "")
        _check_range(y, 0.0, 10.0, src, (target,), kept_rows, hint)

    if y.shape[0] < 10:
        raise DataError(f"{src}: only {y.shape[0]} usable rows; at least 10 are needed")
    if role == "privacy":
        n_pos = int(y.sum())
        if n_pos == 0 or n_pos == y.shape[0]:
            label = "positive (yes/true/1)" if n_pos == 0 else "negative (no/false/0)"
            raise DataError(f"{src}: column {target!r} has no {label} labels; need both classes")
    return TrainingData(
        role=role,
        features=features,
        target=target,
        x=np.ascontiguousarray(x, dtype=np.float64),
        y=np.ascontiguousarray(y, dtype=np.float64),
        source=src,
        sha256=file_sha256(path),
        mapping=full_map,
        input_scale=scale,
        missing_values=tokens,
        rows_read=n_rows,
        dropped_rows=dropped,
        warnings=tuple(warnings),
    )


# --------------------------------------------------------------------------- helpers


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise DataError(f"unknown model role {role!r}; expected one of {', '.join(ROLES)}")


def _short_list(items: Sequence[str], limit: int = 40) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def _rows(zero_based: np.ndarray) -> str:
    """'3, 7, 9 (+12 more)' from 0-based indices (printed 1-based)."""
    idx = [int(i) + 1 for i in zero_based[:MAX_ROWS_SHOWN]]
    extra = len(zero_based) - len(idx)
    return ", ".join(map(str, idx)) + (f" (+{extra} more)" if extra > 0 else "")


def _missing_text(s, tokens: tuple[str, ...]):
    """Mask ``[n]`` of cells that are missing (built-in tokens or user sentinels)."""
    import pandas as pd

    low = s.str.lower()
    miss = low.isin(MISSING_TOKENS) | s.isin(tokens)
    num_tokens = []
    for t in tokens:
        with contextlib.suppress(ValueError):
            num_tokens.append(float(t))
    if num_tokens:
        parsed = pd.to_numeric(s.where(~miss), errors="coerce")
        miss |= parsed.isin(num_tokens)
    return miss


def _as_text(series):
    return series.astype("string").fillna("").str.strip()


def _parse_numeric(series, src: str, col: str, tokens: tuple[str, ...]):
    """Parse a column to float64 ``[n]`` (NaN where missing) and a missing mask ``[n]``."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype("float64")
    if pd.api.types.is_numeric_dtype(series.dtype):
        vals = series.to_numpy(dtype=np.float64, na_value=np.nan)
        miss = np.isnan(vals)
        for t in tokens:
            with contextlib.suppress(ValueError):
                miss |= vals == float(t)
        bad = ~miss & ~np.isfinite(vals)
        if bad.any():
            raise DataError(
                f"{src}: column {col!r}: non-finite value(s) at row(s) {_rows(np.flatnonzero(bad))}"
            )
        vals = np.where(miss, np.nan, vals)
        return vals, miss
    text = _as_text(series)
    miss = _missing_text(text, tokens).to_numpy(dtype=bool)
    parsed = pd.to_numeric(text.where(~miss, None), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    bad = ~miss & ~np.isfinite(parsed)
    if bad.any():
        where = np.flatnonzero(bad)
        examples = ", ".join(repr(str(text.iloc[i])) for i in where[:3])
        raise DataError(
            f"{src}: column {col!r}: non-numeric value(s) at row(s) {_rows(where)}: {examples}"
        )
    return np.where(miss, np.nan, parsed), miss


def _parse_binary(series, src: str, col: str, tokens: tuple[str, ...]):
    """Parse a binary label column to 0.0/1.0 ``[n]`` (NaN where missing) and a mask."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype("Int64")
    if pd.api.types.is_numeric_dtype(series.dtype):
        vals = series.to_numpy(dtype=np.float64, na_value=np.nan)
        text = pd.Series(
            ["" if np.isnan(v) else (str(int(v)) if v in (0.0, 1.0) else repr(v)) for v in vals],
            index=series.index,
            dtype="string",
        )
    else:
        text = _as_text(series)
    low = text.str.lower()
    miss = _missing_text(text, tokens).to_numpy(dtype=bool)
    is_true = low.isin(_TRUE).to_numpy(dtype=bool) & ~miss
    is_false = low.isin(_FALSE).to_numpy(dtype=bool) & ~miss
    bad = ~(miss | is_true | is_false)
    if bad.any():
        where = np.flatnonzero(bad)
        values = sorted({str(text.iloc[i]) for i in where})
        shown = ", ".join(repr(v) for v in values[:5]) + (" ..." if len(values) > 5 else "")
        raise DataError(
            f"{src}: column {col!r}: expected a binary label (yes/no, true/false, 1/0) "
            f"at row(s) {_rows(where)}; found {shown}"
        )
    vals = np.where(is_true, 1.0, 0.0)
    vals[miss] = np.nan
    return vals, miss


def _check_range(
    values: np.ndarray,
    lo: float,
    hi: float,
    src: str,
    cols: Sequence[str],
    kept_rows: np.ndarray,
    what: str,
    feature: str | None = None,
) -> None:
    tol = 1e-9 * max(1.0, abs(hi - lo))
    bad = (values < lo - tol) | (values > hi + tol)
    if bad.any():
        where = kept_rows[np.flatnonzero(bad)]
        examples = ", ".join(f"{v:g}" for v in values[np.flatnonzero(bad)][:3])
        label = f"column {cols[0]!r}" if len(cols) == 1 else f"columns {', '.join(cols)} (mean)"
        feat = f" (feature {feature})" if feature else ""
        raise DataError(
            f"{src}: {label}{feat}: value(s) outside {lo:g}..{hi:g} ({what}) "
            f"at row(s) {_rows(where)}: {examples}"
        )


def _check_scale(
    vals: np.ndarray, miss: np.ndarray, scale: tuple[float, float], src: str, col: str
) -> None:
    """Refuse cells of ``col`` outside the declared scale (rows 1-based)."""
    lo, hi = scale
    tol = 1e-9 * (hi - lo)
    bad = ~miss & ((vals < lo - tol) | (vals > hi + tol))
    if bad.any():
        where = np.flatnonzero(bad)
        examples = ", ".join(f"{v:g}" for v in vals[where][:3])
        raise DataError(
            f"{src}: column {col!r}: value(s) outside the declared scale {lo:g}:{hi:g} "
            f"at row(s) {_rows(where)}: {examples}"
        )
