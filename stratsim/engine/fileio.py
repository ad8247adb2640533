"""Files in and out: the TOML reader of every file kind and one-line printable paths here;
safe outputs (no write through a symlink, no silent replacement of a file stratsim did not
write), the atomic writer and checksums in :mod:`stratsim.engine.outputs` (re-exported
here, so ``fileio.X`` works for every name).

Reading: :func:`read_toml` is the only TOML reading path (scenarios, sessions, model
metadata, recipes): every parser failure (syntax, bad UTF-8, pathological nesting,
integers too long for Python's int conversion, numbers no float64 can hold) becomes the
caller's error type with one line naming the file and the key path (or line).

Writing lives in :mod:`.outputs`: every writer (sessions and autosaves, CSV/Parquet
exports, model files, scenario files) goes through :func:`~.outputs.write_bytes` with an
:class:`~.outputs.OutputKind` that recognizes the files stratsim itself writes of that kind.
:func:`~.outputs.output_problem` says, without writing, why a path must not be written
without the user's confirmation (the TUI asks with it); :func:`~.outputs.check_output`
refuses it, and also a missing or unwritable folder, before any long work.
"""

from __future__ import annotations

import math
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import StratsimError

#: Deepest nesting of arrays/tables accepted in a TOML file (stratsim's own files nest at
#: most 4 levels: ``scenario.to_c.bass_p.median``). Deeper documents are refused naming the
#: key, before anything downstream (pydantic, tomli-w) recurses into them.
MAX_TOML_DEPTH = 32
#: An existing file larger than this is never taken for a stratsim TOML/CSV artifact
#: (sessions of 1,000 periods are a few MB).
MAX_RECOGNIZE_BYTES = 256 << 20
_FLOAT_MAX = sys.float_info.max
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029]"
)  # C0/C1 controls, DEL, line/paragraph separators


class OutputError(StratsimError):
    """An output path that must not (or cannot) be written.

    Attributes:
        path: the output path.
        overridable: True when the user may confirm the replacement (``--force`` in the
            CLI, a dialog in the TUI): an existing file that is not a stratsim artifact of
            the same kind, or a symbolic link. False for a missing or unwritable folder, a
            folder in place of the file.
    """

    def __init__(self, message: str, path: Path, overridable: bool) -> None:
        super().__init__(message)
        self.path = path
        self.overridable = overridable


# ============================================================================ display


def printable(text: object, limit: int | None = None) -> str:
    """``text`` as one printable line: bytes of a non-UTF-8 file name (surrogate escapes,
    as :func:`os.fsdecode` gives them) become ``\\xe9``, control characters (newline, tab,
    escape, ...) become their ``\\n``/``\\x1b`` escapes. Never raises, so an error message
    or a path printed with it cannot fail with UnicodeEncodeError or split a line.

    With ``limit`` (characters), a longer result keeps its first three quarters and its
    last quarter around ``... [N characters left out] ...``, so that a message quoting a
    huge cell or header stays readable."""
    s = str(text)
    try:
        raw = s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        raw = s.encode("utf-8", "backslashreplace")
    out = _CONTROL.sub(lambda m: repr(m.group())[1:-1], raw.decode("utf-8", "backslashreplace"))
    if limit is not None and len(out) > limit:
        head, tail = limit * 3 // 4, limit // 4
        out = f"{out[:head]} ... [{len(out) - head - tail} characters left out] ... {out[len(out) - tail :]}"
    return out


# ============================================================================ reading


class _FloatOverflow(str):
    """A float literal that no float64 can hold (``1e400``), kept for the error message."""


def _parse_float(literal: str) -> float | _FloatOverflow:
    value = float(literal)
    if math.isinf(value) and "inf" not in literal:
        return _FloatOverflow(literal)
    return value


_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_\-.\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEYLINE = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


def _key_near(text: str, lineno: int) -> str:
    """The dotted key whose value is on line ``lineno`` (1-based), as well as plain text
    can tell (the last ``[table]`` header above it plus the ``key =`` that opens the value);
    '' when none is found. Only for error messages."""
    lines = text.splitlines()[:lineno]
    key = ""
    for line in reversed(lines):
        if _HEADER.match(line):
            header = _HEADER.match(line).group(1).replace(" ", "").replace('"', "")
            return f"{header}.{key}" if key else header
        m = _KEYLINE.match(line)
        if m and not key:
            key = m.group(1).replace(" ", "").replace('"', "")
    return key


def _where(text: str, pos: int) -> str:
    """``line L, column C (key K)`` of character offset ``pos``."""
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    key = _key_near(text, line)
    return f"line {line}, column {col}" + (f" (key {key})" if key else "")


