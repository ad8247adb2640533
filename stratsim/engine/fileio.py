"""Files in and out, in one place: the TOML reader of every file kind, safe outputs (no
write through a symlink, no silent replacement of a file stratsim did not write), the
atomic writer, checksums, and one-line printable paths.

Reading: :func:`read_toml` is the only TOML reading path (scenarios, sessions, model
metadata, recipes): every parser failure (syntax, bad UTF-8, pathological nesting,
integers too long for Python's int conversion, numbers no float64 can hold) becomes the
caller's error type with one line naming the file and the key path (or line).

Writing: every writer (sessions and autosaves, CSV/Parquet exports, model files,
scenario files) goes through :func:`write_bytes` with an :class:`OutputKind` that
recognizes the files stratsim itself writes of that kind. :func:`output_problem` says,
without writing, why a path must not be written without the user's confirmation (the TUI
asks with it); :func:`check_output` refuses it, and also a missing or unwritable folder,
before any long work.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import math
import os
import re
import stat
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0/C1 controls, DEL, line/paragraph separators


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
        out = f"{out[:head]} ... [{len(out) - head - tail} characters left out] ... {out[len(out) - tail:]}"
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
                raise fail(_short_key(key), f"nested more than {MAX_TOML_DEPTH} levels deep: expected at most {MAX_TOML_DEPTH}")
            items = value.items() if isinstance(value, dict) else enumerate(value, start=1)
            for k, v in items:
                sub = (f"{key}.{k}" if key else str(k)) if isinstance(value, dict) else f"{key}[{k}]"
                stack.append((sub, v, depth + 1))
        elif isinstance(value, _FloatOverflow):
            raise fail(key, f"value {str(value)[:40]}: expected a number a float64 can hold (magnitude at most {_FLOAT_MAX:.4g})")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _FLOAT_MAX:
            raise fail(key, f"value of {len(str(abs(value)))} digits: expected a number a float64 can hold (magnitude at most {_FLOAT_MAX:.4g})")


def parse_toml(raw: bytes | str, source: str | Path, error: type[StratsimError], what: str = "TOML file") -> dict[str, Any]:
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
        raise error(f"{src}: invalid TOML{at}: arrays or inline tables nested too deeply (at most {MAX_TOML_DEPTH} levels)") from None
    except ValueError as exc:  # int() beyond sys.get_int_max_str_digits()
        m = re.search(rf"(?<![\w.])[+-]?\d[\d_]{{{max(sys.get_int_max_str_digits(), 640) - 1},}}", text)
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


def read_toml(path: str | Path, error: type[StratsimError], what: str = "TOML file") -> dict[str, Any]:
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


# ====================================================================== output kinds


@dataclass(frozen=True)
class OutputKind:
    """A kind of file stratsim writes.

    Attributes:
        name: what it is, for messages ("session file", "CSV table with columns period, kpi, ...").
        recognize: ``path -> bool``: True when the existing regular file at ``path`` is a
            file of this kind (so replacing it destroys nothing the user did not make with
            stratsim). It must not raise.
    """

    name: str
    recognize: Callable[[Path], bool]


def _small_enough(path: Path) -> bool:
    try:
        return path.stat().st_size <= MAX_RECOGNIZE_BYTES
    except OSError:
        return False


def toml_kind(name: str, has: Callable[[dict[str, Any]], bool], head: re.Pattern[str] | None = None) -> OutputKind:
    """A TOML kind: an existing file is recognized when its first 4 KiB match ``head``
    (a fast path for the layout stratsim writes, so an autosave after every step does not
    re-parse a large file), or else when it parses (:func:`read_toml`) and
    ``has(document)`` is true."""

    def recognize(path: Path) -> bool:
        if not _small_enough(path):
            return False
        if head is not None:
            try:
                with open(path, "rb") as fh:
                    if head.match(fh.read(4096).decode("utf-8", "replace")):
                        return True
            except OSError:
                return False
        try:
            return bool(has(read_toml(path, StratsimError)))
        except StratsimError:
            return False

    return OutputKind(name, recognize)


def table_kind(columns: Sequence[str], fmt: str) -> OutputKind:
    """A CSV or Parquet table with exactly ``columns`` (in order): an existing file is
    recognized when its header (CSV: first line; Parquet: the schema's names) equals them."""
    cols = [str(c) for c in columns]
    name = f"{'CSV' if fmt == 'csv' else 'Parquet'} table with columns {', '.join(cols)}"

    def recognize(path: Path) -> bool:
        try:
            if fmt == "parquet":
                import pyarrow.parquet as pq

                return list(pq.read_schema(path).names) == cols
            with open(path, "rb") as fh:
                first = fh.readline(64 << 10).decode("utf-8-sig").rstrip("\r\n")
        except Exception:  # unreadable, not Parquet, not UTF-8: not ours
            return False
        return first.split(",") == cols

    return OutputKind(name, recognize)


def _is_torch_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("/data.pkl") for n in zf.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


#: ``torch.save`` archives (a zip with ``ARCHIVE/data.pkl``): model weights files.
TORCH_WEIGHTS = OutputKind("torch weights file (torch.save)", _is_torch_archive)


# =========================================================================== outputs


#: Longest file name (bytes) assumed when the file system cannot be asked (ext4, XFS,
#: btrfs, tmpfs: NAME_MAX = 255, POSIX ``pathconf(PC_NAME_MAX)``).
NAME_MAX = 255


def temp_prefix(name: str) -> str:
    """Prefix of a temporary file beside ``name``: ``.NAME.``, the name cut to 40
    characters so that prefix + random part + suffix stay within :data:`NAME_MAX`."""
    return f".{name[:40]}."


def stat_path(path: str | Path, error: type[StratsimError], what: str = "path") -> os.stat_result | None:
    """``os.stat(path)`` (links followed), or None when nothing is there.

    :meth:`pathlib.Path.exists` and ``is_dir`` raise for a name longer than the file
    system allows (``ENAMETOOLONG``), a folder without search permission (``EACCES``) or
    an I/O error; every such OSError becomes ``error`` with one line naming the path,
    ``what`` it is and the reason.
    """
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise error(f"{printable(path)}: cannot use this {what}: {exc.strerror or exc}") from None
    except ValueError as exc:  # an embedded NUL byte
        raise error(f"{printable(path)}: cannot use this {what}: {exc}") from None


def _name_problem(p: Path) -> str | None:
    """Why the last component of ``p`` cannot be a file name on its file system, or None."""
    size = len(os.fsencode(p.name))
    try:
        limit = os.pathconf(p.absolute().parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = NAME_MAX
    if size > limit:
        return f"the file name is {size} bytes long: expected at most {limit} (the file system's limit)"
    return None


def _is_stream(st: os.stat_result) -> bool:
    """A character device, FIFO or socket: written in place, never replaced."""
    return not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode))


