"""Durable file writes and checksums shared by sessions, model files and data import."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
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

    Keeps the permission bits of an existing target (new files: 0o666 minus the umask).
    A symlinked target is written through (the link stays).

    Raises:
        OSError: the folder does not exist or is not writable, disk full, ... (the target
            is then unchanged and the temporary file removed). Callers turn it into their
            own error type.
    """
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    folder = target.parent
    mode = target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
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
    _fsync_dir(folder)


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
