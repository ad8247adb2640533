"""Training-data import: read a user's table, prepare it by a recipe, validate it.

A user's file rarely has the model's feature names, scale, labels or number format.
:func:`load_training_data` reads it (:mod:`stratsim.engine.tableread`: CSV/TSV with
detected separator, decimal mark, thousands separator and encoding; ``.xlsx``; Parquet),
then applies a :class:`~stratsim.engine.recipe.Recipe`:

* rows skipped before anything else: blank rows, repeated header rows (every non-empty
  cell equal to its column's name), total/footer rows (a cell reading ``Total``, ``Sum``,
  ``Summe``, ``Gesamt``, ``Average`` ...) and rows with a cell matching a
  ``skip_rows_matching`` regular expression; each skip is reported;
* derived columns (``derive``, :mod:`stratsim.engine.expr`), in order; an expression
  without columns is a constant on every row; in a column the expression computes with
  whose cells are mostly numbers, a cell that is not one is an invalid cell of that
  column (reported with its row; ``max_missing`` drops such rows);
* each model feature from, in this order: a constant (``set``), the columns mapped to
  it (``map``; several columns form a construct, the mean of the items present, at least
  ``min_items`` of them, default all), or a column / derived column of its own name;
  a feature found nowhere is an error listing these three ways;
* per column: missing sentinels (always: empty, NA, N/A, NaN, null, None; plus
  ``missing`` and ``column_missing``), numbers in the detected format, binary labels
  (``yes/no``, ``true/false``, ``1/0``), declared scales rescaled to 0..10 (``scale`` for
  the rating features -- satisfaction: the three features and the target; privacy:
  ``security_posture`` -- and ``column_scale`` for any column, the target included);
* the target: a number (satisfaction 0..10) or a binary label; with ``positive`` labels
  the target is 1 for those labels and 0 for every other label -- for the satisfaction
  role it becomes 10 x 1/0, so the model predicts 10 x P(positive), said in the metadata.

Every problem in the file is collected and reported in one message, grouped by column,
with **spreadsheet row numbers** (the header is row 1, the first data row is row 2).
Rows with missing values are dropped with a warning when they are at most 5% of the rows
(the default); rows with invalid cells (not a number, outside the range or the declared
scale, an unexpected label) fail the import unless the user allows dropping unusable rows
with ``max_missing`` (``--max-missing F``: missing and invalid rows together at most
``F`` of the rows). Data that cannot teach the model is refused: a feature column that
is constant (use ``set`` for a constant on purpose), a constant target, a target column
that is also a feature's column, a target with one class, fewer than 10 rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..sample_data import sample_file
from .errors import DataError
from .models import PRIVACY_FEATURES, ROLES
from .outputs import file_sha256
from .recipe import Recipe, parse_scale_text
from .tableread import RawTable, read_cells
from .terms import term

#: Features every model of a role needs (the ones the data must supply).
REQUIRED_FEATURES: dict[str, tuple[str, ...]] = {
    "satisfaction": ("functionality", "ux", "service_response"),
    "privacy": PRIVACY_FEATURES,
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

SAMPLE_FILES = {
    "satisfaction": sample_file("satisfaction_survey.csv"),
    "privacy": sample_file("incidents.csv"),
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
        rows_read: data rows in the file (before skipped rows).
        dropped_rows: spreadsheet rows (header = row 1) dropped as unusable.
        warnings: human-readable warnings (e.g. rows dropped).
        recipe: the complete preparation (:class:`~stratsim.engine.recipe.Recipe`),
            with the detected reading format filled in.
        format: what the reader detected/used, in words.
        skipped_rows: ``(spreadsheet row, reason)`` of rows skipped before parsing.
        constant_features: features set to a constant (``--set``); the trainer keeps
            their weights at zero (the data cannot tell their effect).
        binary_target: True when ``y`` holds two classes (privacy, or a label target);
            the split is then stratified.
        target_note: how the target was formed, e.g. ``"10 x P(Satisfaction in
            {'satisfied'})"``; empty for a plain numeric target.
        row_numbers: ``[n]`` spreadsheet row of each kept row.
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
    recipe: Recipe | None = None
    format: str = ""
    skipped_rows: tuple[tuple[int, str], ...] = ()
    constant_features: tuple[str, ...] = ()
    binary_target: bool = False
    target_note: str = ""
    row_numbers: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of usable rows."""
        return int(self.y.shape[0])

    def subset(self, rows: np.ndarray | slice) -> TrainingData:
        """A copy restricted to ``rows`` (indices into ``x``/``y``), same provenance."""
        from dataclasses import replace

        nums = self.row_numbers[rows] if self.row_numbers is not None else None
        return replace(self, x=self.x[rows], y=self.y[rows], row_numbers=nums)


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
        binary_target=role == "privacy",
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
            raise DataError(f"{term('map')} {item!r}: expected FEATURE=COLUMN[,COLUMN...]")
        if feature not in allowed:
            raise DataError(
                f"{term('map')} {item!r}: unknown feature {feature!r} for the {role} model; "
                f"expected one of {', '.join(allowed)}"
            )
        if feature in out:
            raise DataError(f"{term('map')}: feature {feature!r} is mapped twice")
        out[feature] = columns
    return out


