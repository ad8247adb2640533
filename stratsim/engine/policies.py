"""Allocation policies: map what the operator observed to the next period's decision.

* ``fixed``: the scenario's ``[allocation]`` every period.
* ``manual``: the operator's allocation, held until changed.
* ``feedback``: the seed's "dynamic adjustment from market feedback": estimate each
  segment's marginal return (change in segment MRR per unit of segment spend) over the
  last ``window`` periods and move ``c_share`` towards the better one by at most
  ``max_step`` per period, within ``[min_share, max_share]``.

A policy is deterministic given the history, so replaying the stored decisions and
re-running the policy agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from .decisions import Decision
from .errors import StratsimError
from .kpi import Summary

#: Every policy, in the order the TUI cycles through them.
POLICIES = ("manual", "fixed", "feedback", "optimize")
#: Policies that run without an operator (``stratsim run --policy``): all but ``manual``.
UNATTENDED_POLICIES = tuple(name for name in POLICIES if name != "manual")
#: Policies every point of a sweep can follow inside one batched simulation (``optimize``
#: re-optimizes from one simulation's state, so a batch of points cannot share it).
BATCH_POLICIES = ("fixed", "feedback")


class Policy(Protocol):
    name: str

    def decide(self, last: Decision, decisions: list[Decision], history: list[Summary]) -> Decision:
        """Next decision from the last one, all decisions so far and the KPI history."""
        ...


@dataclass
class FixedPolicy:
    allocation: Decision
    name: str = "fixed"

    def decide(self, last, decisions, history) -> Decision:
        return self.allocation


@dataclass
class ManualPolicy:
    """Holds ``last``: the operator changes it through ``Simulation.set_decision``."""

    name: str = "manual"

    def decide(self, last, decisions, history) -> Decision:
        return last


@dataclass
class FeedbackPolicy:
    """Marginal-return rebalancing of ``c_share``.

    ``ret_x = (MRR_x[t] - MRR_x[t-window]) / sum(spend_x over the window)`` for x in C, B;
    ``c_share += max_step * tanh(3 * (ret_c - ret_b) / (|ret_c| + |ret_b|))``, clipped
    to ``[min_share, max_share]``. Needs ``window + 1`` periods of history; holds before.
    Defaults (window 3, step 0.05) are calibration choices: a quarter of evidence, and
    at most 5 points a month so the mix cannot swing faster than teams can be moved.
    """

    window: int = 3
    max_step: float = 0.05
    min_share: float = 0.1
    max_share: float = 0.9
    name: str = "feedback"

    def decide(self, last, decisions, history) -> Decision:
        w = self.window
        if len(history) <= w or len(decisions) < w:
            return last
        rets = []
        for seg, share in (("c", lambda d: d.c_share), ("b", lambda d: 1.0 - d.c_share)):
            gain = history[-1][f"mrr_{seg}"]["mean"] - history[-1 - w][f"mrr_{seg}"]["mean"]
            spend = sum(d.budget * (1.0 - d.privacy_share) * share(d) for d in decisions[-w:])
            rets.append(gain / spend if spend > 0 else 0.0)
        ret_c, ret_b = rets
        denom = abs(ret_c) + abs(ret_b)
        if denom == 0:
            return last
        move = self.max_step * math.tanh(3.0 * (ret_c - ret_b) / denom)
        new_share = min(self.max_share, max(self.min_share, last.c_share + move))
        return last.with_changes(c_share=new_share)


@dataclass
class OptimizePolicy:
    """Receding-horizon optimization (module doc). ``sim`` is the simulation it reads the
    current state from (bound by :func:`make_policy`); unbound, it holds ``last``.

    Deterministic given the history: the shocks it optimizes on come from a stream derived
    from the run's seed and the period, so replaying the stored decisions agrees.
    """

    sim: Any = None
    every: int = 3
    lookahead: int = 12
    paths: int = 256
    iterations: int = 12
    name: str = "optimize"
    _cache: dict[int, tuple[Decision | None, Decision]] = field(default_factory=dict, repr=False)

    def decide(self, last, decisions, history) -> Decision:
        sim = self.sim
        period = len(decisions)
        if sim is None or sim.period != period:
            return last
        # Re-optimize every `every` periods; between, hold the last optimum (if it was
        # found on this history: an undo and a different decision invalidate it).
        prev = decisions[-1] if decisions else None
        for k in sorted(self._cache, reverse=True):
            if period - self.every < k <= period and (period % self.every or k == period):
                seen, decision = self._cache[k]
                if k == 0 or (len(decisions) >= k and decisions[k - 1] == seen):
                    return decision
        from .analysis.optimize import LeverSpace, Optimizer, start_from_simulation

        start = start_from_simulation(sim, paths=self.paths, steps=self.lookahead, tag="policy")
        space = LeverSpace.build(last, LEVER_NAMES, start.steps)
        found = Optimizer(start, space).run("gradient", self.iterations)
        self._cache = {k: v for k, v in self._cache.items() if k < period}
        self._cache[period] = (prev, space.decisions(found.theta)[0])
        return self._cache[period][1]


LEVER_NAMES = (
    "budget",
    "privacy_share",
    "c_share",
    "c_split",
    "b_split",
    "c_price",
    "b_seat_price",
)


def make_policy(name: str, allocation: Decision, sim: Any = None) -> Policy:
    """Policy by name (:data:`POLICIES`); ``sim`` is the simulation an ``optimize``
    policy reads its current state from.

    Raises:
        StratsimError: unknown name.
    """
    if name == "fixed":
        return FixedPolicy(allocation)
    if name == "manual":
        return ManualPolicy()
    if name == "feedback":
        return FeedbackPolicy()
    if name == "optimize":
        return OptimizePolicy(sim)
    raise StratsimError(f"policy {name!r}: expected one of {', '.join(POLICIES)}")
