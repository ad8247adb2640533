"""Reading a user's table as text cells: encoding, separator and number format detection.

What a spreadsheet program exports varies by locale and by menu entry: ``,`` or ``;``
or tab separated, decimal commas, thousands separators (``309,079``), a byte-order mark,
CRLF line ends, UTF-16 ("Unicode text"). :func:`read_cells` reads CSV/TSV text,
``.xlsx`` (pandas + openpyxl) and Parquet (pyarrow) into a :class:`RawTable` of text
cells with **spreadsheet row numbers** (the header is row 1, the first data row row 2; a
quoted cell spanning lines still counts as one row), and :func:`detect_numbers` guesses
the decimal mark and thousands separator from the cells. Every guess can be overridden
and :meth:`TableFormat.describe` says what was used, so the user can check it.

Detection rules:

* Encoding: a UTF-8 byte-order mark -> ``utf-8-sig``; a UTF-16 BOM -> ``utf-16``;
  NUL bytes in every other position -> ``utf-16-le`` / ``utf-16-be`` (UTF-16 without a
  BOM); otherwise the bytes must decode as UTF-8. Other encodings are refused with the offset
  and value of the first bad byte and the ``--encoding`` to pass (e.g. ``cp1252``).
* Separator: among ``, ; TAB |``, the one that splits the first 50 rows into the same
  number (> 1) of cells most often (ties: that order). Quotes are ``"`` (RFC 4180).
* Decimal mark: ``,`` when some cells look like ``12,5`` (a comma not followed by
  exactly three digits) and none like ``12.5``; else ``.``.
* Thousands separator: ``.`` with a decimal comma, ``,`` with a decimal point, when some
  cells are digit groups like ``309,079`` / ``1.234,5``; else none.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import DataError
from .fileio import printable
from .outputs import stat_path
from .terms import term

#: Separators tried by the detection, in order of preference on ties.
SEPARATORS = (",", ";", "\t", "|")
_SEP_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'", " ": "space"}
#: Rows looked at to detect the separator.
SNIFF_ROWS = 50


@dataclass(frozen=True)
class TableFormat:
    """How a file was read (every field overridable from the command line).

    Attributes:
        kind: ``csv``, ``xlsx`` or ``parquet``.
        encoding: Python codec name (``utf-8``, ``utf-8-sig``, ``utf-16``, ...); None
            for binary formats.
        sep: cell separator (CSV only).
        decimal: ``.`` or ``,``.
        thousands: ``,``, ``.``, ``" "`` or ``""`` (none).
    """

    kind: str = "csv"
    encoding: str | None = "utf-8"
    sep: str = ","
    decimal: str = "."
    thousands: str = ""

    def describe(self) -> str:
        """One line for the user, e.g. ``csv, separator ';', decimal ',', thousands '.',
        encoding utf-8-sig (BOM)``."""
        parts = [self.kind]
        if self.kind == "csv":
            parts.append(f"separator {_SEP_NAMES.get(self.sep, repr(self.sep))}")
        parts.append(f"decimal {self.decimal!r}")
        parts.append(
            f"thousands {self.thousands!r}" if self.thousands else "no thousands separator"
        )
        if self.encoding:
            bom = " (BOM)" if self.encoding in ("utf-8-sig", "utf-16") else ""
            parts.append(f"encoding {self.encoding}{bom}")
        return ", ".join(parts)


@dataclass
class RawTable:
    """A table as text cells.

    Attributes:
        source: printable file name.
        names: header names, stripped, in file order.
        raw_names: header names as written.
        rows: data rows, each a list of ``len(names)`` stripped strings.
        row_numbers: spreadsheet row number of each data row (header = 1).
        format: what was detected / used.
        notes: what the reader did besides reading (blank rows skipped, ...).
        ragged: rows whose cell count differs from the header's: (spreadsheet row, cells).
    """

    source: str
    names: list[str]
    raw_names: list[str]
    rows: list[list[str]]
    row_numbers: list[int]
    format: TableFormat
    notes: list[str] = field(default_factory=list)
    ragged: list[tuple[int, list[str]]] = field(default_factory=list)


def decode_bytes(data: bytes, source: str, encoding: str | None) -> tuple[str, str]:
    """Decode file bytes: ``(text, encoding used)`` (see the module's detection rules).

    Raises:
        DataError: unknown codec, or bytes that do not decode, naming the encoding tried.
    """
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataError(
                f"{source}: {term('encoding')} {encoding!r} is not a known encoding "
                "(e.g. utf-8, utf-16, cp1252, latin-1)"
            ) from None
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{source}: not {encoding} text (byte {exc.start}: {exc.reason}); "
                f"check {term('encoding')}"
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = "utf-16"
    else:
        enc = _utf16_without_bom(data) or "utf-8"
    try:
        return data.decode(enc), enc
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        if enc in ("utf-16-le", "utf-16-be"):
            raise DataError(
                f"{source}: looks like {enc} without a byte-order mark (NUL bytes at every "
                f"{'second' if enc == 'utf-16-le' else 'first'} position) but does not decode as "
                f"{enc} (byte {exc.start}: {exc.reason}); pass {term('encoding')} {enc} or "
                f"{term('encoding')} utf-16-be, or save the file as UTF-8 CSV"
            ) from None
        if enc == "utf-8":
            raise DataError(
                f"{source}: not UTF-8 (nor UTF-16 with a byte-order mark): byte {exc.start} "
                f"is 0x{bad}; if the file is Windows-1252/Latin-1 pass {term('encoding')} cp1252 "
                "(or save it as UTF-8 CSV)"
            ) from None
        raise DataError(
            f"{source}: not valid {enc} text (byte {exc.start}: {exc.reason})"
        ) from None


def _utf16_without_bom(data: bytes, sample: int = 4096) -> str | None:
    """``utf-16-le`` / ``utf-16-be`` when the first ``sample`` bytes (an even number) look
    like UTF-16 without a byte-order mark: text in Latin script then has a NUL byte in
    every other position (the high byte of each code unit), which UTF-8 text never has.
    Detected when at least 3 of 4 odd (LE) or even (BE) bytes are NUL and almost no byte
    of the other parity is; else None."""
    head = data[: sample - sample % 2]
    if len(head) < 4:
        return None
    half = len(head) // 2
    even_nul = head[0::2].count(0) / half
    odd_nul = head[1::2].count(0) / half
    if odd_nul >= 0.75 and even_nul <= 0.05:
        return "utf-16-le"
    if even_nul >= 0.75 and odd_nul <= 0.05:
        return "utf-16-be"
    return None


def sniff_separator(text: str) -> str:
    """The separator of :data:`SEPARATORS` that splits the first rows most consistently."""
    head = text[:65536]
    best, best_score = ",", (-1.0, 0)
    for sep in SEPARATORS:
        rows = []
        for row in csv.reader(io.StringIO(head, newline=""), delimiter=sep, skipinitialspace=True):
            if row:
                rows.append(len(row))
            if len(rows) >= SNIFF_ROWS:
                break
        if not rows or rows[0] < 2:
            continue
        consistent = sum(1 for k in rows if k == rows[0]) / len(rows)
        score = (consistent, rows[0])
        if score > best_score:
            best, best_score = sep, score
    return best


def read_cells(
    path: str | Path,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
) -> RawTable:
    """Read ``path`` (CSV/TSV/TXT, ``.xlsx``, ``.parquet``/``.pq``) as text cells.

    Args:
        path: the file.
        sep, encoding, decimal, thousands: overrides of the detection (None: detect;
            ``thousands=""``: none).

    Raises:
        DataError: file missing, unreadable, undecodable, empty, header only, or a bad
            override value.
    """
    p = Path(path)
    src = printable(p)
    st = stat_path(p, DataError, "data file")
    if st is None:
        raise DataError(f"{src}: file not found")
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{src}: not a file")
    if decimal is not None and decimal not in (".", ","):
        raise DataError(f"{src}: {term('decimal')} {decimal!r}: expected '.' or ','")
    if thousands is not None and thousands not in ("", ",", ".", " ", "'"):
        raise DataError(
            f"{src}: {term('thousands')} {thousands!r}: expected ',', '.', ' ', \"'\" or ''"
        )
    if decimal is not None and thousands and decimal == thousands:
        raise DataError(f"{src}: {term('decimal')} and {term('thousands')} are both {decimal!r}")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq", ".xlsx", ".xlsm"):
        kind = "xlsx" if suffix.startswith(".xls") else "parquet"
        grid = _read_binary_grid(p, src, kind)
        fmt = TableFormat(kind=kind, encoding=None)
    else:
        grid, fmt = _read_text_grid(p, src, sep, encoding)
    table = _from_grid(grid, src, fmt)
    det_dec, det_th = detect_numbers(table.rows)
    if fmt.kind != "csv":
        det_dec, det_th = ".", ""
    dec = decimal if decimal is not None else det_dec
    th = thousands if thousands is not None else (det_th if det_dec == dec else "")
    if th == dec:
        th = ""
    table.format = replace(fmt, decimal=dec, thousands=th)
    return table


def _read_text_grid(
    p: Path, src: str, sep: str | None, encoding: str | None
) -> tuple[list[list[str]], TableFormat]:
    """The cells of a delimited text file and its format (encoding and separator given
    or detected)."""
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DataError(f"{src}: cannot read: {exc.strerror or exc}") from None
    text, enc = decode_bytes(data, src, encoding)
    if sep is not None:
        sep = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ","}.get(sep, sep)
        if len(sep) != 1 or sep in ('"', "\n", "\r"):
            raise DataError(f"{src}: {term('sep')} {sep!r}: expected one character (or 'tab')")
    use_sep = sep if sep is not None else sniff_separator(text)
    try:
        grid = list(
            csv.reader(io.StringIO(text, newline=""), delimiter=use_sep, skipinitialspace=True)
        )
    except csv.Error as exc:
        raise DataError(f"{src}: malformed CSV: {exc}") from None
    return grid, TableFormat(kind="csv", encoding=enc, sep=use_sep)


def _read_binary_grid(p: Path, src: str, kind: str) -> list[list[str]]:
    import pandas as pd

    try:
        if kind == "xlsx":
            df = pd.read_excel(p, header=None, dtype=object, sheet_name=0)
            grid = [[_cell_text(v) for v in row] for row in df.itertuples(index=False)]
            if any(c == "" for row in grid for c in row):
                _refuse_uncomputed_formulas(p, src)
            return grid
        df = pd.read_parquet(p)
    except DataError:
        raise
    except (OSError, ValueError, ImportError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{src}: cannot read as {kind}: {first}") from None
    except Exception as exc:  # zipfile.BadZipFile, pyarrow errors, ...
        raise DataError(f"{src}: cannot read as {kind}: {type(exc).__name__}: {exc}") from None
    header = [str(c) for c in df.columns]
    return [header, *([_cell_text(v) for v in row] for row in df.itertuples(index=False))]


def _refuse_uncomputed_formulas(p: Path, src: str) -> None:
    """Refuse an ``.xlsx`` whose first sheet has formula cells without a saved value.

    A spreadsheet program stores each formula's last computed value beside it; files
    written by libraries (openpyxl, some exporters) hold only the formula, and every
    reader (pandas, openpyxl ``data_only=True``) then sees an empty cell. Training on
    them would treat computed numbers as missing, so they are refused, naming the cells.

    Raises:
        DataError: naming the count, the first cells (``D2``) and their formulas.
    """
    import openpyxl

    try:
        formulas = openpyxl.load_workbook(p, read_only=True, data_only=False)
        values = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - pandas read it; a second reader's failure is no finding
        return
    found: list[str] = []
    count = 0
    try:
        rows_f = formulas.worksheets[0].iter_rows()
        rows_v = values.worksheets[0].iter_rows()
        for row_f, row_v in zip(rows_f, rows_v, strict=False):
            for cell_f, cell_v in zip(row_f, row_v, strict=False):
                if getattr(cell_f, "data_type", None) == "f" and cell_v.value is None:
                    count += 1
                    if len(found) < 3:
                        found.append(f"{cell_f.coordinate} {str(cell_f.value)[:40]!r}")
    finally:
        formulas.close()
        values.close()
    if count:
        raise DataError(
            f"{src}: {count} cell(s) hold formulas without saved values ({', '.join(found)}"
            f"{' ...' if count > len(found) else ''}); the program that wrote the file did not "
            "compute them: open and save the file in a spreadsheet program, or export it as CSV"
        )


def _cell_text(v) -> str:
    """Text of a typed cell (xlsx/parquet) that parses back to the same value."""
    import math

    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if hasattr(v, "item") and not isinstance(v, str):  # numpy scalars
        try:
            return _cell_text(v.item())
        except (TypeError, ValueError):
            pass
    return str(v)


def _from_grid(grid: list[list[str]], src: str, fmt: TableFormat) -> RawTable:
    start = next((i for i, r in enumerate(grid) if any(str(c).strip() for c in r)), None)
    if start is None:
        raise DataError(f"{src}: file is empty (no header, no rows)")
    raw_names = [str(c) for c in grid[start]]
    names = [c.strip() for c in raw_names]
    width = len(names)
    rows: list[list[str]] = []
    numbers: list[int] = []
    ragged: list[tuple[int, list[str]]] = []
    blank = 0
    for i in range(start + 1, len(grid)):
        cells = [str(c).strip() for c in grid[i]]
        if not any(cells):
            blank += 1
            continue
        if len(cells) != width:
            if len(cells) > width and not any(cells[width:]):
                cells = cells[:width]  # trailing empty cells (a separator at the line end)
            else:
                ragged.append((i + 1, cells))
                continue
        rows.append(cells)
        numbers.append(i + 1)
    if not rows and not ragged:
        raise DataError(f"{src}: no data rows (header only)")
    notes = [f"skipped {blank} blank row(s)"] if blank else []
    return RawTable(src, names, raw_names, rows, numbers, fmt, notes, ragged)


_STRONG_COMMA = re.compile(r"^[+-]?\d*,(\d{1,2}|\d{4,})$")
_STRONG_POINT = re.compile(r"^[+-]?\d*\.(\d{1,2}|\d{4,})([eE][+-]?\d+)?$")
_GROUP_COMMA = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_GROUP_POINT = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")


def detect_numbers(rows: list[list[str]], limit: int = 2000) -> tuple[str, str]:
    """``(decimal, thousands)`` guessed from up to ``limit`` rows of cells (module docs)."""
    strong_comma = strong_point = group_comma = group_point = 0
    for row in rows[:limit]:
        for c in row:
            if not c or not (c[0].isdigit() or c[0] in "+-,."):
                continue
            if _STRONG_COMMA.match(c):
                strong_comma += 1
            elif _STRONG_POINT.match(c):
                strong_point += 1
            if _GROUP_COMMA.match(c):
                group_comma += 1
            if _GROUP_POINT.match(c):
                group_point += 1
    if strong_comma and not strong_point:
        return ",", "." if group_point else ""
    return ".", "," if group_comma else ""
