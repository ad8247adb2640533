"""One autosave per running instance, and the recovery candidates they leave behind.

Two stratsim instances on one session (two SSH logins, two browser tabs through
``textual serve``) must never write the same autosave: the second would overwrite the
first's work, and recovering would restore the wrong run. Each instance therefore
*claims* an autosave slot of its session ``DIR/NAME.toml``:

* slot 1 is ``DIR/NAME.autosave.toml`` (:func:`stratsim.engine.session.autosave_path`,
  also what ``stratsim run --out`` writes), slot k > 1 is ``DIR/NAME.k.autosave.toml``;
* a new instance takes the first slot that is neither held nor holds a file (an autosave
  left behind is kept for recovery, never overwritten);
* a slot is held with an exclusive ``fcntl.flock`` on the hidden lock file
  ``DIR/.NAME[.k].autosave.toml.lock`` for as long as the instance runs. The kernel drops
  the lock when the process ends, however it ends (``kill -9`` included), so a lock is
  never stale. On a clean release the instance removes its lock file while it still
  holds the lock; an instance that opened the file just before and locks it afterwards
  finds that the path no longer names the file it locked and tries again
  (:func:`_try_lock` compares inodes), so removing it never lets two instances hold a
  slot.

:func:`recovery_candidates` lists the autosaves of a session that no live instance holds
and that are newer than the session, with the period, path count and save time each
holds, the one with the most work first (highest period, then newest), so the operator
can choose. Where ``fcntl`` does not exist (Windows) every instance uses slot 1,
as before. No torch import.
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .errors import SessionError
from .session import AUTOSAVE_SUFFIX, autosave_path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Slots tried before giving up (that many instances on one session at once).
MAX_SLOTS = 32


def slot_path(session: str | Path, slot: int) -> Path:
    """The autosave of ``session`` for slot ``slot`` (1: ``NAME.autosave.toml``, k:
    ``NAME.k.autosave.toml``)."""
    if slot == 1:
        return autosave_path(session)
    p = Path(session)
    return p.with_name(f"{p.stem}.{slot}{AUTOSAVE_SUFFIX}{p.suffix or '.toml'}")


def _lock_path(autosave: Path) -> Path:
    return autosave.with_name(f".{autosave.name}.lock")


def _try_lock(autosave: Path) -> int | None:
    """An fd holding the slot's lock, or None when another instance holds it.

    Raises:
        OSError: the lock file cannot be created (read-only folder, ...).
    """
    lock = _lock_path(autosave)
    for _ in range(8):
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except OSError:  # removed by its releasing holder meanwhile
            same = False
        if same:
            return fd
        os.close(fd)  # locked a file its holder removed on release: lock the new one
    return None


@dataclass
class AutosaveClaim:
    """The autosave slot this instance writes: ``path``; ``session`` is the session file
    it belongs to; ``slot`` its number. Release it with :meth:`release` (or exit)."""

    session: Path
    path: Path
    slot: int
    _fd: int | None = field(default=None, repr=False)

    @property
    def locked(self) -> bool:
        """True when the slot is held by a lock (False: no lock could be taken, e.g. a
        read-only folder, where the autosave will fail anyway, or no ``fcntl``)."""
        return self._fd is not None

    def release(self) -> None:
        """Let another instance use the slot and remove the lock file this instance
        created for it, while still holding the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(_lock_path(self.path))
            with contextlib.suppress(OSError):
                os.close(fd)


def claim_autosave(session: str | Path) -> AutosaveClaim:
    """Claim the first autosave slot of ``session`` that no live instance holds and whose
    file does not exist: an autosave left by an instance that ended (a lost connection,
    a crash) is a recovery candidate and is never overwritten by a new instance.

    Raises:
        SessionError: :data:`MAX_SLOTS` instances already hold one.
    """
    p = Path(session)
    if fcntl is None:
        return AutosaveClaim(p, slot_path(p, 1), 1)
    for k in range(1, MAX_SLOTS + 1):
        auto = slot_path(p, k)
        try:
            fd = _try_lock(auto)
        except OSError:  # no lock file possible here: write slot 1, its errors are reported
            return AutosaveClaim(p, slot_path(p, 1), 1)
        if fd is not None and (auto.exists() or auto.is_symlink()):
            with contextlib.suppress(OSError):  # the lock file this probe created
                os.unlink(_lock_path(auto))
            os.close(fd)  # free, but it holds an autosave to recover: keep it as it is
        elif fd is not None:
            return AutosaveClaim(p, auto, k, fd)
    raise SessionError(
        f"{p}: {MAX_SLOTS} stratsim instances already autosave this session; close one"
    )


