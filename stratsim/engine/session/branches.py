"""Kept branches: a run's decisions, policy and draft, saved in the session and compared
at the same period as the current run.

A branch holds what determines its run (decisions, policy, the allocation held for the
next period, the draft being edited): its KPI history is re-simulated from them, with
the current run's scenario, seed, paths and models (:func:`branch_history`), so the
two sides of a comparison share their random draws (common random numbers) and differ
only by the strategy.

Session file (schema 4): one ``[[branches]]`` table per branch::

    [[branches]]
    name = "p2-fixed"       # non-empty, unique
    period = 2              # months simulated when kept (= number of decisions)
    policy = "fixed"        # manual | fixed | feedback | optimize
    next_decision = {...}   # Decision.to_dict(): the allocation held for the next period
    draft = {...}           # optional: the allocation being edited when kept
    [[branches.decisions]]  # one per period: period (1-based) + Decision.to_dict()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..decisions import Decision
from ..errors import SessionError
from ..kpi import Summary
from ..policies import POLICIES
from ..scenario import _format_errors

if TYPE_CHECKING:
    from ..simulation import Simulation
    from .validate import _Validator


@dataclass(frozen=True)
class BranchRecord:
    """A kept run.

    Attributes:
        name: the operator's name for it.
        period: months simulated when kept (``len(decisions)``).
        policy: the policy then (:data:`~stratsim.engine.policies.POLICIES`).
        decisions: one per period simulated.
        decision: the allocation held for the next period (the manual policy's).
        draft: the allocation being edited when kept (not applied), or None.
        history: the KPI summaries up to ``period`` when kept in this process (not
            saved: :func:`branch_history` re-simulates it).
    """

    name: str
    period: int
    policy: str
    decisions: tuple[Decision, ...]
    decision: Decision
    draft: Decision | None = None
    history: tuple[Summary, ...] = ()

    @classmethod
    def of(cls, name: str, sim: Simulation, draft: Decision | None = None) -> BranchRecord:
        """Keep ``sim`` (its decisions, policy, held allocation, history) as ``name``."""
        return cls(
            name,
            sim.period,
            sim.policy_name,
            tuple(sim.decisions),
            sim.decision,
            draft,
            tuple(sim.history),
        )

    def summary_at(self, period: int) -> Summary | None:
        """The kept KPI summary at ``period`` (1-based), or None when not kept."""
        return self.history[period - 1] if 1 <= period <= len(self.history) else None

    def to_dict(self) -> dict[str, Any]:
        """The ``[[branches]]`` table (see the module docstring)."""
        out: dict[str, Any] = {
            "name": self.name,
            "period": self.period,
            "policy": self.policy,
            "next_decision": self.decision.to_dict(),
        }
        if self.draft is not None:
            out["draft"] = self.draft.to_dict()
        out["decisions"] = [
            {"period": i, **d.to_dict()} for i, d in enumerate(self.decisions, start=1)
        ]
        return out


class _BranchEntry(BaseModel):
    """Shape of one ``[[branches]]`` table (the decisions are checked one by one after)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1)
    period: int = Field(ge=0, le=10**6)
    policy: Literal[POLICIES]  # type: ignore[valid-type]
    next_decision: dict[str, Any]
    draft: dict[str, Any] | None = None
    decisions: list[dict[str, Any]]


def parse_branches(data: dict[str, Any], v: _Validator) -> list[BranchRecord]:
    """Validate ``[[branches]]`` of a session document (absent: none).

    Raises:
        SessionError: ``FILE: key branches[i].KEY: value V: expectation`` (i from 1).
    """
    from .validate import _decision

    raw = data.get("branches", [])
    if not isinstance(raw, list):
        raise v.error("branches", raw, "an array of [[branches]] tables")
    out: list[BranchRecord] = []
    for i, table in enumerate(raw, start=1):
        key = f"branches[{i}]"
        if not isinstance(table, dict):
            raise v.error(key, table, "a table with name, period, policy, next_decision, decisions")
        try:
            entry = _BranchEntry.model_validate(table)
        except ValidationError as exc:
            raise SessionError(
                _format_errors(exc, v.source).replace(
                    f"{v.source}: key ", f"{v.source}: key {key}."
                )
            ) from None
        if any(b.name == entry.name for b in out):
            raise v.error(f"{key}.name", entry.name, "a name no other branch has")
        if len(entry.decisions) != entry.period:
            raise v.error(
                f"{key}.decisions",
                entry.decisions,
                f"one table per period (period = {entry.period})",
            )
        decisions = []
        for j, d in enumerate(entry.decisions, start=1):
            dkey = f"{key}.decisions[{j}]"
            v.int_(d, "period", dkey, j, j)
            decisions.append(_decision(d, dkey, v, extra_keys=("period",)))
        decision = _decision(entry.next_decision, f"{key}.next_decision", v)
        draft = _decision(entry.draft, f"{key}.draft", v) if entry.draft is not None else None
        out.append(
            BranchRecord(entry.name, entry.period, entry.policy, tuple(decisions), decision, draft)
        )
    return out


def branch_history(
    sim: Simulation, branch: BranchRecord, period: int, should_stop: Any = None
) -> list[Summary]:
    """The KPI history of ``branch`` up to ``max(period, branch.period)``: its decisions
    re-simulated, then stepped on with its own policy from its held allocation.

    A new simulation with ``sim``'s scenario, seed, paths, dtype, device and models (the
    base models and the switches) runs it: ``sim`` is only read, so this can run in a
    worker while ``sim`` stays with its owner (read what it needs on the owner's thread
    first if ``sim`` may be stepped meanwhile). Cost: one replay of ``period`` months.

    Args:
        sim: the current run.
        branch: the branch.
        period: the period to reach (1-based); periods beyond the branch are stepped.
        should_stop: optional ``() -> bool`` checked before each period (cancellation).

    Returns:
        one Summary per period, ``max(period, branch.period)`` of them (fewer if stopped).
    """
    from ..policies import make_policy
    from ..simulation import Simulation

    copy = Simulation(
        sim.scenario, seed=sim.seed, n_paths=sim.n_paths, dtype=sim.dtype_name, device=str(sim.device),
        policy="fixed", satisfaction_model=sim.base_models["satisfaction"], privacy_model=sim.base_models["privacy"],
    )  # fmt: skip
    copy.model_switches = list(sim.model_switches)
    for d in branch.decisions:
        if should_stop is not None and should_stop():
            return list(copy.history)
        copy.step(d)
    copy.decision = branch.decision
    copy.policy = make_policy(branch.policy, copy.allocation, copy)
    copy.run(max(0, period - copy.period), should_stop=should_stop)
    return list(copy.history)