def _deep_position(text: str) -> int | None:
    """Offset where brackets/braces first nest deeper than :data:`MAX_TOML_DEPTH`
    (counting naively, strings included: only for locating an error)."""
    depth = 0
    for i, c in enumerate(text):
        if c in "[{":
            depth += 1
            if depth > MAX_TOML_DEPTH:
                return i
        elif c in "]}":
            depth = max(0, depth - 1)
    return None


def _short_key(key: str) -> str:
    return key if len(key) <= 60 else key[:57] + "..."


def _walk_toml(data: dict[str, Any], fail: Callable[[str, str], Exception]) -> None:
    """Refuse, naming the key path, nesting deeper than :data:`MAX_TOML_DEPTH` and
    numbers no float64 can hold. Iterative: no recursion on hostile input."""
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        key, value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_TOML_DEPTH:
                raise fail(
                    _short_key(key),
                    f"nested more than {MAX_TOML_DEPTH} levels deep: expected at most {MAX_TOML_DEPTH}",
                )
            items = value.items() if isinstance(value, dict) else enumerate(value, start=1)
            for k, v in items:
                sub = (
                    (f"{key}.{k}" if key else str(k)) if isinstance(value, dict) else f"{key}[{k}]"
                )
                stack.append((sub, v, depth + 1))
        elif isinstance(value, _FloatOverflow):
            raise fail(
                key,
                f"value {str(value)[:40]}: expected a number a float64 can hold (magnitude at most {_FLOAT_MAX:.4g})",
            )
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _FLOAT_MAX:
            raise fail(
                key,
                f"value of {len(str(abs(value)))} digits: expected a number a float64 can hold (magnitude at most {_FLOAT_MAX:.4g})",
            )


def parse_toml(
    raw: bytes | str, source: str | Path, error: type[StratsimError], what: str = "TOML file"
) -> dict[str, Any]:
    """Parse TOML text (bytes: UTF-8, a BOM allowed) read from ``source``.

    Every failure is ``error`` with one line ``SOURCE: ...`` naming the line and key path:
    invalid UTF-8, TOML syntax (:class:`tomllib.TOMLDecodeError`), nesting too deep for the
    parser (RecursionError) or deeper than :data:`MAX_TOML_DEPTH`, an integer beyond
    Python's 4,300-digit conversion limit (ValueError), a number whose magnitude exceeds
    float64's largest finite value (~1.8e308, IEEE 754 binary64). ``inf``/``nan``
    written as such pass (the caller's validation judges them).

    Args:
        raw: the file's bytes, or text already decoded.
        source: the file name used in messages.
        error: the caller's error type (ScenarioError, SessionError, ModelError, ...).
        what: what the file should be, for messages ("scenario file").
    """
    src = printable(source)
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            offset = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
            head = raw[:offset].decode("utf-8", "replace")
            raise error(
                f"{src}: not UTF-8 text: byte 0x{raw[offset]:02x} at {_where(head + ' ', len(head))}: expected a {what}"
            ) from None
    else:
        text = raw
    try:
        data = tomllib.loads(text, parse_float=_parse_float)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        key = _key_near(text, int(m.group(1))) if m else ""
        raise error(f"{src}: invalid TOML: {exc}" + (f" (key {key})" if key else "")) from None
    except RecursionError:
        pos = _deep_position(text)
        at = f" at {_where(text, pos)}" if pos is not None else ""
        raise error(
            f"{src}: invalid TOML{at}: arrays or inline tables nested too deeply (at most {MAX_TOML_DEPTH} levels)"
        ) from None
    except ValueError as exc:  # int() beyond sys.get_int_max_str_digits()
        m = re.search(
            rf"(?<![\w.])[+-]?\d[\d_]{{{max(sys.get_int_max_str_digits(), 640) - 1},}}", text
        )
        if m is None:
            raise error(f"{src}: invalid TOML: {exc}") from None
        digits = sum(c.isdigit() for c in m.group())
        raise error(
            f"{src}: invalid TOML at {_where(text, m.start())}: an integer of {digits} digits: "
            f"expected a number a float64 can hold (magnitude at most {_FLOAT_MAX:.4g})"
        ) from None

    def fail(key: str, msg: str) -> Exception:
        return error(f"{src}: key {key or '(top level)'}: {msg}")

    _walk_toml(data, fail)
    return data


def read_toml(
    path: str | Path, error: type[StratsimError], what: str = "TOML file"
) -> dict[str, Any]:
    """Read and parse a TOML file: the one TOML reading path of stratsim.

    Raises:
        error: the file cannot be read (``SOURCE: cannot read WHAT: reason``), or any
            failure of :func:`parse_toml`.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise error(f"{printable(p)}: cannot read {what}: {exc.strerror or exc}") from None
    return parse_toml(raw, p, error, what)