def _is_fd_alias(path: Path) -> bool:
    """``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``, ``/proc/self/fd/N``: this process's
    open files, written in place whatever they point to (``--csv /dev/stdout > out.csv``)."""
    text = os.path.abspath(path)
    return text in ("/dev/stdout", "/dev/stderr") or text.startswith(("/dev/fd/", "/proc/self/fd/"))


def _written_in_place(path: Path) -> bool:
    if _is_fd_alias(path):
        return True
    try:
        return _is_stream(path.stat())
    except (OSError, ValueError):
        return False


#: Folders of device and kernel files: nothing stratsim makes (an autosave, a temporary
#: file) belongs there, even beside an output that is one of their files.
SYSTEM_FOLDERS = ("/dev", "/proc", "/sys")


def sibling_problem(path: str | Path) -> str | None:
    """Why no file may be created beside the output ``path`` (an autosave), or None:
    the output is written in place (a device such as ``/dev/full``, a FIFO, ``/dev/stdout``
    or another ``/dev/fd/N`` alias) or lies in :data:`SYSTEM_FOLDERS`."""
    p = Path(path)
    if _written_in_place(p):
        return f"{printable(p)} is a device or stream, written in place"
    folder = os.path.abspath(p.parent)
    for system in SYSTEM_FOLDERS:
        if folder == system or folder.startswith(system + "/"):
            return f"{printable(p)} lies in the system folder {system}"
    return None


def output_problem(path: str | Path, kind: OutputKind) -> str | None:
    """Why writing ``kind`` to ``path`` would destroy something the user may want, or None.

    None when nothing is at ``path``, when it is an empty file (``mktemp``) or a file of
    ``kind`` (see :attr:`OutputKind.recognize`), or when it is (or links to) a stream such as
    ``/dev/stdout`` or a FIFO, which is written in place. Otherwise a phrase to follow the
    path in a message: ``"is a symbolic link to /etc/passwd; ..."`` or ``"exists and is
    not a stratsim session file"``. The TUI uses it to ask before replacing; writers
    refuse such a path unless forced. Reads at most the file's header (TOML kinds: the
    file, up to :data:`MAX_RECOGNIZE_BYTES`).
    """
    p = Path(path)
    try:
        st = os.lstat(p)
    except OSError:
        return None
    if _is_fd_alias(p):
        return None
    if stat.S_ISLNK(st.st_mode):
        target = printable(os.path.realpath(p))
        try:
            if _is_stream(os.stat(p)):
                return None
        except OSError:
            return f"is a symbolic link to {target}, which does not exist; stratsim does not write through links"
        return f"is a symbolic link to {target}; stratsim does not write through links"
    if stat.S_ISDIR(st.st_mode) or _is_stream(st) or st.st_size == 0:
        return None  # a folder is refused by check_output; a stream is written in place; empty: nothing to lose
    if kind.recognize(p):
        return None
    return f"exists and is not a stratsim {kind.name}"


