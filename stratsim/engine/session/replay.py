"""Rebuilding a session: load its models, replay its decisions, compare the histories."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SessionError, StratsimError
from ..kpi import STATS, Summary
from .schema import DEFAULT_REL_TOL, ModelRef, SessionData, SessionMeta
from .store import read_session

if TYPE_CHECKING:
    from ..simulation import Simulation


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


def compare_histories(
    stored: list[Summary], replayed: list[Summary], rel_tol: float = DEFAULT_REL_TOL
) -> Difference | None:
    """First difference between two histories (periods 1-based), or None.

    A KPI present on one side only, or a different number of periods, is a difference.
    Values agree when equal or ``abs(a - b) <= rel_tol * max(abs(a), abs(b))``.
    """
    for i in range(max(len(stored), len(replayed))):
        if i >= len(stored) or i >= len(replayed):
            which = stored if i < len(stored) else replayed
            kpi = next(iter(which[i]), "(all)")
            return Difference(
                i + 1,
                kpi,
                "mean",
                None if i >= len(stored) else which[i][kpi]["mean"],
                None if i >= len(replayed) else which[i][kpi]["mean"],
            )
        s, r = stored[i], replayed[i]
        for kpi in [*r, *(k for k in s if k not in r)]:
            if kpi not in s or kpi not in r:
                return Difference(
                    i + 1,
                    kpi,
                    "mean",
                    s[kpi]["mean"] if kpi in s else None,
                    r[kpi]["mean"] if kpi in r else None,
                )
            for stat in STATS:
                a, b = s[kpi][stat], r[kpi][stat]
                if math.isnan(a) and math.isnan(b):
                    continue
                if a != b and not math.isclose(a, b, rel_tol=rel_tol, abs_tol=0.0):
                    return Difference(i + 1, kpi, stat, a, b)
    return None


def _load_model(ref: ModelRef, source: str) -> Any:
    """Load the trained model of ``ref`` (``DIR/ROLE.pt`` + ``DIR/ROLE.toml``) and check
    that it is the one the session recorded."""
    from .. import trained

    key = f"{source}: key {ref.table_key}.path: value {ref.path!r}"
    if ref.file.name != f"{ref.role}.pt":
        raise SessionError(
            f"{key}: expected a file named {ref.role}.pt (the layout of a model folder: ROLE.pt beside ROLE.toml, as training writes it)"
        )
    try:
        model = trained.load_model(ref.file.parent, ref.role)
    except StratsimError as exc:
        raise SessionError(f"{key}: {exc}") from None
    loaded_sha = (getattr(model, "metadata", None) or {}).get("weights_sha256")
    if loaded_sha != ref.sha256:
        raise SessionError(
            f"{key}: the model's metadata records SHA-256 {loaded_sha}, the session expects {ref.sha256}: refusing it"
        )
    return model


def load_session(
    path: str | Path,
    *,
    allow_external_models: bool = False,
    device: str | None = None,
    threads: int | None = None,
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
    from ..device import configure_threads, resolve_device

    p = Path(path)
    data = read_session(p, allow_external_models=allow_external_models)
    warnings = list(data.warnings)
    run_device = device or data.device
    if device is None:
        try:
            resolve_device(run_device)
        except StratsimError:
            warnings.append(
                f"{p}: the session ran on {data.device}, which is not available here: replaying on cpu (results may differ slightly)"
            )
            run_device = "cpu"
    models = {role: _load_model(ref, str(p)) for role, ref in data.models.items()}
    switches = [(ref, _load_model(ref, str(p))) for ref in data.switches]
    if threads is not None:
        configure_threads(threads, data.n_paths)
    sim = _rebuild(data, run_device, models, switches, p)
    sim.decision = data.next_decision
    sim.optimizations = list(data.optimizations)
    sim.branches = {b.name: b for b in data.branches}
    diff = compare_histories(data.history, sim.history)
    if diff is not None:
        warnings.append(
            f"{p}: the replay differs from the stored history at {diff}; the simulation continues from the replay"
        )
    return LoadedSession(
        path=p, simulation=sim, meta=data.meta, stored_history=data.history,
        replayed_history=list(sim.history), warnings=warnings, data=data,
    )  # fmt: skip


def _rebuild(
    data: SessionData,
    device: str,
    models: dict[str, Any],
    switches: list[tuple[ModelRef, Any]],
    p: Path,
) -> Simulation:
    """The simulation of ``data`` with its models and model switches, replayed."""
    from ..simulation import ModelSwitch, Simulation

    try:
        sim = Simulation(
            data.scenario, seed=data.seed, n_paths=data.n_paths, dtype=data.dtype, device=device,
            policy=data.policy, satisfaction_model=models.get("satisfaction"), privacy_model=models.get("privacy"),
        )  # fmt: skip
        sim.model_switches = [ModelSwitch(ref.role, ref.period, model) for ref, model in switches]
        sim.replay(data.decisions)
    except SessionError:
        raise
    except (
        StratsimError,
        RuntimeError,
        ValueError,
        OverflowError,
    ) as exc:  # torch errors are RuntimeErrors
        raise SessionError(f"{p}: cannot rebuild the session: {exc}") from None
    return sim