def held_elsewhere(autosave: Path) -> bool:
    """True when a live instance (another process, or another claim in this one) holds
    the slot of ``autosave``."""
    if fcntl is None or not _lock_path(autosave).exists():
        return False
    try:
        fd = _try_lock(autosave)
    except OSError:
        return False
    if fd is None:
        return True
    with contextlib.suppress(OSError):  # nobody holds it: leave no lock file behind
        os.unlink(_lock_path(autosave))
    os.close(fd)
    return False


@dataclass(frozen=True)
class RecoveryCandidate:
    """An autosave that could be recovered: ``path``; ``period`` (months simulated),
    ``n_paths`` (Monte-Carlo paths, ``[run].n_paths``) and ``saved`` (``[meta].saved``)
    read from it (None when unreadable: loading it then says why); ``mtime`` its
    modification time (seconds since the epoch)."""

    path: Path
    period: int | None
    saved: datetime | None
    mtime: float
    n_paths: int | None = None

    def describe(self) -> str:
        """``Period 8, 1,000,000 paths, saved 2026-11-30 14:02:10 (plan.autosave.toml)``
        (local time)."""
        when = datetime.fromtimestamp(self.mtime).strftime("%Y-%m-%d %H:%M:%S")
        if self.saved is not None:
            when = self.saved.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        period = f"Period {self.period}" if self.period is not None else "unreadable"
        paths = f", {self.n_paths:,} paths" if self.n_paths is not None else ""
        return f"{period}{paths}, saved {when} ({self.path.name})"


def _read_candidate(path: Path, mtime: float) -> RecoveryCandidate:
    period = saved = n_paths = None
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
        run, meta = doc.get("run", {}), doc.get("meta", {})
        if isinstance(run.get("period"), int) and not isinstance(run.get("period"), bool):
            period = run["period"]
        if isinstance(meta.get("saved"), datetime):
            saved = meta["saved"]
        if isinstance(run.get("n_paths"), int) and not isinstance(run.get("n_paths"), bool):
            n_paths = run["n_paths"]
    except (OSError, ValueError, RecursionError, AttributeError):
        pass
    return RecoveryCandidate(path, period, saved, mtime, n_paths)


def recovery_candidates(session: str | Path, own: Path | None = None) -> list[RecoveryCandidate]:
    """Autosaves of ``session`` to offer for recovery, the one with the most work first
    (highest period, then newest; unreadable ones last): each slot's file that is newer
    than the session (or the session does not exist) and that no live instance
    holds (``own``, this instance's slot, is listed even though it holds it)."""
    p = Path(session)
    try:
        session_mtime = p.stat().st_mtime_ns
    except OSError:
        session_mtime = None
    pattern = re.compile(
        re.escape(p.stem)
        + r"(\.(\d+))?"
        + re.escape(AUTOSAVE_SUFFIX + (p.suffix or ".toml"))
        + r"$"
    )
    found: list[tuple[int, RecoveryCandidate]] = []
    try:
        names = os.listdir(p.parent if str(p.parent) else ".")
    except OSError:
        return []
    for name in names:
        m = pattern.fullmatch(name)
        if m is None:
            continue
        auto = p.with_name(name)
        if auto == p:
            continue
        try:
            st = auto.stat()
        except OSError:
            continue
        if session_mtime is not None and st.st_mtime_ns <= session_mtime:
            continue
        if (own is None or auto != own) and held_elsewhere(auto):
            continue
        found.append((st.st_mtime_ns, _read_candidate(auto, st.st_mtime)))

    def most_work(t: tuple[int, RecoveryCandidate]) -> tuple[int, int]:
        return (-(t[1].period if t[1].period is not None else -1), -t[0])

    return [c for _, c in sorted(found, key=most_work)]