def parse_scale(text: str | None) -> tuple[float, float] | None:
    """Parse ``"1:10"`` into ``(1.0, 10.0)``; None stays None.

    Raises:
        DataError: not two numbers separated by ``:``, or min >= max.
    """
    if text is None:
        return None
    return parse_scale_text(text, f"{term('scale')}")


#: Spreadsheet row numbers quoted per problem before "(+N more)".
TOTAL_ROW = re.compile(
    r"(grand\s+)?(total|totals|sum|summe|gesamt|gesamtsumme|average|mean|avg)\s*:?", re.I
)
#: Default largest fraction of rows with missing values dropped with a warning.
DEFAULT_MAX_MISSING = 0.05


def load_training_data(
    path: str | Path,
    role: str,
    *,
    recipe: Recipe | None = None,
    mapping: Mapping[str, Sequence[str]] | None = None,
    target: str | None = None,
    scale: tuple[float, float] | None = None,
    missing: Sequence[str] = (),
    max_missing_fraction: float | None = None,
) -> TrainingData:
    """Read ``path`` and prepare it for ``role`` by ``recipe`` (see the module docstring).

    Args:
        path: CSV/TSV, ``.xlsx`` or Parquet file.
        role: ``"satisfaction"`` or ``"privacy"``.
        recipe: every preparation choice; the keyword arguments below, when given,
            override the recipe's entries of the same meaning.
        mapping: feature -> column(s).
        target: target column (default ``satisfaction`` / ``incident``).
        scale: ``(lo, hi)`` of the rating columns, rescaled to 0..10.
        missing: sentinel cell values meaning missing (e.g. ``["0"]``).
        max_missing_fraction: largest fraction 0..1 of unusable rows (missing or
            invalid) that is dropped with a warning; None: missing rows up to 5%,
            invalid cells refused.

    Returns:
        :class:`TrainingData` with ``x`` ``[n, k]`` and ``y`` ``[n]`` in model units.

    Raises:
        DataError: naming the file, and every column and spreadsheet row with a problem.
    """
    _check_role(role)
    r = (recipe or Recipe()).merged(
        mapping={k: tuple(v) for k, v in (mapping or {}).items()} or None,
        target=target,
        scale=scale,
        missing=tuple(str(m) for m in missing) or None,
        max_missing=max_missing_fraction,
    )
    if r.max_missing is not None and not 0.0 <= r.max_missing <= 1.0:
        raise DataError(f"max missing fraction {r.max_missing} is not within 0..1")
    table = read_cells(
        path, sep=r.sep, encoding=r.encoding, decimal=r.decimal, thousands=r.thousands
    )
    try:
        sha = file_sha256(path)
    except OSError as exc:
        raise DataError(f"{table.source}: cannot read: {exc.strerror or exc}") from None
    from .dataprep import prepare

    return prepare(table, role, r, sha256=sha)


def inspect_table(path: str | Path, recipe: Recipe | None = None) -> RawTable:
    """Read ``path`` as text cells with the recipe's reading options (for previews)."""
    r = recipe or Recipe()
    return read_cells(
        path, sep=r.sep, encoding=r.encoding, decimal=r.decimal, thousands=r.thousands
    )


def column_labels(table: RawTable, column: str, limit: int = 20) -> list[tuple[str, int]]:
    """The most frequent ``(label, count)`` of a column (for choosing positive labels)."""
    from collections import Counter

    if column not in table.names:
        return []
    j = table.names.index(column)
    counts = Counter(
        row[j] for row in table.rows if row[j].lower() not in MISSING_TOKENS and row[j] != column
    )
    return counts.most_common(limit)


def column_ranges(table: RawTable, columns: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Observed ``(min, max)`` of the numeric cells of each of ``columns`` in the file's
    number format (to see a column's scale before declaring it)."""
    from .datareport import _to_numbers

    out: dict[str, tuple[float, float]] = {}
    fmt = table.format
    for col in columns:
        if col not in table.names:
            continue
        j = table.names.index(col)
        cells = np.array([r[j] for r in table.rows], dtype=object)
        vals = _to_numbers(cells, fmt.decimal, fmt.thousands)
        vals = vals[np.isfinite(vals)]
        if vals.size:
            out[col] = (float(vals.min()), float(vals.max()))
    return out


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise DataError(f"unknown model role {role!r}; expected one of {', '.join(ROLES)}")
