"""Named branches: snapshots of a run kept in memory to compare against.

A branch copies the decisions and the KPI history of the simulation at the moment it
is kept; restoring one replays its decisions (``Simulation.replay``), so the run is
re-simulated exactly, not patched.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Branch:
    """A kept run: ``decisions`` and ``history`` (per-period summaries) up to ``period``."""

    name: str
    period: int
    policy: str
    decisions: tuple
    history: tuple

    @classmethod
    def of(cls, name: str, sim) -> Branch:
        """Snapshot ``sim`` (a Simulation) as ``name``."""
        return cls(name, sim.period, sim.policy_name, tuple(sim.decisions), tuple(sim.history))

    def summary_at(self, period: int) -> dict | None:
        """The KPI summary at ``period`` (1-based), or the last one if the branch is shorter."""
        if not self.history:
            return None
        return self.history[min(period, len(self.history)) - 1] if period >= 1 else None
