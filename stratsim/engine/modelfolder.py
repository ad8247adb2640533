"""Writing a model folder completely or not at all.

A trained model is a pair of files (``ROLE.pt`` and ``ROLE.toml``) that must match; a
crash, a full disk or an encoding error between the two would leave a folder that
cannot be used. :func:`write_model_files` therefore builds the new folder as a
temporary sibling (``.NAME.XXXX.tmp`` beside it), holding the new files plus hard links
to (or copies of) the other files already in the folder, flushes it, and swaps it in:

* a folder that does not exist yet appears with one ``rename``;
* an existing folder is exchanged atomically with ``renameat2(RENAME_EXCHANGE)`` on
  Linux, else by two renames (old folder aside, new folder in) -- the window between
  them is two system calls, and the old folder is kept under its temporary name until
  the new one is in place;
* an existing folder that holds sub-folders, links or special files (``--out .`` in a
  project folder) is not swapped: each file is replaced atomically on its own (a
  temporary file renamed over the name: a link at that name is replaced, never written
  through), weights first, so an interruption leaves a pair that fails the sha256 check
  and is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .outputs import current_umask, fsync_dir, temp_prefix

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2``); False when unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def write_model_files(directory: str | Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` (name -> bytes, in order) into ``directory`` all together or not
    at all (see the module docstring); other files in the folder are kept.

    Raises:
        OSError: the folder or its parent cannot be written (nothing is changed then).
    """
    d = Path(os.path.abspath(directory))
    if d.exists() and (d.is_symlink() or not d.is_dir()):
        raise NotADirectoryError(20, "not a folder", str(directory))
    others = [e for e in d.iterdir() if e.name not in files] if d.exists() else []
    if any(e.is_symlink() or not e.is_file() for e in others):
        for name, blob in files.items():
            _replace_file(d, name, blob)
        fsync_dir(d)
        return
    d.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=d.parent, prefix=temp_prefix(d.name), suffix=".tmp"))
    try:
        for e in others:
            try:
                os.link(e, tmp / e.name)
            except OSError:
                shutil.copy2(e, tmp / e.name)
        for name, blob in files.items():
            with open(tmp / name, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
        if d.exists():
            os.chmod(tmp, d.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o777 & ~current_umask())
        fsync_dir(tmp)
        if not d.exists():
            os.rename(tmp, d)
        elif _exchange(tmp, d):
            shutil.rmtree(tmp, ignore_errors=True)  # now holds the old folder
        else:
            aside = Path(tempfile.mkdtemp(dir=d.parent, prefix=temp_prefix(d.name), suffix=".old"))
            os.rmdir(aside)
            os.rename(d, aside)
            os.rename(tmp, d)
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(d.parent)


def _replace_file(folder: Path, name: str, blob: bytes) -> None:
    """Write ``folder/name`` by renaming a flushed temporary file over it."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=temp_prefix(name), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
