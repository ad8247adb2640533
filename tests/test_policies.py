"""Policies: fixed uses the scenario allocation, manual holds, feedback moves c_share
towards the segment with the better marginal return, bounded per step and overall."""

from __future__ import annotations

import math

import pytest

from stratsim.engine.decisions import Decision, decision_from_allocation
from stratsim.engine.errors import StratsimError
from stratsim.engine.policies import FeedbackPolicy, make_policy
from stratsim.engine.scenario import Scenario, scenario_from_dict
from stratsim.engine.simulation import Simulation


def history(mrr_c: list[float], mrr_b: list[float]) -> list[dict]:
    return [{"mrr_c": {"mean": c}, "mrr_b": {"mean": b}} for c, b in zip(mrr_c, mrr_b, strict=True)]


def returns(
    policy: FeedbackPolicy, decisions: list[Decision], hist: list[dict]
) -> tuple[float, float]:
    """Marginal return per segment over the window, computed independently."""
    w = policy.window
    spend_c = sum(d.budget * (1 - d.privacy_share) * d.c_share for d in decisions[-w:])
    spend_b = sum(d.budget * (1 - d.privacy_share) * (1 - d.c_share) for d in decisions[-w:])
    ret_c = (hist[-1]["mrr_c"]["mean"] - hist[-1 - w]["mrr_c"]["mean"]) / spend_c
    ret_b = (hist[-1]["mrr_b"]["mean"] - hist[-1 - w]["mrr_b"]["mean"]) / spend_b
    return ret_c, ret_b


@pytest.mark.parametrize(
    ("mrr_c", "mrr_b", "direction"),
    [
        ([0, 10_000, 20_000, 30_000], [0, 100, 200, 300], +1),  # To C far better
        ([0, 100, 200, 300], [0, 10_000, 20_000, 30_000], -1),  # To B far better
        ([0, 1000, 2000, 3100], [0, 1000, 2000, 3000], +1),  # slightly better C: small step
    ],
)
def test_feedback_moves_towards_the_better_segment_by_at_most_max_step(mrr_c, mrr_b, direction):
    policy = FeedbackPolicy()
    decisions = [Decision()] * 3
    new = policy.decide(Decision(), decisions, history(mrr_c, mrr_b))
    move = new.c_share - 0.5
    assert math.copysign(1, move) == direction
    assert 0 < abs(move) <= policy.max_step + 1e-15
    ret_c, ret_b = returns(policy, decisions, history(mrr_c, mrr_b))
    assert move == pytest.approx(
        policy.max_step * math.tanh(3 * (ret_c - ret_b) / (abs(ret_c) + abs(ret_b)))
    )
    # Only c_share moves.
    assert new.with_changes(c_share=0.5) == Decision()


def test_feedback_saturates_at_max_step_and_stays_within_bounds():
    """One segment with zero return: the tanh is saturated (tanh(3) of max_step)."""
    policy = FeedbackPolicy()
    strong_c = history([0, 1e6, 2e6, 3e6], [0, 0, 0, 0])
    assert policy.decide(Decision(), [Decision()] * 3, strong_c).c_share == pytest.approx(
        0.5 + policy.max_step * math.tanh(3.0)
    )
    near_top = Decision().with_changes(c_share=0.88)
    assert policy.decide(near_top, [near_top] * 3, strong_c).c_share == policy.max_share
    strong_b = history([0, 0, 0, 0], [0, 1e6, 2e6, 3e6])
    near_bottom = Decision().with_changes(c_share=0.12)
    assert policy.decide(near_bottom, [near_bottom] * 3, strong_b).c_share == policy.min_share


def test_feedback_holds_without_enough_history_or_signal():
    policy = FeedbackPolicy()
    d = Decision().with_changes(c_share=0.3)
    assert policy.decide(d, [d] * 2, history([0, 5, 9], [0, 1, 2])) is d
    assert policy.decide(d, [d] * 3, history([5, 5, 5, 5], [7, 7, 7, 7])) is d


def test_feedback_in_a_simulation_moves_in_bounded_steps_towards_the_better_return():
    sim = Simulation(seed=3, n_paths=200, device="cpu", policy="feedback")
    sim.run(15)
    shares = [d.c_share for d in sim.decisions]
    policy = FeedbackPolicy()
    assert shares[:4] == [0.5] * 4  # holds until window + 1 periods of history
    moved = 0
    for t in range(1, len(shares)):
        delta = shares[t] - shares[t - 1]
        assert abs(delta) <= policy.max_step + 1e-12
        assert policy.min_share <= shares[t] <= policy.max_share
        if t >= 4 and delta != 0:
            moved += 1
            ret_c, ret_b = returns(policy, sim.decisions[:t], sim.history[:t])
            assert math.copysign(1, delta) == math.copysign(1, ret_c - ret_b), t
    assert moved >= 5


def test_fixed_uses_the_scenario_allocation_every_period():
    d = Scenario().to_dict()
    d["allocation"]["c_share"] = 0.7
    d["allocation"]["budget"] = 123_000.0
    scn = scenario_from_dict(d)
    sim = Simulation(scn, seed=1, n_paths=20, device="cpu", policy="fixed")
    sim.run(3)
    expected = decision_from_allocation(scn.allocation)
    assert sim.decisions == [expected] * 3
    assert expected.c_share == 0.7 and expected.budget == 123_000.0
    # Switching back to fixed after a manual change returns to the allocation.
    sim.set_decision(expected.with_changes(c_share=0.2))
    sim.step()
    sim.set_policy("fixed")
    sim.step()
    assert [x.c_share for x in sim.decisions] == [0.7, 0.7, 0.7, 0.2, 0.7]


def test_manual_holds_the_operators_decision_until_changed():
    sim = Simulation(seed=1, n_paths=20, device="cpu", policy="fixed")
    mine = Decision().with_changes(c_share=0.35, c_price=15.0)
    sim.set_decision(mine)
    assert sim.policy_name == "manual"
    sim.run(3)
    assert sim.decisions == [mine] * 3
    other = mine.with_changes(budget=1000.0)
    sim.set_decision(other)
    sim.run(2)
    assert sim.decisions[3:] == [other, other]


def test_unknown_policy_is_refused():
    with pytest.raises(
        StratsimError, match="policy 'greedy': expected one of manual, fixed, feedback"
    ):
        make_policy("greedy", Decision())
    with pytest.raises(StratsimError, match="greedy"):
        Simulation(n_paths=2, device="cpu", policy="greedy")
