"""Safe output files: what each kind of file stratsim writes looks like
(:class:`OutputKind`), the checks before writing (links, folders, files that are not
ours), atomic writes and checksums (reading and TOML parsing are :mod:`stratsim.engine.fileio`)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import StratsimError
from .fileio import (
    MAX_RECOGNIZE_BYTES,
    OutputError,
    printable,
    read_toml,
)

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


def toml_kind(
    name: str, has: Callable[[dict[str, Any]], bool], head: re.Pattern[str] | None = None
) -> OutputKind:
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


def stat_path(
    path: str | Path, error: type[StratsimError], what: str = "path"
) -> os.stat_result | None:
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


def check_output(
    path: str | Path, kind: OutputKind | None, *, force: bool = False, probe: bool = True
) -> Path:
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
        raise OutputError(
            f"{shown}: cannot use this path: {reason}: expected a writable file path", p, False
        ) from None
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
        if (
            exc.errno == errno.ENOENT
        ):  # the folder exists (checked above) but takes no files: /proc, /sys
            reason = "the folder does not take new files (a system or virtual folder)"
        raise OutputError(
            f"{shown}: cannot write in folder {printable(folder)}: {reason}", p, False
        ) from None
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
    text = json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False, default=str
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()