def check_output(path: str | Path, kind: OutputKind | None, *, force: bool = False, probe: bool = True) -> Path:
    """Refuse an output path before any long work; returns it.

    Checks, in order: the path can be probed at all (a name longer than the file system
    allows, a parent folder without search permission: one line, never an OSError); it is
    not empty and not a folder; its folder exists; its name fits the file system's
    ``NAME_MAX``; it is not a symbolic link to a file nor an existing file that is not a
    stratsim ``kind``
    (:func:`output_problem`; skipped when ``kind`` is None) unless ``force``; and, with
    ``probe``, that the folder takes a
    new file (a temporary file is created and removed: permission bits alone say nothing
    for root or on a read-only mount) or, for a stream, that it is writable.

    Raises:
        OutputError: one line naming the path, the problem and the expectation;
            ``overridable`` tells whether ``force`` would accept it.
    """
    p = Path(path)
    shown = printable(p)
    if not str(path).strip():
        raise OutputError("empty output path: expected a file path", p, False)
    try:
        if p.is_dir():
            raise OutputError(f"{shown}: is a folder: expected a file path", p, False)
        folder = p.absolute().parent
        if not folder.is_dir():
            raise OutputError(f"{shown}: folder {printable(folder)} does not exist", p, False)
    except (OSError, ValueError) as exc:  # ENAMETOOLONG, EACCES on a parent, ELOOP, NUL byte
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise OutputError(f"{shown}: cannot use this path: {reason}: expected a writable file path", p, False) from None
    name_problem = _name_problem(p)
    if name_problem is not None:
        raise OutputError(f"{shown}: {name_problem}", p, False)
    problem = output_problem(p, kind) if kind is not None and not force else None
    if problem is not None:
        raise OutputError(f"{shown}: {problem}: not replaced", p, True)
    if not probe:
        return p
    try:
        if _written_in_place(p):
            if not os.access(p, os.W_OK):
                raise PermissionError(13, "Permission denied")
        else:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=temp_prefix(p.name), suffix=".probe")
            os.close(fd)
            os.unlink(tmp)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENOENT:  # the folder exists (checked above) but takes no files: /proc, /sys
            reason = "the folder does not take new files (a system or virtual folder)"
        raise OutputError(f"{shown}: cannot write in folder {printable(folder)}: {reason}", p, False) from None
    return p


def write_bytes(path: str | Path, data: bytes, kind: OutputKind, *, force: bool = False) -> Path:
    """Write an output safely: refuse what :func:`output_problem` finds unless ``force``,
    then :func:`atomic_write_bytes` for a file, or an in-place write for a stream
    (a FIFO, a device, ``/dev/stdout`` whatever it points to). Returns the path.

    Raises:
        OutputError: a symbolic link or an existing file not of ``kind``, and not
            ``force`` (nothing written; ``overridable`` is True).
        OSError: the write failed (no such folder, a folder in the way, disk full,
            read-only, ...); a file target is unchanged.
    """
    p = Path(path)
    problem = output_problem(p, kind) if not force else None
    if problem is not None:
        raise OutputError(f"{printable(p)}: {problem}: not replaced", p, True)
    if _written_in_place(p):
        with open(p, "wb") as fh:
            fh.write(data)
    else:
        atomic_write_bytes(p, data)
    return p


def write_table(frame: Any, path: str | Path, fmt: str, *, force: bool = False) -> Path:
    """Write a pandas DataFrame (without its index) as CSV (``fmt="csv"``, UTF-8, ``\\n``)
    or Parquet (``fmt="parquet"``, pyarrow) through :func:`write_bytes`; an existing file
    is replaced without ``force`` only when it is a table with the same columns.

    Raises:
        OutputError, OSError: as :func:`write_bytes`.
    """
    kind = table_kind(list(frame.columns), fmt)
    if fmt == "csv":
        data = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    else:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        data = buf.getvalue()
    return write_bytes(path, data, kind, force=force)


# ====================================================================== atomic write


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:
        return  # platforms without directory fds (Windows): rename is still atomic
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, flush,
    ``os.fsync``, ``os.replace`` over the target, then fsync of the folder. A crash at any
    point leaves the old file or the new one, never a mix.

    Keeps the permission bits of an existing regular target (new files: 0o666 minus the
    umask). A symbolic link at ``path`` is replaced by the file, never written through
    (writers refuse links first unless forced: :func:`write_bytes`).

    Raises:
        OSError: the folder does not exist or is not writable, disk full, ... (the target
            is then unchanged and the temporary file removed). Callers turn it into their
            own error type.
    """
    target = Path(path)
    folder = target.parent
    try:
        st = os.lstat(target)
        mode = st.st_mode & 0o7777 if stat.S_ISREG(st.st_mode) else 0o666 & ~current_umask()
    except OSError:
        mode = 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=temp_prefix(target.name), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


# ========================================================================= checksums


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (streamed in 1 MiB chunks).

    Raises:
        OSError: the file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def document_sha256(document: dict[str, Any], exclude: Sequence[str] = ()) -> str:
    """Hex SHA-256 of a TOML-ready document (strings, numbers, booleans, lists, tables),
    over its canonical JSON (sorted keys, no spaces, floats by ``repr``: TOML round-trips
    them exactly), leaving out the top-level keys in ``exclude`` (the checksum itself).
    Any edit of any other value, or of the order of a list, changes it."""
    doc = {k: v for k, v in document.items() if k not in exclude}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()
