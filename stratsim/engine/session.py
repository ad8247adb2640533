"""Sessions: a run saved to TOML, reloaded to exactly where it was (DESIGN.md section 3).

A session file stands alone: it holds the full scenario, the run's settings, every
decision taken so far, the KPI history shown to the operator, and references to the
trained model files it used. Reloading re-simulates the decisions from the seed
(:meth:`Simulation.replay`), so the reloaded simulation is bit-identical to the saved one
on the same device and dtype, and the next period is the same as if it had never been
saved.

File layout (schema version 2, :data:`SCHEMA_VERSION`)::

    schema_version = 2
    [meta]      name (str), created, saved (TOML offset date-times, UTC; an ISO 8601
                string with an offset is accepted on load), app_version (str)
    [run]       seed (int), n_paths (int), dtype ("float32"|"float64"),
                device ("cpu"|"cuda"|"mps", the device the run used), policy
                ("manual"|"fixed"|"feedback"), period (int, months simulated)
    [run.next_decision]   the allocation held for the next period (the manual policy's
                current allocation; Decision.to_dict())
    [models.satisfaction] / [models.privacy]   only for trained models: path (relative to
                the session file's folder), sha256 (hex of the file), kind, metrics
                (table of numbers; metrics that are undefined, e.g. NaN ROC-AUC with one
                class, are listed in ``undefined_metrics`` instead). The shipped default
                models are omitted.
    [scenario]  every parameter, Scenario.to_dict(); uncertain ones as tables
    [[decisions]]  one per period: period (1-based) + Decision.to_dict()
    [[history]]    one per period: period + one table per KPI {mean, p10, p50, p90}
    [[optimizations]]  optional: one per optimization run (``stratsim optimize``, the
                   Advise tab): period, settings (method, levers, seed, ...), the
                   recommendation and its evaluation (Recommendation.record()); kept as
                   written. Files without it load unchanged.

Schema version 1 (the first format) differs in three ways and is migrated on load by
:func:`stratsim.engine.session_migrate.migrate`: no ``meta.app_version``, ``run.paths``
instead of ``run.n_paths``, and each decision's splits flattened into
``c_split_product, c_split_ux, ...`` keys. A file with a newer schema version than this
program reads is refused.

Public API (the TUI and the CLI use only these):

* :func:`save_session` ``(sim, path, *, name=None, created=None, force=False) -> Path``:
  atomic save (temporary file in the same folder, flush, ``os.fsync``, ``os.replace``,
  fsync of the folder): a crash at any moment leaves the old file or the new one, never a
  broken one. A symbolic link or an existing file that is not a session
  (:data:`SESSION_FILE`) is refused (:class:`~stratsim.engine.fileio.OutputError`) unless
  ``force``; ask first with :func:`stratsim.engine.fileio.output_problem`.
  A crash may leave a stray ``.NAME.toml.*.tmp`` file in the folder; it is never read.
* :func:`load_session` ``(path, *, allow_external_models=False, device=None) ->
  LoadedSession``: validate, migrate, check model files, rebuild and replay; nothing is
  returned half-built. :class:`LoadedSession` has ``.simulation``, ``.meta``,
  ``.stored_history``, ``.warnings``, ``.matches`` and ``.first_difference()``.
* :func:`read_session` ``(path, ...) -> SessionData``: validation only, no replay
  (used by ``stratsim export``).
* :func:`autosave_path` ``(path)``: ``DIR/NAME.autosave.toml`` for ``DIR/NAME.toml``;
  :func:`autosave` ``(sim, path, ...)`` saves there (call it after every period stepped);
  :func:`find_recovery` ``(path) -> Path | None``: an autosave newer than its session (or
  one whose session does not exist), to offer for recovery on start;
  :func:`discard_autosave` ``(path)`` removes it after an explicit save.
* :func:`snapshot` ``(sim) -> SessionSnapshot``: a consistent copy to autosave while a
  worker replays ``sim`` (what a signal handler should save then).
* :func:`install_signal_autosave` ``(get_simulation, path, ...) -> SignalAutosave``:
  on SIGHUP (lost SSH connection) and SIGTERM, autosave then exit with status
  128 + signal number (or call ``on_saved``); ``.uninstall()`` restores the previous
  handlers. Must be called from the main thread.
* :func:`decisions_frame` ``(decisions) -> DataFrame``: decisions as a flat table.

Errors: every problem with a file is a :class:`~stratsim.engine.errors.SessionError`
whose message names the file, the key path (``decisions[3].c_split.ux``: the third
``[[decisions]]`` table, counting from 1), the value and the expectation. An unknown key is
not an error: it is reported in ``LoadedSession.warnings`` (the TUI logs them, the CLI
prints them). Values that TOML cannot hold (NaN, infinities, integers outside 64 bits)
are refused on save, naming the key path, before anything is written.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from . import fileio
from .decisions import DECISION_KEYS, SPLIT_KEYS, Decision
from .device import DEVICES, DTYPES
from .errors import ScenarioError, SessionError, StratsimError
from .kpi import KPIS, OPTIONAL_KPIS, PROBABILITY_KPIS, STATS, Summary
from .policies import POLICIES
from .scenario import Scenario, scenario_from_dict

if TYPE_CHECKING:
    import pandas as pd

    from .simulation import Simulation

SCHEMA_VERSION = 3
AUTOSAVE_SUFFIX = ".autosave"
#: Model roles in ``[models]``: role -> Simulation attribute.
MODEL_ROLES = {"satisfaction": "satisfaction_model", "privacy": "incident_model"}
#: Relative tolerance of :meth:`LoadedSession.first_difference` (absorbs float formatting;
#: TOML floats written by tomli-w round-trip exactly, so a same-device replay differs by 0).
DEFAULT_REL_TOL = 1e-9
_INT64 = (-(2**63), 2**63 - 1)
#: Output kind of session files and autosaves: an existing file is replaced without
#: ``force`` only when it is a stratsim session (``schema_version`` plus ``[meta]`` and
#: ``[run]`` tables; fast path: the layout :func:`save_session` writes).
SESSION_FILE = fileio.toml_kind(
    "session file",
    lambda d: isinstance(d.get("schema_version"), int) and isinstance(d.get("meta"), dict) and isinstance(d.get("run"), dict),
    re.compile(r"\A(?:[ \t]*(?:#[^\n]*)?\n)*schema_version = \d+\n\n\[meta\]\n"),
)
_SAVED_DEVICES = tuple(d for d in DEVICES if d != "auto")


# =============================================================================== data


@dataclass(frozen=True)
class SessionMeta:
    """``[meta]`` of a session, plus the schema version the file was written in."""

    name: str
    created: datetime
    saved: datetime
    app_version: str
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True)
class ModelRef:
    """One ``[models.ROLE]`` table; ``file`` is the resolved absolute path."""

    role: str
    path: str
    file: Path
    sha256: str
    kind: str
    metrics: dict[str, float] = field(default_factory=dict)
    undefined_metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionData:
    """A validated (and migrated) session file, before any simulation is built."""

    path: Path
    meta: SessionMeta
    scenario: Scenario
    seed: int
    n_paths: int
    dtype: str
    device: str
    policy: str
    period: int
    decisions: list[Decision]
    next_decision: Decision
    history: list[Summary]
    models: dict[str, ModelRef]
    warnings: list[str]
    optimizations: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Difference:
    """First place where a replayed history differs from the stored one."""

    period: int
    kpi: str
    stat: str
    stored: float | None
    replayed: float | None

    def __str__(self) -> str:
        if self.stored is None or self.replayed is None:
            side = "stored history" if self.stored is None else "replay"
            return f"period {self.period}, KPI {self.kpi}: missing from the {side}"
        rel = abs(self.stored - self.replayed) / max(abs(self.stored), abs(self.replayed), 1e-300)
        return (
            f"period {self.period}, KPI {self.kpi} ({self.stat}): stored {self.stored!r}, "
            f"replayed {self.replayed!r} (relative difference {rel:.3g})"
        )


@dataclass
class LoadedSession:
    """A session rebuilt by :func:`load_session`.

    Attributes:
        path: the session file.
        simulation: the rebuilt :class:`Simulation`, at period ``len(stored_history)``.
        meta: ``[meta]`` (name, created, saved, app_version, schema_version as read).
        stored_history: the ``[[history]]`` of the file (one Summary per period).
        replayed_history: the history the replay produced at load time (a snapshot: the
            simulation may be stepped afterwards).
        warnings: unknown keys, device fallback, migration notes, a replay that differs
            from the stored history (human-readable lines, for the TUI's log).
        data: the validated file contents.
    """

    path: Path
    simulation: Simulation
    meta: SessionMeta
    stored_history: list[Summary]
    replayed_history: list[Summary]
    warnings: list[str]
    data: SessionData

    def first_difference(self, rel_tol: float = DEFAULT_REL_TOL) -> Difference | None:
        """The first (period, KPI, statistic) where the replay differs from the stored
        history by more than ``rel_tol`` (relative), or None when they agree."""
        return compare_histories(self.stored_history, self.replayed_history, rel_tol)

    @property
    def matches(self) -> bool:
        """True when the replayed history equals the stored one (within 1e-9 relative)."""
        return self.first_difference() is None


def compare_histories(stored: list[Summary], replayed: list[Summary], rel_tol: float = DEFAULT_REL_TOL) -> Difference | None:
    """First difference between two histories (periods 1-based), or None.

    A KPI present on one side only, or a different number of periods, is a difference.
    Values agree when equal or ``abs(a - b) <= rel_tol * max(abs(a), abs(b))``.
    """
    for i in range(max(len(stored), len(replayed))):
        if i >= len(stored) or i >= len(replayed):
            which = stored if i < len(stored) else replayed
            kpi = next(iter(which[i]), "(all)")
            return Difference(i + 1, kpi, "mean", None if i >= len(stored) else which[i][kpi]["mean"], None if i >= len(replayed) else which[i][kpi]["mean"])
        s, r = stored[i], replayed[i]
        for kpi in [*r, *(k for k in s if k not in r)]:
            if kpi not in s or kpi not in r:
                return Difference(i + 1, kpi, "mean", s[kpi]["mean"] if kpi in s else None, r[kpi]["mean"] if kpi in r else None)
            for stat in STATS:
                a, b = s[kpi][stat], r[kpi][stat]
                if math.isnan(a) and math.isnan(b):
                    continue
                if a != b and not math.isclose(a, b, rel_tol=rel_tol, abs_tol=0.0):
                    return Difference(i + 1, kpi, stat, a, b)
    return None


# =============================================================================== save


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


_NA_KPIS = PROBABILITY_KPIS | OPTIONAL_KPIS


def _check_toml_values(value: Any, key: str, target: Path) -> None:
    """Refuse what TOML cannot hold (NaN, inf, ints beyond 64 bits), naming the key path."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_toml_values(v, f"{key}.{k}" if key else str(k), target)
    elif isinstance(value, list):
        for i, v in enumerate(value, start=1):
            _check_toml_values(v, f"{key}[{i}]", target)
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SessionError(
                f"{fileio.printable(target)}: cannot save: key {key}: value {fileio.printable(value)!r}: "
                "not valid UTF-8 text (a file name with non-UTF-8 bytes? rename it)"
            ) from None
    elif isinstance(value, bool | datetime):
        return
    elif isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise SessionError(f"{target}: cannot save: key {key}: value {value!r}: TOML integers hold 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise SessionError(f"{target}: cannot save: key {key}: value {value!r}: TOML files hold only finite numbers here")
    else:
        raise SessionError(f"{target}: cannot save: key {key}: value {value!r} of type {type(value).__name__}: not a TOML value")


def _is_default_model(model: Any, role: str) -> bool:
    from .models import LinearSatisfaction, LogisticIncident

    return model == (LinearSatisfaction() if role == "satisfaction" else LogisticIncident())


def _model_file_info(model: Any, role: str) -> tuple[Path, str, str, dict[str, Any]]:
    """(weights file, sha256, kind, metrics) of a trained model loaded from a file.

    Reads what :class:`stratsim.engine.trained.TrainedModel` carries: ``path`` (the
    weights file ``DIR/ROLE.pt``, set by ``trained``
    itself), ``sha256`` or ``metadata["weights_sha256"]``, ``kind``, ``metrics``.

    Raises:
        SessionError: the model has no file to reference (trained in memory, not saved).
    """
    meta = getattr(model, "metadata", None) or {}
    path = getattr(model, "path", None) or getattr(model, "weights_path", None)
    sha = getattr(model, "sha256", None) or meta.get("weights_sha256")
    if not path or not isinstance(sha, str) or not sha:
        desc = getattr(model, "description", type(model).__name__)
        raise SessionError(
            f"cannot save the {role} model {desc!r} in a session: it was not loaded from a "
            "model file (save it with `stratsim train --out DIR`, or trained.save_model, and load it from there)"
        )
    kind = str(getattr(model, "kind", "") or type(model).__name__)
    metrics = getattr(model, "metrics", None) or {}
    return Path(path), sha, kind, dict(metrics)


def _models_table(sim: Simulation, target: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    base = target.resolve().parent
    for role, attr in MODEL_ROLES.items():
        model = getattr(sim, attr)
        if _is_default_model(model, role):
            continue
        file, sha, kind, metrics = _model_file_info(model, role)
        try:
            rel = os.path.relpath(file.resolve(), base)
        except ValueError:  # another drive (Windows): keep the absolute path
            rel = str(file.resolve())
        good, undefined = {}, []
        for k, v in metrics.items():
            if isinstance(v, bool) or not isinstance(v, int | float):
                continue  # tables such as a reliability table stay in the model's own metadata
            if math.isfinite(v):
                good[str(k)] = float(v) if isinstance(v, float) else v
            else:
                undefined.append(str(k))
        table: dict[str, Any] = {"path": Path(rel).as_posix(), "sha256": sha, "kind": kind, "metrics": good}
        if undefined:
            table["undefined_metrics"] = undefined
        recipe = ((getattr(model, "metadata", None) or {}).get("data") or {}).get("recipe")
        if isinstance(recipe, dict) and recipe:
            table["recipe"] = recipe  # the model's data preparation, for review (data.py)
        out[role] = table
    return out


def session_document(sim: Simulation, path: str | Path, *, name: str | None = None, created: datetime | None = None, saved: datetime | None = None) -> dict[str, Any]:
    """The TOML document (a plain dict) of ``sim`` saved at ``path``.

    ``name`` defaults to the file's stem, ``created`` and ``saved`` to now (UTC).
    Decisions and history are cut to the shorter of the two (a signal can arrive between
    the two appends of a step).

    Raises:
        SessionError: a value TOML cannot hold (NaN, inf), naming the key path; a model
            that was not loaded from a file; per-path scenario overrides (a sweep, not a
            session: the file could not replay them).
    """
    target = Path(path)
    if getattr(sim, "overrides", None):
        raise SessionError(f"{target}: cannot save: the simulation has per-path overrides of {', '.join(sorted(sim.overrides))}; a session replays the scenario alone")
    n = min(len(sim.decisions), len(sim.history))
    saved = saved or _now()
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "meta": {
            "name": name if name is not None else _base_name(target),
            "created": created or saved,
            "saved": saved,
            "app_version": __version__,
        },
        "run": {
            "seed": sim.seed,
            "n_paths": sim.n_paths,
            "dtype": sim.dtype_name,
            "device": sim.device.type,
            "policy": sim.policy_name,
            "period": n,
            "next_decision": sim.decision.to_dict(),
        },
    }
    models = _models_table(sim, target)
    if models:
        doc["models"] = models
    doc["scenario"] = sim.scenario.to_dict()
    doc["decisions"] = [{"period": i + 1, **d.to_dict()} for i, d in enumerate(sim.decisions[:n])]
    # n/a statistics (NaN: quantiles of a probability, a CAC without acquisitions) are omitted.
    doc["history"] = [
        {"period": i + 1, **{k: {s: x for s, x in v.items() if not (math.isnan(x) and k in _NA_KPIS)} for k, v in h.items()}}
        for i, h in enumerate(sim.history[:n])
    ]
    if getattr(sim, "optimizations", None):
        doc["optimizations"] = list(sim.optimizations)
    _check_toml_values(doc, "", target)
    return doc


def _base_name(path: Path) -> str:
    """The session name a file gives by default: its stem without ``.autosave``, as
    printable text (bytes of a non-UTF-8 name as ``\\xe9``: TOML holds only UTF-8)."""
    stem = path.stem
    return fileio.printable(stem.removesuffix(AUTOSAVE_SUFFIX) or stem)


def atomic_write_bytes(path: str | Path, data: bytes, *, force: bool = False) -> None:
    """:func:`stratsim.engine.fileio.write_bytes` of a :data:`SESSION_FILE`, with OS
    errors as SessionError.

    Raises:
        OutputError: ``path`` is a symbolic link or an existing file that is not a
            session, and not ``force`` (nothing written).
        SessionError: the folder does not exist or is not writable, disk full, ... (the
            target is then unchanged).
    """
    try:
        fileio.write_bytes(path, data, SESSION_FILE, force=force)
    except OSError as exc:
        raise SessionError(f"{fileio.printable(path)}: cannot save: {exc.strerror or exc}") from None


def save_session(sim: Simulation, path: str | Path, *, name: str | None = None, created: datetime | None = None, force: bool = False) -> Path:
    """Save ``sim`` to ``path`` atomically (see :func:`atomic_write_bytes`).

    Args:
        sim: the simulation (its scenario, seed, decisions, history, models).
        path: the session file; trained model paths are stored relative to its folder.
        name: ``[meta].name`` (default: the file's stem without ``.autosave``).
        created: ``[meta].created`` (default: now); pass the loaded session's to keep it.
        force: replace ``path`` even when it is a symbolic link (the link itself is
            replaced, never its target) or a file that is not a stratsim session (ask
            the user first: :func:`stratsim.engine.fileio.output_problem`).

    Returns:
        the path written.

    Raises:
        OutputError: ``path`` is a link or a foreign file and not ``force``.
        SessionError: a value TOML cannot hold (nothing is written), a model with no
            file, or an OS error (the previous file is kept).
    """
    import tomli_w

    target = Path(path)
    doc = session_document(sim, target, name=name, created=created)
    atomic_write_bytes(target, tomli_w.dumps(doc).encode("utf-8"), force=force)
    return target


# =========================================================================== autosave


@dataclass(frozen=True)
class SessionSnapshot:
    """A consistent copy of what :func:`session_document` reads from a simulation, taken
    on the thread that owns it (see :func:`snapshot`); saveable wherever a Simulation is.

    A signal can arrive while a worker thread replays the simulation (undo, restoring a
    branch, a new model: the decisions and history are reset, then rebuilt period by
    period); an autosave of the live object would then hold a half-replayed run. Saving
    the snapshot taken before the replay keeps the last consistent state instead.
    """

    seed: int
    n_paths: int
    dtype_name: str
    device: Any
    policy_name: str
    decision: Decision
    satisfaction_model: Any
    incident_model: Any
    scenario: Scenario
    decisions: tuple[Decision, ...]
    history: tuple[Summary, ...]

    @property
    def period(self) -> int:
        """Months simulated (the number of complete periods kept)."""
        return min(len(self.decisions), len(self.history))


def snapshot(sim: Simulation) -> SessionSnapshot:
    """A :class:`SessionSnapshot` of ``sim`` (lists copied; decisions, summaries and models
    are not mutated after a step, so they are shared). Cost: O(periods), no tensor copy."""
    return SessionSnapshot(
        seed=sim.seed,
        n_paths=sim.n_paths,
        dtype_name=sim.dtype_name,
        device=sim.device,
        policy_name=sim.policy_name,
        decision=sim.decision,
        satisfaction_model=sim.satisfaction_model,
        incident_model=sim.incident_model,
        scenario=sim.scenario,
        decisions=tuple(sim.decisions),
        history=tuple(sim.history),
    )



def autosave_path(path: str | Path) -> Path:
    """The autosave sibling of a session file: ``DIR/NAME.toml`` -> ``DIR/NAME.autosave.toml``."""
    p = Path(path)
    if p.stem.endswith(AUTOSAVE_SUFFIX):
        return p
    return p.with_name(f"{p.stem}{AUTOSAVE_SUFFIX}{p.suffix or '.toml'}")


def autosave(sim: Simulation, path: str | Path, *, name: str | None = None, created: datetime | None = None, force: bool = False) -> Path:
    """Save ``sim`` to :func:`autosave_path` of the session ``path`` (atomically).

    Call after every period stepped. Returns the autosave path.

    Raises:
        OutputError, SessionError: as :func:`save_session` (``force`` likewise).
    """
    p = Path(path)
    return save_session(sim, autosave_path(p), name=name if name is not None else _base_name(p), created=created, force=force)


def find_recovery(path: str | Path) -> Path | None:
    """The autosave of session ``path`` when it is newer than the session (modification
    time) or the session does not exist, else None. The autosave is not validated:
    load it with :func:`load_session` to do so."""
    p = Path(path)
    auto = autosave_path(p)
    if auto == p:
        return None
    try:
        auto_mtime = auto.stat().st_mtime_ns
    except OSError:
        return None
    try:
        return auto if auto_mtime > p.stat().st_mtime_ns else None
    except OSError:
        return auto


def discard_autosave(path: str | Path) -> None:
    """Remove the autosave of session ``path`` (after an explicit save); no error if absent."""
    auto = autosave_path(path)
    if auto != Path(path):
        with contextlib.suppress(FileNotFoundError):
            auto.unlink()


class SignalAutosave:
    """Autosave on SIGHUP / SIGTERM, then exit; made by :func:`install_signal_autosave`.

    The handler calls ``get_simulation()``; when it returns a simulation, that is saved
    with :func:`autosave` (errors are printed to stderr if it still exists, never raised).
    Then ``on_saved(signum)`` is called if given (e.g. the TUI's clean exit); otherwise
    the previous handlers are restored and ``SystemExit(128 + signum)`` is raised (the
    shell's convention for death by a signal: 129 for SIGHUP, 143 for SIGTERM).
    """

    def __init__(
        self,
        get_simulation: Callable[[], Simulation | None],
        path: str | Path,
        *,
        name: str | None = None,
        created: datetime | None = None,
        signals: tuple[int, ...] | None = None,
        on_saved: Callable[[int], Any] | None = None,
    ) -> None:
        self.get_simulation = get_simulation
        self.path = Path(path)
        self.name = name
        self.created = created
        self.signals = signals if signals is not None else default_autosave_signals()
        self.on_saved = on_saved
        self.last_saved: Path | None = None
        self._previous: dict[int, Any] = {}
        self._busy = False

    def install(self) -> SignalAutosave:
        """Install the handlers (main thread only; ValueError otherwise)."""
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def uninstall(self) -> None:
        """Restore the handlers that were there before :meth:`install`."""
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    def __enter__(self) -> SignalAutosave:
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def _handle(self, signum: int, frame: object) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            sim = self.get_simulation()
            if sim is not None:
                self.last_saved = autosave(sim, self.path, name=self.name, created=self.created)
        except Exception as exc:  # a failed autosave must not hide the signal
            with contextlib.suppress(Exception):
                print(f"stratsim: autosave on {signal.Signals(signum).name} failed: {exc}", file=sys.stderr)
        finally:
            self._busy = False
        if self.on_saved is not None:
            self.on_saved(signum)
            return
        self.uninstall()
        raise SystemExit(128 + signum)


def default_autosave_signals() -> tuple[int, ...]:
    """SIGHUP (lost terminal/SSH connection) where the platform has it, and SIGTERM."""
    return tuple(s for s in (getattr(signal, "SIGHUP", None), signal.SIGTERM) if s is not None)


def install_signal_autosave(
    get_simulation: Callable[[], Simulation | None],
    path: str | Path,
    *,
    name: str | None = None,
    created: datetime | None = None,
    signals: tuple[int, ...] | None = None,
    on_saved: Callable[[int], Any] | None = None,
) -> SignalAutosave:
    """Autosave the simulation returned by ``get_simulation()`` to ``autosave_path(path)``
    on SIGHUP and SIGTERM, then exit with 128 + signum (or call ``on_saved(signum)``).

    Returns the installed :class:`SignalAutosave`; call ``.uninstall()`` (or use it as a
    context manager) to restore the previous handlers.

    Raises:
        ValueError: not called from the main thread (a limit of :func:`signal.signal`).
    """
    return SignalAutosave(get_simulation, path, name=name, created=created, signals=signals, on_saved=on_saved).install()


# =============================================================================== load


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return f"an array of {len(value)} item(s)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Validator:
    """Typed access to a parsed TOML document; errors name file, key path, value, expectation."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.warnings: list[str] = []

    def error(self, key: str, value: Any, expected: str) -> SessionError:
        return SessionError(f"{self.source}: key {key}: value {_show(value)}: expected {expected}")

    def missing(self, key: str, expected: str) -> SessionError:
        return SessionError(f"{self.source}: key {key} is missing: expected {expected}")

    def unknown(self, table: dict[str, Any], known: tuple[str, ...] | set[str], prefix: str) -> None:
        for k in table:
            if k not in known:
                where = f"{prefix}.{k}" if prefix else k
                self.warnings.append(f"{self.source}: unknown key {where} ignored")

    def get(self, table: dict[str, Any], key: str, prefix: str, expected: str, required: bool = True) -> Any:
        full = f"{prefix}.{key}" if prefix else key
        if key not in table:
            if required:
                raise self.missing(full, expected)
            return None
        return table[key]

    def table(self, table: dict[str, Any], key: str, prefix: str, required: bool = True) -> dict[str, Any] | None:
        value = self.get(table, key, prefix, "a table", required)
        if value is None and not required:
            return None
        if not isinstance(value, dict):
            raise self.error(f"{prefix}.{key}" if prefix else key, value, "a table")
        return value

    def int_(self, table: dict[str, Any], key: str, prefix: str, lo: int, hi: int) -> int:
        full = f"{prefix}.{key}" if prefix else key
        expected = f"an integer in {lo}..{hi}"
        value = self.get(table, key, prefix, expected)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.error(full, value, expected)
        return value

    def str_(self, table: dict[str, Any], key: str, prefix: str, choices: tuple[str, ...] | None = None) -> str:
        full = f"{prefix}.{key}" if prefix else key
        expected = f"one of {', '.join(repr(c) for c in choices)}" if choices else "a string"
        value = self.get(table, key, prefix, expected)
        if not isinstance(value, str) or (choices is not None and value not in choices):
            raise self.error(full, value, expected)
        return value

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(key, value, "a finite number")
        return float(value)

    def time(self, table: dict[str, Any], key: str, prefix: str) -> datetime:
        full = f"{prefix}.{key}"
        expected = "a date-time with a UTC offset, e.g. 2025-01-31T09:00:00Z"
        value = self.get(table, key, prefix, expected)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise self.error(full, value, expected) from None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise self.error(full, value, expected)
        return value


_TOP_KEYS = ("schema_version", "meta", "run", "models", "scenario", "decisions", "history", "optimizations")
_META_KEYS = ("name", "created", "saved", "app_version")
_RUN_KEYS = ("seed", "n_paths", "dtype", "device", "policy", "period", "next_decision")
_MODEL_KEYS = ("path", "sha256", "kind", "metrics", "undefined_metrics", "recipe")


def _parse_toml(path: Path) -> dict[str, Any]:
    return fileio.read_toml(path, SessionError, "session file")


def _strip_unknown_scenario_keys(data: dict[str, Any], v: _Validator) -> dict[str, Any]:
    """Copy of the scenario table without unknown keys (each one a warning)."""
    out: dict[str, Any] = {}
    fields = Scenario.model_fields
    for key, value in data.items():
        if key not in fields:
            v.warnings.append(f"{v.source}: unknown key scenario.{key} ignored")
            continue
        annotation = fields[key].annotation
        sub_fields = getattr(annotation, "model_fields", None)
        if isinstance(value, dict) and sub_fields is not None:
            kept = {}
            for k, x in value.items():
                if k in sub_fields:
                    kept[k] = x
                else:
                    v.warnings.append(f"{v.source}: unknown key scenario.{key}.{k} ignored")
            out[key] = kept
        else:
            out[key] = value
    return out


def _scenario(data: dict[str, Any], v: _Validator) -> Scenario:
    table = v.table(data, "scenario", "")
    assert table is not None
    cleaned = _strip_unknown_scenario_keys(table, v)
    try:
        return scenario_from_dict(cleaned, v.source)
    except ScenarioError as exc:
        raise SessionError(str(exc).replace(f"{v.source}: key ", f"{v.source}: key scenario.")) from None


def _decision(table: Any, key: str, v: _Validator, extra_keys: tuple[str, ...] = ()) -> Decision:
    if not isinstance(table, dict):
        raise v.error(key, table, "a table of decision values")
    known = (*DECISION_KEYS, *extra_keys)
    v.unknown(table, known, key)
    values = {}
    for k in DECISION_KEYS:
        if k not in table:
            raise v.missing(f"{key}.{k}", "a number" if not k.endswith("split") else f"a table of {', '.join(SPLIT_KEYS)}")
        x = table[k]
        if k.endswith("split"):
            if not isinstance(x, dict):
                raise v.error(f"{key}.{k}", x, f"a table of {', '.join(SPLIT_KEYS)}")
            v.unknown(x, SPLIT_KEYS, f"{key}.{k}")
            for sk in SPLIT_KEYS:
                if sk not in x:
                    raise v.missing(f"{key}.{k}.{sk}", "a fraction in 0..1")
                v.number(x[sk], f"{key}.{k}.{sk}")
            x = {sk: x[sk] for sk in SPLIT_KEYS}
        else:
            v.number(x, f"{key}.{k}")
        values[k] = x
    try:
        return Decision.from_dict(values, f"{v.source}: key {key}")
    except StratsimError as exc:
        raise SessionError(str(exc)) from None


def _history_entry(entry: Any, key: str, period: int, v: _Validator) -> Summary:
    if not isinstance(entry, dict):
        raise v.error(key, entry, "a table with period and one table per KPI")
    v.int_(entry, "period", key, period, period)
    summary: Summary = {}
    for kpi, stats in entry.items():
        if kpi == "period":
            continue
        if kpi not in KPIS:
            v.warnings.append(f"{v.source}: unknown key {key}.{kpi} ignored (not a KPI of this version)")
            continue
        if not isinstance(stats, dict):
            raise v.error(f"{key}.{kpi}", stats, f"a table of {', '.join(STATS)}")
        v.unknown(stats, STATS, f"{key}.{kpi}")
        row = {}
        for s in STATS:
            if s not in stats and (kpi in PROBABILITY_KPIS or kpi in OPTIONAL_KPIS):
                row[s] = math.nan  # n/a: not written (see save_session)
                continue
            if s not in stats:
                raise v.missing(f"{key}.{kpi}.{s}", "a finite number")
            row[s] = v.number(stats[s], f"{key}.{kpi}.{s}")
        summary[kpi] = row
    return summary


def _model_refs(data: dict[str, Any], v: _Validator, base: Path, allow_external: bool) -> dict[str, ModelRef]:
    table = v.table(data, "models", "", required=False)
    if table is None:
        return {}
    v.unknown(table, tuple(MODEL_ROLES), "models")
    refs: dict[str, ModelRef] = {}
    for role in MODEL_ROLES:
        t = v.table(table, role, "models", required=False)
        if t is None:
            continue
        prefix = f"models.{role}"
        v.unknown(t, _MODEL_KEYS, prefix)
        rel = v.str_(t, "path", prefix)
        sha = v.str_(t, "sha256", prefix)
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha.lower()):
            raise v.error(f"{prefix}.sha256", sha, "64 hexadecimal digits (the file's SHA-256)")
        kind = v.str_(t, "kind", prefix)
        metrics: dict[str, float] = {}
        mt = v.table(t, "metrics", prefix, required=False) or {}
        for k, x in mt.items():
            metrics[k] = v.number(x, f"{prefix}.metrics.{k}")
        undefined = t.get("undefined_metrics", [])
        if not isinstance(undefined, list) or not all(isinstance(u, str) for u in undefined):
            raise v.error(f"{prefix}.undefined_metrics", undefined, "an array of metric names")
        recipe = v.table(t, "recipe", prefix, required=False)
        if recipe is not None:
            from .errors import DataError
            from .recipe import recipe_from_dict

            try:
                recipe_from_dict(recipe, f"{v.source}: key {prefix}.recipe")
            except DataError as exc:
                raise SessionError(str(exc)) from None
        p = Path(rel)
        file = (base / p).resolve()  # symbolic links followed: containment is judged on the real place
        inside = not p.is_absolute() and not p.drive and file.is_relative_to(base.resolve())
        if not inside and not allow_external:
            where = "" if p.is_absolute() else f" (it resolves to {file})"
            raise SessionError(
                f"{v.source}: key {prefix}.path: value {rel!r}{where}: expected a model file inside the "
                f"session's folder {base}; copy the model folder next to the session file, or, to trust "
                "it where it is, pass --allow-external-models to stratsim run or stratsim check"
            )
        refs[role] = ModelRef(role, rel, file, sha.lower(), kind, metrics, tuple(undefined))
    return refs


def _check_model_file(ref: ModelRef, source: str) -> None:
    try:
        digest = fileio.file_sha256(ref.file)
    except OSError as exc:
        raise SessionError(f"{source}: key models.{ref.role}.path: value {ref.path!r}: cannot read model file {ref.file}: {exc.strerror or exc}") from None
    if digest != ref.sha256:
        raise SessionError(
            f"{source}: key models.{ref.role}.sha256: model file {ref.file} has SHA-256 {digest}, "
            f"the session expects {ref.sha256}: the file changed since the session was saved; refusing to load it"
        )


def parse_session(
    data: dict[str, Any], source: str | Path, *, base_dir: str | Path | None = None, allow_external_models: bool = False
) -> SessionData:
    """Validate (and migrate) a parsed session document; reads no file.

    Args:
        data: the document as returned by :func:`stratsim.engine.fileio.read_toml`.
        source: the file name used in messages (and the path recorded in the result).
        base_dir: folder that model paths are relative to (default: the source's folder).
        allow_external_models: accept model paths outside ``base_dir``.

    Raises:
        SessionError: the first problem, naming file, key path, value and expectation.
    """
    from .session_migrate import migrate
    from .simulation import MAX_PATHS

    path = Path(source)
    base = Path(base_dir) if base_dir is not None else path.resolve().parent
    v = _Validator(str(source))
    if not isinstance(data, dict):
        raise SessionError(f"{source}: expected a TOML document")
    version = data.get("schema_version")
    if "schema_version" not in data:
        raise v.missing("schema_version", f"an integer in 1..{SCHEMA_VERSION}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise v.error("schema_version", version, f"an integer in 1..{SCHEMA_VERSION}")
    if version > SCHEMA_VERSION:
        raise SessionError(
            f"{source}: key schema_version: value {version}: this file was written by a newer stratsim "
            f"(this version {__version__} reads schema versions 1..{SCHEMA_VERSION}); upgrade stratsim to open it"
        )
    if version < SCHEMA_VERSION:
        data = migrate(data, version, str(source))
        v.source = f"{source} (schema {version}, migrated to {SCHEMA_VERSION})"
        v.warnings.append(f"{source}: schema version {version} migrated to {SCHEMA_VERSION}; saving writes version {SCHEMA_VERSION}")
        if version < 3:
            v.warnings.append(
                f"{source}: saved with the economic model v1 (stratsim 0.1): replayed with model v2 (price response, "
                "sales capacity, terminal value, recalibrated incidents), so its results differ from the stored history"
            )
    v.unknown(data, _TOP_KEYS, "")

    meta_t = v.table(data, "meta", "")
    assert meta_t is not None
    v.unknown(meta_t, _META_KEYS, "meta")
    meta = SessionMeta(
        name=v.str_(meta_t, "name", "meta"),
        created=v.time(meta_t, "created", "meta"),
        saved=v.time(meta_t, "saved", "meta"),
        app_version=v.str_(meta_t, "app_version", "meta"),
        schema_version=version,
    )

    run = v.table(data, "run", "")
    assert run is not None
    v.unknown(run, _RUN_KEYS, "run")
    seed = v.int_(run, "seed", "run", 0, 2**63 - 1)
    n_paths = v.int_(run, "n_paths", "run", 1, MAX_PATHS)
    dtype = v.str_(run, "dtype", "run", DTYPES)
    device = v.str_(run, "device", "run", _SAVED_DEVICES)
    if dtype == "float64" and device == "mps":
        raise v.error("run.dtype", dtype, "'float32' on the mps device (it has no float64)")
    policy = v.str_(run, "policy", "run", POLICIES)
    period = v.int_(run, "period", "run", 0, 10**6)

    models = _model_refs(data, v, base, allow_external_models)
    scenario = _scenario(data, v)

    decisions_raw = v.get(data, "decisions", "", "an array of [[decisions]] tables")
    if not isinstance(decisions_raw, list):
        raise v.error("decisions", decisions_raw, "an array of [[decisions]] tables")
    history_raw = v.get(data, "history", "", "an array of [[history]] tables")
    if not isinstance(history_raw, list):
        raise v.error("history", history_raw, "an array of [[history]] tables")
    if len(decisions_raw) != period:
        raise v.error("decisions", decisions_raw, f"one table per period simulated (run.period = {period})")
    if len(history_raw) != period:
        raise v.error("history", history_raw, f"one table per period simulated (run.period = {period})")
    decisions = []
    for i, d in enumerate(decisions_raw, start=1):
        key = f"decisions[{i}]"
        if isinstance(d, dict):
            v.int_(d, "period", key, i, i)
        decisions.append(_decision(d, key, v, extra_keys=("period",)))
    history = [_history_entry(h, f"history[{i}]", i, v) for i, h in enumerate(history_raw, start=1)]

    if "next_decision" in run:
        next_decision = _decision(run["next_decision"], "run.next_decision", v)
    else:
        next_decision = decisions[-1] if decisions else _decision(scenario.allocation.model_dump(), "scenario.allocation", v)

    optimizations = data.get("optimizations", [])
    if not isinstance(optimizations, list) or not all(isinstance(o, dict) for o in optimizations):
        raise v.error("optimizations", optimizations, "an array of [[optimizations]] tables")
    return SessionData(
        path=path, meta=meta, scenario=scenario, seed=seed, n_paths=n_paths, dtype=dtype, device=device,
        policy=policy, period=period, decisions=decisions, next_decision=next_decision, history=history,
        models=models, warnings=v.warnings, optimizations=optimizations,
    )  # fmt: skip


def read_session(path: str | Path, *, allow_external_models: bool = False, check_models: bool = True) -> SessionData:
    """Read and validate a session file without building the simulation.

    Args:
        path: the session file.
        allow_external_models: accept model paths that leave the session's folder.
        check_models: verify that each referenced model file exists and has the recorded
            SHA-256 (``stratsim export`` skips it: it needs no model).

    Raises:
        SessionError: unreadable file, not UTF-8, invalid TOML, a newer schema version,
            a missing/ill-typed/out-of-range key, a model file missing or changed.
    """
    p = Path(path)
    data = parse_session(_parse_toml(p), p, allow_external_models=allow_external_models)
    if check_models:
        for ref in data.models.values():
            _check_model_file(ref, str(p))
    return data


def _load_model(ref: ModelRef, source: str) -> Any:
    """Load the trained model of ``ref`` (``DIR/ROLE.pt`` + ``DIR/ROLE.toml``) and check
    that it is the one the session recorded."""
    from . import trained

    key = f"{source}: key models.{ref.role}.path: value {ref.path!r}"
    if ref.file.name != f"{ref.role}.pt":
        raise SessionError(f"{key}: expected a file named {ref.role}.pt (the layout written by `stratsim train --out DIR`)")
    try:
        model = trained.load_model(ref.file.parent, ref.role)
    except StratsimError as exc:
        raise SessionError(f"{key}: {exc}") from None
    loaded_sha = (getattr(model, "metadata", None) or {}).get("weights_sha256")
    if loaded_sha != ref.sha256:
        raise SessionError(f"{key}: the model's metadata records SHA-256 {loaded_sha}, the session expects {ref.sha256}: refusing it")
    return model


def load_session(
    path: str | Path, *, allow_external_models: bool = False, device: str | None = None, threads: int | None = None
) -> LoadedSession:
    """Load a session: validate, migrate, check and load models, rebuild, replay.

    The simulation is rebuilt from the scenario and seed and its decisions are
    re-simulated (:meth:`Simulation.replay`): on the same device and dtype it is
    bit-identical to the one saved, and the next step gives the same numbers as if the
    session had never been saved. Compare the replayed history with the stored one with
    :meth:`LoadedSession.first_difference`.

    Args:
        path: the session file.
        allow_external_models: accept model paths that leave the session's folder.
        device: override the stored device ("cpu", "cuda", "mps", "auto"). By default the
            stored one; if it is not available here, cpu with a warning (numbers may then
            differ slightly from the stored history).
        threads: if not None, :func:`~.device.configure_threads` ``(threads, n_paths)`` is
            applied before the replay (0: the default policy for the session's paths).

    Raises:
        SessionError: any problem in the file or its models (nothing is returned, nothing
            half-built escapes).
    """
    from .device import configure_threads, resolve_device
    from .simulation import Simulation

    p = Path(path)
    data = read_session(p, allow_external_models=allow_external_models)
    warnings = list(data.warnings)
    run_device = device or data.device
    if device is None:
        try:
            resolve_device(run_device)
        except StratsimError:
            warnings.append(f"{p}: the session ran on {data.device}, which is not available here: replaying on cpu (results may differ slightly)")
            run_device = "cpu"
    models = {role: _load_model(ref, str(p)) for role, ref in data.models.items()}
    if threads is not None:
        configure_threads(threads, data.n_paths)
    try:
        sim = Simulation(
            data.scenario, seed=data.seed, n_paths=data.n_paths, dtype=data.dtype, device=run_device,
            policy=data.policy, satisfaction_model=models.get("satisfaction"), incident_model=models.get("privacy"),
        )  # fmt: skip
        sim.replay(data.decisions)
    except SessionError:
        raise
    except (StratsimError, RuntimeError, ValueError, OverflowError) as exc:  # torch errors are RuntimeErrors
        raise SessionError(f"{p}: cannot rebuild the session: {exc}") from None
    sim.decision = data.next_decision
    sim.optimizations = list(data.optimizations)
    diff = compare_histories(data.history, sim.history)
    if diff is not None:
        warnings.append(f"{p}: the replay differs from the stored history at {diff}; the simulation continues from the replay")
    return LoadedSession(
        path=p, simulation=sim, meta=data.meta, stored_history=data.history,
        replayed_history=list(sim.history), warnings=warnings, data=data,
    )  # fmt: skip


# ============================================================================= export


def decisions_frame(decisions: list[Decision], first_period: int = 1) -> pd.DataFrame:
    """Decisions as a flat table: ``period, budget, privacy_share, c_share, c_price,
    b_seat_price, c_split_product, ..., b_split_acquisition`` (one row per period)."""
    import pandas as pd

    scalars = [k for k in DECISION_KEYS if not k.endswith("split")]
    columns = ["period", *scalars, *(f"{s}_{k}" for s in ("c_split", "b_split") for k in SPLIT_KEYS)]
    rows = []
    for i, d in enumerate(decisions):
        row: dict[str, Any] = {"period": first_period + i}
        row.update({k: float(getattr(d, k)) for k in scalars})
        for s in ("c_split", "b_split"):
            row.update({f"{s}_{k}": float(getattr(d, s)[k]) for k in SPLIT_KEYS})
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
